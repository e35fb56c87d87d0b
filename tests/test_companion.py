"""The companion answer: none (the default), local-api or runtime-proxy. Each kind
bakes only its own files; every combination with processing and telemetry is
formatted, staticcheck-clean and passes make test; a runtime-proxy layer ships the
exec wrapper.

companion is not an axis of conftest.AXES (that would multiply every bake): the
combinations below are this file's own.
"""

import importlib.util
import itertools
import json
import os
import stat
import subprocess
import zipfile

import pytest

from conftest import BASE_ANSWERS, REPO_ROOT, go_env, go_install, project_of, require_tool, run
from test_api import STATICCHECK, STATICCHECK_VERSION, imports
from test_bench import check_summary, is_number
from test_hooks import bake_cli, replay_dir

EXTENSION = BASE_ANSWERS["extension_name"]
PREFIX = EXTENSION.upper().replace("-", "_") + "_"
KINDS = ["local-api", "runtime-proxy"]

COMPANION_COMBINATIONS = [
    {"companion": kind, "processing": processing, "telemetry": telemetry, "architecture": "x86_64"}
    for kind, processing, telemetry in itertools.product(KINDS, ["sync", "async"], [False, True])
]


def combination_id(options):
    return "%s-%s-telemetry=%s" % (options["companion"], options["processing"], json.dumps(options["telemetry"]))


COMPANION_PARAMS = [pytest.param(c, id=combination_id(c)) for c in COMPANION_COMBINATIONS]
# One bake per kind for the checks that do not depend on processing or telemetry.
ONE_PER_KIND = [p for p in COMPANION_PARAMS if p.values[0]["processing"] == "sync" and not p.values[0]["telemetry"]]

# Files only one kind has (relative to the project); the "none" stand-in too.
ONLY = {
    "none": ["extension/companion_none.go", "tools/bench/companion_none.go"],
    "local-api": [
        "extension/companion_localapi.go",
        "extension/internal/localapi/localapi.go",
        "processor/localapi.go",
        "tools/bench/companion_localapi.go",
    ],
    "runtime-proxy": [
        "extension/companion_runtimeproxy.go",
        "extension/internal/runtimeproxy/proxy.go",
        "processor/runtimeproxy.go",
        "scripts/runtime-wrapper",
        "tools/bench/companion_runtimeproxy.go",
        "tools/e2e/runtimeproxy_e2e_test.go",
    ],
}
SHARED = ["extension/companion.go", "extension/internal/loopback/loopback.go", "tools/bench/companion_lambda.go"]


@pytest.fixture(scope="module")
def staticcheck(request, tmp_path_factory):
    return go_install(request, tmp_path_factory, STATICCHECK, STATICCHECK_VERSION, "staticcheck")


def load_pre_gen():
    spec = importlib.util.spec_from_file_location("pre_gen_for_companion", REPO_ROOT / "hooks" / "pre_gen_project.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_answer_defaults_to_none_and_is_checked():
    answers = json.loads((REPO_ROOT / "cookiecutter.json").read_text())
    assert answers["companion"] == ["none", "local-api", "runtime-proxy"]
    assert set(answers["__prompts__"]["companion"]) == {"__prompt__", "none", "local-api", "runtime-proxy"}
    hook = load_pre_gen()
    for kind in answers["companion"]:
        assert hook.problem_with("companion", kind) is None
    line = hook.error_line("companion", hook.problem_with("companion", "sidecar"))
    assert line.startswith("ERROR: companion must be one of none, local-api, runtime-proxy"), line
    assert "\n" not in line


def test_a_replayed_bad_companion_is_refused(tmp_path, cookiecutter_config):
    """A replay file skips cookiecutter's choice check; pre_gen refuses the answer
    with its one line."""
    good = bake_cli(tmp_path / "first", cookiecutter_config, {"project_name": "Replayed"})
    assert good.returncode == 0, good.stdout + good.stderr
    replay = json.loads((replay_dir(cookiecutter_config) / (REPO_ROOT.name + ".json")).read_text())
    assert replay["cookiecutter"]["companion"] == "none"
    replay["cookiecutter"]["companion"] = "sidecar"
    replay_file = tmp_path / "bad.json"
    replay_file.write_text(json.dumps(replay))
    out = tmp_path / "out"
    out.mkdir()

    proc = bake_cli(out, cookiecutter_config, {}, options=("--replay-file", str(replay_file)))

    assert proc.returncode != 0
    assert proc.stderr.startswith("ERROR: companion must be one of none, local-api, runtime-proxy"), proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("kind", ["none"] + KINDS)
def test_each_kind_bakes_only_its_own_files(baked, kind):
    project = project_of(baked(companion=kind, architecture="x86_64"))
    for other, files in ONLY.items():
        for relative in files:
            assert (project / relative).exists() == (other == kind), relative
    for relative in SHARED:
        assert (project / relative).exists() == (kind != "none"), relative
    if kind == "none":
        # The telemetry listener's limits come from the same package.
        with_telemetry = project_of(baked(companion=kind, architecture="x86_64", telemetry=True))
        assert (with_telemetry / "extension/internal/loopback/loopback.go").exists()
    rendered = "\n".join(p.read_text() for p in project.rglob("*.go"))
    assert "{{" + " cookiecutter" not in rendered
    main_go = (project / "cmd" / EXTENSION / "main.go").read_text()
    assert "os.Exit(extension.Run(processor.New))" in main_go
    # The demos, like the processor, use the extension package only.
    module = BASE_ANSWERS["go_module"]
    for path in sorted((project / "processor").glob("*.go")):
        own = {p for p in imports(path.read_text()) if p.startswith(module + "/")}
        assert own <= {module + "/extension"}, "%s imports %s" % (path.name, sorted(own))


@pytest.mark.parametrize("options", COMPANION_PARAMS)
def test_every_companion_combination_is_clean_and_passes_make_test(baked, options, staticcheck):
    require_tool("go")
    require_tool("make")
    require_tool("gcc")
    project = project_of(baked(**options))
    run(["make", "fmt-check"], cwd=project)
    run([staticcheck, "./..."], cwd=project)
    run([staticcheck, "./..."], cwd=project / "tools")
    proc = run(["make", "test", "GO_TEST_FLAGS=-timeout=3m"], cwd=project)
    assert "/extension/internal/loopback" in proc.stdout
    package = {"local-api": "/extension/internal/localapi", "runtime-proxy": "/extension/internal/runtimeproxy"}
    assert package[options["companion"]] in proc.stdout


@pytest.mark.parametrize("options", ONE_PER_KIND)
def test_the_layer_ships_the_wrapper_for_runtime_proxy(baked, options):
    require_tool("go")
    require_tool("make")
    project = project_of(baked(**options))
    run(["make", "layer", "VERSION=v0.0.0-test"], cwd=project)
    zip_path = project / "dist" / ("%s-amd64.zip" % EXTENSION)
    first = zip_path.read_bytes()
    run(["make", "layer", "VERSION=v0.0.0-test"], cwd=project)
    assert zip_path.read_bytes() == first, "the layer zip is not reproducible"
    with zipfile.ZipFile(zip_path) as layer:
        entries = {info.filename: info.external_attr >> 16 for info in layer.infolist()}
        wrapper = EXTENSION + "-wrapper"
        if options["companion"] != "runtime-proxy":
            assert set(entries) == {"extensions/", "extensions/" + EXTENSION}
            return
        assert set(entries) == {"extensions/", "extensions/" + EXTENSION, wrapper}
        assert stat.S_ISREG(entries[wrapper]) and stat.S_IMODE(entries[wrapper]) == 0o755
        script = layer.read(wrapper).decode()
    assert script.startswith("#!/bin/sh\n")
    assert "${%sPROXY_PORT:-4245}" % PREFIX in script
    # The script as the layer ships it: it points the runtime at the proxy, then execs.
    shipped = project / "build" / "wrapper"
    shipped.write_text(script)
    shipped.chmod(0o755)
    for env, want in (({}, "127.0.0.1:4245"), ({PREFIX + "PROXY_PORT": "5123"}, "127.0.0.1:5123")):
        proc = subprocess.run(
            [str(shipped), "sh", "-c", 'echo "$AWS_LAMBDA_RUNTIME_API"'],
            env={"PATH": os.environ["PATH"], "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001", **env},
            capture_output=True, text=True, timeout=30,
        )
        assert proc.returncode == 0 and proc.stdout.strip() == want, proc.stdout + proc.stderr


@pytest.mark.parametrize("options", ONE_PER_KIND)
def test_the_default_ports_match_the_docs(baked, options):
    project = project_of(baked(**options))
    readme = (project / "README.md").read_text()
    if options["companion"] == "local-api":
        source = (project / "extension" / "companion_localapi.go").read_text()
        assert "defaultLocalPort = 4244" in source
        assert PREFIX + "LOCAL_PORT" in readme and "4244" in readme
    else:
        source = (project / "extension" / "companion_runtimeproxy.go").read_text()
        assert "defaultProxyPort = 4245" in source
        assert PREFIX + "PROXY_PORT" in readme and "4245" in readme


@pytest.mark.parametrize("options", ONE_PER_KIND)
def test_make_local_runs_the_runtime_through_the_proxy(baked, options):
    """In a runtime-proxy bake make local plays the function's runtime through the
    proxy: every invocation goes through both ways under its request id, unchanged
    (the demo redacts nothing by default). Other bakes run no runtime."""
    require_tool("go")
    require_tool("make")
    project = project_of(baked(**options))
    proc = run(["make", "local", "EMULATOR_FLAGS=-json -quiet"], cwd=project)
    lines = [line for line in proc.stdout.splitlines() if line.startswith('{"extension"')]
    assert len(lines) == 1, proc.stdout
    summary = json.loads(lines[0])
    assert summary["ok"] and summary["outcome"] == "clean", summary["violations"]
    if options["companion"] != "runtime-proxy":
        assert "runtime_proxy" not in summary
        assert "via proxy" not in proc.stderr
        return
    proxy = summary["runtime_proxy"]
    assert proxy["ready"] and proxy["failures"] == []
    assert proxy["proxied"] == proxy["unchanged"] == len(summary["invokes"]) == 3
    assert [i["request_id"] for i in proxy["invocations"]] == [i["request_id"] for i in summary["invokes"]]
    assert all(i["got_request_id"] == i["request_id"] and i["status"] == 202 for i in proxy["invocations"])
    # The human timeline (on stderr with -json) has each proxied call.
    assert proc.stderr.count("next via proxy") == 3 and proc.stderr.count("response via proxy") == 3


# make bench's companion part, quick: every other part at its smallest.
COMPANION_ROUNDS = 2
COMPANION_BENCH = " ".join(
    [
        "-rounds 1", "-invokes 2", "-init-samples 0", "-work 1ms", "-work-rounds 1", "-work-invokes 1",
        "-telemetry-records 1000", "-delivery=false", "-micro=false",
        "-companion-rounds %d" % COMPANION_ROUNDS, "-companion-requests 100", "-companion-clients 2",
    ]
)
# The companion section's lines, per kind, and the budgets.json keys it is checked against.
COMPANION_LINES = {
    "local-api": ["companion (local API): cache hits", "local API hit p50 (1 client)", "local API hit p99 (1 client)", "bare server p50 (1 client)",
                  "local API hits/s (2 clients)", "local API hit p50 (2 clients)", "extension CPU per hit"],
    "runtime-proxy": ["companion (runtime proxy): one invocation's round trip", "round trip p50", "round trip p99"],
}
COMPANION_BUDGETS = {
    "local-api": {"local_api_hit_p50", "local_api_hits_per_s"},
    "runtime-proxy": {"proxy_added_p50"},
}


@pytest.mark.parametrize("kind", KINDS)
def test_make_bench_measures_the_companion(cookies_session, kind):
    """make bench runs the extension as built and calls its companion: the section is
    there with positive figures, each reported against its budget (met or not: the
    figures depend on the machine and its load)."""
    require_tool("go")
    require_tool("make")
    answers = {**BASE_ANSWERS, "companion": kind, "processing": "sync", "architecture": "x86_64", "telemetry": kind == "local-api"}
    # A bake of its own: make bench writes build/bench, which shared bakes must not see.
    project = project_of(cookies_session.bake(extra_context=answers, template=str(REPO_ROOT)))
    proc = run(["make", "bench", "BENCH_FLAGS=" + COMPANION_BENCH], cwd=project, env=go_env(), timeout=600)
    results = json.loads((project / "build" / "bench" / "results.json").read_text())

    for line in COMPANION_LINES[kind]:
        assert line in proc.stdout, line
    assert "load average (1 min) after each round: " in proc.stdout
    companion = results["companion"]
    assert (companion["kind"], companion["available"]) == (kind, True)
    assert (companion["rounds"], companion["requests"]) == (COMPANION_ROUNDS, 100)
    assert len(companion["load"]) == COMPANION_ROUNDS
    if kind == "local-api":
        figures = companion["local_api"]
        assert "runtime_proxy" not in companion and figures["clients"] == 2
        for key in ("hit_p50_us", "hit_p99_us", "bare_p50_us", "hits_per_s", "loaded_p50_us", "cpu_per_hit_us"):
            check_summary(figures[key], COMPANION_ROUNDS, where=key)
        for p50, p99 in zip(figures["hit_p50_us"]["samples"], figures["hit_p99_us"]["samples"]):
            assert p50 <= p99
    else:
        figures = companion["runtime_proxy"]
        assert "local_api" not in companion
        for key in ("direct_p50_us", "direct_p99_us", "proxied_p50_us", "proxied_p99_us"):
            check_summary(figures[key], COMPANION_ROUNDS, where=key)
        # What the proxy adds may come out either way in a round: only its arithmetic is checked.
        check_summary(figures["added_p50_us"], COMPANION_ROUNDS, positive=False, where="added_p50_us")
        for added, proxied, direct in zip(*(figures[k]["samples"] for k in ("added_p50_us", "proxied_p50_us", "direct_p50_us"))):
            assert added == pytest.approx(proxied - direct)
    checks = {c["figure"]: c for c in results["budgets"]["checks"]}
    for figure in COMPANION_BUDGETS[kind]:
        assert is_number(checks[figure]["value"]) and isinstance(checks[figure]["within"], bool), figure
        assert checks[figure]["key"].startswith("bench."), figure
    others = set().union(*COMPANION_BUDGETS.values()) - COMPANION_BUDGETS[kind]
    assert not others & set(checks)
