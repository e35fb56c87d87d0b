"""The companions under AWS's Runtime Interface Emulator with real runtime clients: a
Python handler run by awslambdaric (PyPI) and a Go handler built with
github.com/aws/aws-lambda-go (fetched by `go` into a temporary module: a test
dependency, never the extension's).

runtime-proxy: every invoke's result through the proxy (the layer's wrapper in front of
the runtime, as a managed runtime's bootstrap does for AWS_LAMBDA_EXEC_WRAPPER) is
identical to the result without it, errors included, and the audit lines name the
request ids RIE reports. local-api: the handler calls the cache during its init and on
every invoke, with its session token.

Needs root (a private mount namespace over /opt, as tests/test_rie.py), RIE from the Go
module proxy, awslambdaric from PyPI and aws-lambda-go from the module proxy; without
them the tests skip locally and fail in CI.
"""

import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import urllib.request

import pytest

from conftest import go_env, project_of, require_tool, run
from test_rie import EXTENSION, PREFIX, free_port, json_lines, namespace_tools, rie, unavailable, wait_for_port  # noqa: F401

AWSLAMBDARIC = "awslambdaric==4.2.2"
AWS_LAMBDA_GO = "github.com/aws/aws-lambda-go@v1.50.0"
SESSION_TOKEN = "rie-session-token"
PAYLOADS = [{"n": 0}, {"n": 1, "nested": {"a": [1, 2, 3]}}, {"fail": True}, {"n": 3}]

PY_HANDLER = textwrap.dedent(
    """\
    import os, urllib.request
    LOCAL = os.environ.get("LOCAL_API")

    def call(key):
        req = urllib.request.Request(
            "http://%s/v1/%s" % (LOCAL, key),
            headers={"X-EXTNAME-Token": os.environ.get("AWS_SESSION_TOKEN", "")},
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            return [resp.read().decode(), resp.headers.get("X-Cache")]

    INIT = call("greeting") if LOCAL else None

    def handler(event, context):
        if event.get("fail"):
            raise ValueError("asked to fail")
        out = {"echo": event, "request_id_seen": bool(context.aws_request_id)}
        if LOCAL:
            out["init"] = INIT
            out["invoke"] = call("greeting")
        return out
    """
).replace("EXTNAME", EXTENSION)

GO_HANDLER = textwrap.dedent(
    """\
    package main

    import (
    	"context"
    	"errors"
    	"io"
    	"net/http"
    	"os"

    	"github.com/aws/aws-lambda-go/lambda"
    	"github.com/aws/aws-lambda-go/lambdacontext"
    )

    var local = os.Getenv("LOCAL_API")
    var initValue []string

    func call(key string) []string {
    	req, _ := http.NewRequest("GET", "http://"+local+"/v1/"+key, nil)
    	req.Header.Set("X-EXTNAME-Token", os.Getenv("AWS_SESSION_TOKEN"))
    	res, err := http.DefaultClient.Do(req)
    	if err != nil {
    		return []string{"error: " + err.Error(), ""}
    	}
    	defer res.Body.Close()
    	body, _ := io.ReadAll(res.Body)
    	return []string{string(body), res.Header.Get("X-Cache")}
    }

    func init() {
    	if local != "" {
    		initValue = call("greeting")
    	}
    }

    func handle(ctx context.Context, ev map[string]any) (map[string]any, error) {
    	if ev["fail"] == true {
    		return nil, errors.New("asked to fail")
    	}
    	lc, _ := lambdacontext.FromContext(ctx)
    	out := map[string]any{"echo": ev, "request_id_seen": lc != nil && lc.AwsRequestID != ""}
    	if local != "" {
    		out["init"] = initValue
    		out["invoke"] = call("greeting")
    	}
    	return out, nil
    }

    func main() { lambda.Start(handle) }
    """
).replace("EXTNAME", EXTENSION)


@pytest.fixture(scope="session")
def python_runtime(tmp_path_factory):
    """A venv with awslambdaric from PyPI; returns its python."""
    venv = tmp_path_factory.mktemp("ric-venv")
    run([sys.executable, "-m", "venv", venv], cwd=venv, env=dict(os.environ))
    python = venv / "bin" / "python"
    proc = subprocess.run(
        [python, "-m", "pip", "install", "-q", "--only-binary=:all:", AWSLAMBDARIC],
        capture_output=True, text=True, timeout=600,
    )
    if proc.returncode != 0:
        unavailable("pip install %s failed: %s" % (AWSLAMBDARIC, proc.stderr[-2000:]))
    return python


@pytest.fixture(scope="session")
def go_runtime(tmp_path_factory):
    """A Go handler built with aws-lambda-go in a temporary module; returns the binary."""
    require_tool("go")
    work = tmp_path_factory.mktemp("go-handler")
    (work / "main.go").write_text(GO_HANDLER)
    env = go_env(GOFLAGS="", CGO_ENABLED="0")
    if env.get("GOPROXY", "off") == "off":
        env["GOPROXY"] = "https://proxy.golang.org,direct"
    run(["go", "mod", "init", "rie-handler"], cwd=work, env=env)
    proc = subprocess.run(["go", "get", AWS_LAMBDA_GO], cwd=work, env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        unavailable("go get %s failed: %s" % (AWS_LAMBDA_GO, proc.stderr[-2000:]))
    run(["go", "build", "-o", work / "handler", "."], cwd=work, env=env)
    return work / "handler"


def code_dir(tmp_path):
    """The Python handler's directory."""
    code = tmp_path / "code"
    code.mkdir(exist_ok=True)
    (code / "handler.py").write_text(PY_HANDLER)
    return code


def runtime_command(kind, python_runtime, go_runtime, task):
    if kind == "python":
        return 'PYTHONPATH="%s" exec "%s" -m awslambdaric handler.handler' % (task, python_runtime)
    return 'exec "%s"' % go_runtime


def run_under_rie(rie, tmp_path, opt, command, extra_env, payloads):
    """Run RIE with bootstrap `command` (a shell line); invoke payloads; SIGTERM.
    Returns (results, output): results are (status, body) per invoke."""
    task = tmp_path / "task"
    task.mkdir(exist_ok=True)
    bootstrap = tmp_path / "bootstrap"
    bootstrap.write_text("#!/bin/sh\n" + command + "\n")
    bootstrap.chmod(0o755)
    invoke_port, runtime_port = free_port(), free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_LAMBDA_FUNCTION_NAME": "rie-companion",
        "AWS_LAMBDA_FUNCTION_TIMEOUT": "30",
        "AWS_ACCESS_KEY_ID": "AKIDRIETEST",
        "AWS_SECRET_ACCESS_KEY": "rie-secret",
        "AWS_SESSION_TOKEN": SESSION_TOKEN,
        PREFIX + "LOG_LEVEL": "debug",
        **extra_env,
    }
    script = 'mount --bind "$1" /opt && shift && exec "$@"'
    cmd = [
        "unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", opt,
        rie, "--log-level", "debug",
        "--runtime-interface-emulator-address", "127.0.0.1:%d" % invoke_port,
        "--runtime-api-address", "127.0.0.1:%d" % runtime_port,
        bootstrap,
    ]
    log_path = tmp_path / ("rie-%d.log" % invoke_port)
    results = []
    with open(log_path, "w") as log:
        proc = subprocess.Popen([str(a) for a in cmd], cwd=task, env=env, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            assert wait_for_port(invoke_port, proc), "RIE did not listen:\n" + log_path.read_text()
            url = "http://127.0.0.1:%d/2015-03-31/functions/function/invocations" % invoke_port
            for payload in payloads:
                req = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST")
                with urllib.request.urlopen(req, timeout=30) as resp:
                    results.append((resp.status, json.loads(resp.read())))
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return results, log_path.read_text()


def normalised(results):
    """Results with what differs between two runs by nature (the request id in an
    error body) taken out."""
    out = []
    for status, body in results:
        if isinstance(body, dict):
            body = {k: v for k, v in body.items() if k != "requestId"}
        out.append((status, body))
    return out


def layer(project, tmp_path, kind):
    opt = tmp_path / ("opt-" + kind)
    (opt / "extensions").mkdir(parents=True)
    run(["go", "build", "-o", opt / "extensions" / EXTENSION, "./cmd/" + EXTENSION], cwd=project, env=go_env(CGO_ENABLED="0"))
    if kind == "runtime-proxy":
        shutil.copy(project / "scripts" / "runtime-wrapper", opt / (EXTENSION + "-wrapper"))
        (opt / (EXTENSION + "-wrapper")).chmod(0o755)
    return opt


@pytest.mark.parametrize("runtime", ["python", "go"])
def test_results_through_the_proxy_are_identical(baked, rie, namespace_tools, python_runtime, go_runtime, tmp_path, runtime):
    project = project_of(baked(companion="runtime-proxy", architecture="x86_64"))
    opt = layer(project, tmp_path, "runtime-proxy")
    port = free_port()
    env = {PREFIX + "PROXY_PORT": str(port)}
    command = runtime_command(runtime, python_runtime, go_runtime, code_dir(tmp_path))

    (tmp_path / "direct").mkdir()
    (tmp_path / "proxied").mkdir()
    direct, direct_out = run_under_rie(rie, tmp_path / "direct", opt, command, env, PAYLOADS)
    # As a managed runtime's bootstrap does with AWS_LAMBDA_EXEC_WRAPPER: the wrapper
    # runs first and execs the runtime.
    wrapped = "exec /opt/%s-wrapper sh -c '%s'" % (EXTENSION, command.replace("'", "'\\''"))
    proxied, output = run_under_rie(rie, tmp_path / "proxied", opt, wrapped, env, PAYLOADS)
    context = "\n--- RIE output (proxied) ---\n" + output[-8000:] + "\n--- direct ---\n" + direct_out[-3000:]

    assert normalised(proxied) == normalised(direct), context
    assert direct[0][1]["echo"] == PAYLOADS[0] and direct[0][1]["request_id_seen"] is True, context
    assert "errorMessage" in direct[2][1] and "asked to fail" in direct[2][1]["errorMessage"], context
    # The proxy saw every invocation: one audit line per RIE request id, in order.
    logs = list(json_lines(output))
    started = re.findall(r"^START RequestId: ([0-9a-f-]+)", output, re.MULTILINE)
    audited = [e["request_id"] for e in logs if e.get("msg") == "audit"]
    assert len(started) == len(PAYLOADS) and audited == started, context
    assert [e["error"] for e in logs if e.get("msg") == "audit"] == [p.get("fail", False) for p in PAYLOADS], context
    [records] = [e for e in logs if e.get("msg") == "records"]
    assert records["proxy_events"] == len(PAYLOADS) and records["proxy_results"] == len(PAYLOADS), context
    assert records["proxy_upstream_failures"] == 0, context
    # Without the wrapper the proxy listens but nothing goes through it.
    [direct_records] = [e for e in json_lines(direct_out) if e.get("msg") == "records"]
    assert direct_records["proxy_events"] == 0, direct_out[-3000:]


class Upstream(http.server.BaseHTTPRequestHandler):
    calls = 0

    def do_GET(self):
        Upstream.calls += 1
        body = ("value of %s" % self.path).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("runtime", ["python", "go"])
def test_the_function_calls_the_local_api(baked, rie, namespace_tools, python_runtime, go_runtime, tmp_path, runtime):
    project = project_of(baked(companion="local-api", architecture="x86_64"))
    opt = layer(project, tmp_path, "local-api")
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    Upstream.calls = 0
    try:
        port = free_port()
        env = {
            PREFIX + "LOCAL_PORT": str(port),
            PREFIX + "UPSTREAM_URL": "http://127.0.0.1:%d/params" % upstream.server_address[1],
            "LOCAL_API": "127.0.0.1:%d" % port,
        }
        payloads = [{"n": 0}, {"n": 1}, {"n": 2}]
        command = runtime_command(runtime, python_runtime, go_runtime, code_dir(tmp_path))
        results, output = run_under_rie(rie, tmp_path, opt, command, env, payloads)
    finally:
        upstream.shutdown()
    context = "\n--- RIE output ---\n" + output[-8000:]

    # The init's call was the miss; every invoke after it a hit.
    for (status, body), payload in zip(results, payloads):
        assert status == 200 and body["echo"] == payload, context
        assert body["init"] == ["value of /params/greeting", "miss"], context
        assert body["invoke"] == ["value of /params/greeting", "hit"], context
    assert Upstream.calls == 1, context
    [records] = [e for e in json_lines(output) if e.get("msg") == "records"]
    assert records["cache_misses"] == 1 and records["cache_hits"] == len(payloads), context
    assert records["local_api_unauthorized"] == 0, context
