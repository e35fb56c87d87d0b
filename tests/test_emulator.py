"""`make local` runs the baked extension under the rendered repo's Lambda emulator
(tools/emulator): it works in every combination, its JSON summary says what happened,
fault modes behave as documented, and a broken rule fails the run."""

import json
import os
import pty
import re
import shutil
import subprocess

import pytest

from conftest import AXES, BASE_ANSWERS, COMBINATION_PARAMS, go_env, project_of, require_tool, run

EXTENSION = BASE_ANSWERS["extension_name"]
PREFIX = EXTENSION.upper().replace("-", "_") + "_"


@pytest.fixture
def project(baked, options):
    require_tool("go")
    require_tool("make")
    return project_of(baked(**options))


def summary_of(proc):
    """The emulator's one-line JSON summary among make's output."""
    lines = [line for line in proc.stdout.splitlines() if line.startswith('{"extension"')]
    assert len(lines) == 1, "no single JSON summary in:\n" + proc.stdout
    return json.loads(lines[0])


def extension_logs(proc):
    """The extension's JSON log lines (with -logs raw the emulator passes them on to
    stderr as written)."""
    logs = []
    for line in proc.stderr.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and "msg" in entry:
            logs.append(entry)
    return logs


@pytest.mark.parametrize("options", COMBINATION_PARAMS)
def test_make_local_runs_a_clean_lifecycle(project, options):
    proc = run(["make", "local", "EMULATOR_FLAGS=-json -logs raw -invokes 4 -spacing 10ms"], cwd=project)

    summary = summary_of(proc)
    assert summary["extension"] == EXTENSION
    assert summary["registered"] and summary["registered_name"] == EXTENSION
    assert summary["events"] == ["INVOKE", "SHUTDOWN"]
    assert "accountId" in summary["accept_feature"]
    assert summary["ok"] and summary["violations"] == []
    assert summary["outcome"] == "clean" and summary["exit_code"] == 0
    assert len(summary["invokes"]) == 4
    assert all(invoke["back_in_next"] for invoke in summary["invokes"])
    assert len({invoke["request_id"] for invoke in summary["invokes"]}) == 4
    assert summary["shutdown"]["reason"] == "spindown" and summary["shutdown"]["before_deadline"]
    # Built for this machine, where make local said it would put it.
    assert (project / "build" / "local" / "extensions" / EXTENSION).is_file()
    # The human timeline goes to stderr with -json; the extension's logs too.
    assert "== summary" in proc.stderr
    # Only the extension package's own lines: the processor is the user's to change.
    logs = extension_logs(proc)
    messages = [entry["msg"] for entry in logs]
    for msg in ("registered", "initialised", "shutdown complete"):
        assert messages.count(msg) == 1, (msg, messages)
    [records] = [e for e in logs if e["msg"] == "records"]
    counts = [records[k] for k in ("offered", "flushed", "failed", "dropped", "unflushed")]
    assert all(isinstance(n, int) and n >= 0 for n in counts), records
    assert counts[0] == sum(counts[1:]), records
    # Every invocation is counted (telemetry records may add to an async queue's).
    assert counts[0] >= 4 if options["processing"] == "async" else counts[0] == 4, records


@pytest.mark.parametrize("options", COMBINATION_PARAMS[:1])
def test_make_local_prints_a_human_timeline_by_default(project):
    proc = run(["make", "local"], cwd=project)

    for what in ("registered", "init done", "INVOKE", "back in next", "SHUTDOWN", "exit"):
        assert what in proc.stdout, "%r missing from the timeline:\n%s" % (what, proc.stdout)
    assert "outcome         clean" in proc.stdout
    assert "violations      none" in proc.stdout


READABLE = re.compile(r"^ *\+[0-9.]+(µs|ms|s)  (DEBUG|INFO |WARN |ERROR) (\S.*)$")


@pytest.mark.parametrize("options", COMBINATION_PARAMS[:1])
def test_make_local_shows_the_extensions_json_lines_readably(project):
    proc = run(["make", "local"], cwd=project)

    # Every JSON line of the extension is shown as "+offset LEVEL msg key=value...".
    assert not [line for line in proc.stderr.splitlines() if line.startswith("{")], proc.stderr
    readable = [m.group(3) for m in map(READABLE.match, proc.stderr.splitlines()) if m]
    messages = [text.split(" ")[0] for text in readable]
    for msg in ("registered", "initialised", "records"):
        assert msg in messages, (msg, proc.stderr)
    [registered] = [text for text in readable if text.startswith("registered ")]
    assert "name=%s" % EXTENSION in registered.split(), registered
    [records] = [text for text in readable if text.startswith("records ")]
    assert re.search(r"\boffered=\d+ flushed=\d+ failed=0 dropped=0 unflushed=0\b", records), records
    # The picture of the run is written beside the binary.
    assert "== timeline picture: %s" % (project / "build" / "local" / "timeline.svg") in proc.stdout


def run_on_a_terminal(args, cwd, timeout=300):
    """Run a command with stdout and stderr on one pseudo-terminal; return its output."""
    master, replica = pty.openpty()
    try:
        proc = subprocess.Popen(args, cwd=str(cwd), env=go_env(), stdin=subprocess.DEVNULL, stdout=replica, stderr=replica)
    finally:
        os.close(replica)
    chunks = []
    try:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every writer closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
    assert proc.wait(timeout=timeout) == 0, b"".join(chunks).decode(errors="replace")
    return b"".join(chunks).decode(errors="replace").replace("\r\n", "\n")


@pytest.mark.parametrize("options", COMBINATION_PARAMS[:1])
def test_make_local_prints_the_timeline_as_it_happens_on_a_terminal(project):
    # The emulator records "registered" before it answers the register call, and the
    # extension logs its "records" line only at exit: on a terminal the timeline entry
    # comes first; in a pipe the whole timeline comes at the end, after the logs.
    live = run_on_a_terminal(["make", "local"], cwd=project)
    piped = run(["make", "local"], cwd=project)

    def order(output):
        lines = output.splitlines()
        entry = next(i for i, l in enumerate(lines) if re.match(r"^ *[0-9.]+(µs|ms|s)  registered  ", l))
        records = next(i for i, l in enumerate(lines) if READABLE.match(l) and " records offered=" in l)
        return entry, records

    entry, records = order(live)
    assert entry < records, live
    assert "== summary" in live and "outcome         clean" in live
    entry, records = order(piped.stderr + piped.stdout)  # stderr came first: it was live
    assert "registered  " not in piped.stderr
    assert records < entry


# Fault behaviour depends on the processing variant only: one combination per variant,
# every other axis at its first value.
ONE_PER_VARIANT = [
    p
    for p in COMBINATION_PARAMS
    if all(p.values[0][axis] == values[0] for axis, values in AXES.items() if axis != "processing")
]


@pytest.mark.parametrize("options", ONE_PER_VARIANT)
@pytest.mark.parametrize(
    "fault, outcome, exit_code, report",
    [
        ("next-500", "exit-error", 1, "Extension.RuntimeError"),
        ("malformed-event", "exit-error", 1, "Extension.MalformedEvent"),
        ("register-403", "crash", 1, None),
        ("unknown-shutdown-reason", "clean", 0, None),
    ],
)
def test_make_local_fault_modes(project, fault, outcome, exit_code, report):
    # A fault run passes (make exits 0) when the extension breaks no rule.
    proc = run(["make", "local", "EMULATOR_FLAGS=-json -fault " + fault], cwd=project)

    summary = summary_of(proc)
    assert summary["fault"] == fault
    assert summary["ok"], summary["violations"]
    assert summary["outcome"] == outcome and summary["exit_code"] == exit_code
    assert [r["type"] for r in summary["error_reports"]] == ([report] if report else [])
    if exit_code:
        assert 0 <= summary["exit_after_fault_ms"] < 2000


@pytest.mark.parametrize("options", COMBINATION_PARAMS[:1])
def test_a_renamed_binary_registers_under_its_new_file_name(project, tmp_path):
    # Lambda requires Lambda-Extension-Name to be the file name in /opt/extensions; the
    # extension takes it from argv[0], so renaming the file keeps the rule (the
    # emulator's own tests cover a binary that breaks it).
    run(["make", "local"], cwd=project)
    renamed = tmp_path / "renamed-extension"
    shutil.copy2(project / "build" / "local" / "extensions" / EXTENSION, renamed)

    proc = run(["go", "-C", "tools", "run", "./emulator", "-json", str(renamed)], cwd=project, env=go_env())

    summary = summary_of(proc)
    assert summary["ok"] and summary["registered_name"] == "renamed-extension"


@pytest.mark.parametrize("options", COMBINATION_PARAMS[:1])
def test_make_local_fails_when_a_deadline_is_missed(project):
    # No extension is in /event/next 1ns after it starts: the emulator reports the
    # init timeout, kills it and make local fails.
    proc = run(["make", "local", "EMULATOR_FLAGS=-json -init-timeout 1ns"], cwd=project, check=False)

    assert proc.returncode != 0, proc.stdout + proc.stderr
    summary = summary_of(proc)
    assert not summary["ok"] and summary["outcome"] == "killed"
    assert any("Init timeout" in v for v in summary["violations"]), summary["violations"]


@pytest.mark.parametrize("options", COMBINATION_PARAMS[:1])
def test_emulator_help_exits_zero(project):
    # -h is a question, not a usage error: the usage, then exit status 0 (go run
    # would add "exit status 2" otherwise).
    proc = run(["go", "-C", "tools", "run", "./emulator", "-h"], cwd=project, env=go_env())

    assert "usage: emulator" in proc.stderr and "-fault" in proc.stderr
    assert "exit status" not in proc.stderr
