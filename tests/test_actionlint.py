"""The rendered GitHub Actions workflow is valid (actionlint) and runs the
checks the project promises, for each architecture answer."""

import os
from pathlib import Path

import pytest
import yaml

from conftest import AXES, BASE_ANSWERS, GOARCHES, project_of, require_tool, run

ACTIONLINT = "github.com/rhysd/actionlint/cmd/actionlint"
ACTIONLINT_VERSION = "v1.7.12"
WORKFLOW = Path(".github/workflows/ci.yml")
EXTENSION = BASE_ANSWERS["extension_name"]

# The workflow depends on the architecture answer only.
ARCHITECTURE_PARAMS = [pytest.param(a, id=a) for a in AXES["architecture"]]


@pytest.fixture(scope="session")
def actionlint(request, tmp_path_factory):
    """Path of actionlint, installed once with `go install` into pytest's cache
    directory (kept between runs), through the Go module proxy.

    Without network the install fails: the tests skip with the reason locally
    and fail in CI (CI=true)."""
    go = require_tool("go")
    cache = getattr(request.config, "cache", None)  # absent with -p no:cacheprovider
    gobin = (
        Path(cache.mkdir("actionlint-" + ACTIONLINT_VERSION))
        if cache is not None
        else tmp_path_factory.mktemp("actionlint")
    )
    binary = gobin / "actionlint"
    if binary.is_file() and os.access(binary, os.X_OK):
        return binary
    # Not GOTOOLCHAIN=local: actionlint v1.7.12 needs Go 1.25, which an older
    # local Go fetches through the proxy (Go's default, GOTOOLCHAIN=auto).
    drop = ("GOOS", "GOARCH", "GOFLAGS", "GOWORK", "GOTOOLCHAIN")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    if env.get("GOPROXY") == "off":  # the suite's offline setting for baked projects
        del env["GOPROXY"]
    env.update(GOBIN=str(gobin), CGO_ENABLED="0")
    proc = run(
        [go, "install", "%s@%s" % (ACTIONLINT, ACTIONLINT_VERSION)],
        cwd=gobin,
        env=env,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0 or not binary.is_file():
        message = "go install %s@%s failed (exit %d): %s" % (
            ACTIONLINT,
            ACTIONLINT_VERSION,
            proc.returncode,
            proc.stderr.strip()[-2000:],
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message + " (no network to the Go module proxy?)")
    return binary


@pytest.fixture
def project(baked, architecture):
    return project_of(baked(processing=AXES["processing"][0], architecture=architecture))


@pytest.mark.parametrize("architecture", ARCHITECTURE_PARAMS)
def test_actionlint_accepts_the_workflow(project, actionlint):
    # -no-color keeps the failure message readable; actionlint exits 1 on any finding.
    proc = run([actionlint, "-no-color", WORKFLOW], cwd=project, check=False)

    assert proc.returncode == 0, "actionlint found problems:\n" + proc.stdout + proc.stderr


@pytest.mark.parametrize("architecture", ARCHITECTURE_PARAMS)
def test_workflow_tests_builds_each_architecture_and_uploads_the_layers(project, architecture):
    workflow = yaml.safe_load((project / WORKFLOW).read_text())
    jobs = workflow["jobs"]

    def commands(job):
        return [step["run"] for step in jobs[job]["steps"] if "run" in step]

    assert commands("test") == ["make fmt-check", "make test"]
    assert jobs["layer"]["strategy"]["matrix"]["goarch"] == GOARCHES[architecture]
    assert "make build layer ARCHS=${{ matrix.goarch }}" in commands("layer")
    [upload] = [s for s in jobs["layer"]["steps"] if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert upload["with"]["path"] == "dist/%s-${{ matrix.goarch }}.zip" % EXTENSION
    assert upload["with"]["if-no-files-found"] == "error"
    assert commands("sam") == ["sam validate --lint", "sam build"]
