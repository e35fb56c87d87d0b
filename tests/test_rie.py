"""Cross-check against AWS's Runtime Interface Emulator (RIE): the baked extension,
placed in /opt/extensions, registers under its own name with the real Lambda runtime
code, sees every INVOKE and the SHUTDOWN, and exits cleanly, in both variants.

RIE is installed with `go install` from the Go module proxy into a temporary GOBIN. It
runs on loopback only, inside a private mount namespace (`unshare --mount`) where a
temporary directory is bind-mounted over /opt, so nothing is left on the machine.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request

import pytest

from conftest import BASE_ANSWERS, go_env, project_of, require_tool, run

EXTENSION = BASE_ANSWERS["extension_name"]
PREFIX = EXTENSION.upper().replace("-", "_") + "_"
RIE_MODULE = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@latest"
INVOKES = 3

# A minimal custom runtime: echo every event back through the Runtime API.
BOOTSTRAP = textwrap.dedent(
    """\
    #!{python}
    import os, urllib.request
    api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
    while True:
        with urllib.request.urlopen(api + "next") as resp:
            request_id = resp.headers["Lambda-Runtime-Aws-Request-Id"]
            event = resp.read()
        print("bootstrap: handled", request_id, flush=True)
        reply = urllib.request.Request(api + request_id + "/response", data=b'{{"echo":' + event + b'}}', method="POST")
        urllib.request.urlopen(reply).read()
    """
)


def unavailable(message):
    """Skip on a developer machine, fail in CI (as require_tool does)."""
    if os.environ.get("CI") == "true":
        pytest.fail(message + "; CI must provide it", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def rie(tmp_path_factory):
    """Path of aws-lambda-rie, installed once per session from the module proxy."""
    require_tool("go")
    gobin = tmp_path_factory.mktemp("rie-bin")
    env = go_env(GOBIN=str(gobin), GOFLAGS="", CGO_ENABLED="0")
    # Baked projects build offline; this one install uses the module proxy.
    if env.get("GOPROXY", "off") == "off":
        env["GOPROXY"] = "https://proxy.golang.org,direct"
    proc = subprocess.run(
        ["go", "install", RIE_MODULE],
        env=env,
        cwd=str(gobin),
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        unavailable("go install %s failed:\n%s" % (RIE_MODULE, proc.stderr[-3000:]))
    return gobin / "aws-lambda-rie"


@pytest.fixture
def namespace_tools():
    require_tool("unshare")
    require_tool("mount")
    if os.geteuid() != 0:
        unavailable("the RIE cross-check needs root for a private mount namespace over /opt")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc, deadline_s=20):
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def json_lines(text):
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                yield json.loads(line)
            except ValueError:
                pass


@pytest.mark.parametrize("processing", ["sync", "async"])
def test_extension_under_aws_rie(baked, rie, namespace_tools, tmp_path, processing):
    project = project_of(baked(processing=processing, architecture="x86_64"))
    opt = tmp_path / "opt"
    (opt / "extensions").mkdir(parents=True)
    binary = opt / "extensions" / EXTENSION
    run(["go", "build", "-o", binary, "./cmd/" + EXTENSION], cwd=project, env=go_env(CGO_ENABLED="0"))
    task = tmp_path / "task"
    task.mkdir()
    bootstrap = task / "bootstrap"
    bootstrap.write_text(BOOTSTRAP.format(python=sys.executable))
    bootstrap.chmod(0o755)

    invoke_port, runtime_port = free_port(), free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_LAMBDA_FUNCTION_NAME": "rie-cross-check",
        "AWS_LAMBDA_FUNCTION_TIMEOUT": "30",
        PREFIX + "LOG_LEVEL": "debug",  # the extension logs every INVOKE it sees
    }
    # In a private mount namespace, a bind mount puts our /opt (with extensions/) in
    # place of the machine's; the mount vanishes with the namespace.
    script = 'mount --bind "$1" /opt && shift && exec "$@"'
    command = [
        "unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", opt,
        rie, "--log-level", "debug",
        "--runtime-interface-emulator-address", "127.0.0.1:%d" % invoke_port,
        "--runtime-api-address", "127.0.0.1:%d" % runtime_port,
        bootstrap,
    ]
    log_path = tmp_path / "rie.log"
    responses = []
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [str(a) for a in command], cwd=task, env=env, stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            assert wait_for_port(invoke_port, proc), "RIE did not listen:\n" + log_path.read_text()
            url = "http://127.0.0.1:%d/2015-03-31/functions/function/invocations" % invoke_port
            for n in range(INVOKES):
                request = urllib.request.Request(url, data=json.dumps({"n": n}).encode(), method="POST")
                with urllib.request.urlopen(request, timeout=30) as resp:
                    responses.append(json.loads(resp.read()))
            proc.send_signal(signal.SIGTERM)  # RIE sends SHUTDOWN (SandboxTerminated)
            rie_code = proc.wait(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    output = log_path.read_text()
    context = "\n--- RIE output ---\n" + output[-8000:]

    assert responses == [{"echo": {"n": n}} for n in range(INVOKES)], context
    assert rie_code == 0, context
    # Registered under its own file name, for both events.
    assert re.search(
        r"External agent %s \([0-9a-f-]+\) registered, subscribed to \[INVOKE SHUTDOWN\]" % re.escape(EXTENSION),
        output,
    ), context
    logs = list(json_lines(output))
    registered = [e for e in logs if e.get("msg") == "registered"]
    assert len(registered) == 1 and registered[0]["name"] == EXTENSION, context
    # Saw every INVOKE: RIE's request ids are the ones the extension logged.
    started = re.findall(r"^START RequestId: ([0-9a-f-]+)", output, re.MULTILINE)
    seen = [e["request_id"] for e in logs if e.get("msg") == "invoke"]
    assert len(started) == INVOKES and seen == started, context
    # Every INVOKE accounted for in the extension's own records line (the processor's
    # lines are the user's to change): offered = flushed + failed + dropped + unflushed.
    [records] = [e for e in logs if e.get("msg") == "records"] or [None]
    assert records is not None, context
    counts = [records[k] for k in ("offered", "flushed", "failed", "dropped", "unflushed")]
    assert counts[0] == sum(counts[1:]) and counts[0] == INVOKES, context
    # Saw the SHUTDOWN and exited on its own before the deadline. RIE logs no exit
    # code; "shutdown complete" is logged only on the path that returns exit code 0,
    # and RIE reports an extension it had to kill.
    shutdown = [e for e in logs if e.get("msg") == "shutdown complete"]
    assert len(shutdown) == 1 and shutdown[0]["reason"] == "SandboxTerminated", context
    assert "Handling termination for extension-%s-" % EXTENSION in output, context
    assert "did not exit after deadline" not in output and "Killing it" not in output, context
    # Nothing left behind outside the namespace.
    assert not os.path.exists("/opt/extensions/" + EXTENSION)
