"""The GitHub Actions workflows are valid (actionlint): the rendered ones (CI and
release) for each architecture answer, and the template's own. CI runs the
checks the project promises; every action is pinned to a full commit SHA."""

import re
from pathlib import Path

import pytest
import yaml

from conftest import AXES, BASE_ANSWERS, GOARCHES, REPO_ROOT, go_install, project_of, run

ACTIONLINT = "github.com/rhysd/actionlint/cmd/actionlint"
ACTIONLINT_VERSION = "v1.7.12"
WORKFLOW = Path(".github/workflows/ci.yml")
RENDERED_WORKFLOWS = [WORKFLOW, Path(".github/workflows/release.yml")]
TEMPLATE_WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))
# owner/repo[/path]@<full commit SHA> # <the tag it is>
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
PIN_COMMENT = re.compile(r"uses: (\S+) # (v\d+(\.\d+)*)$")
EXTENSION = BASE_ANSWERS["extension_name"]

# The workflow depends on the architecture answer only.
ARCHITECTURE_PARAMS = [pytest.param(a, id=a) for a in AXES["architecture"]]


@pytest.fixture(scope="session")
def actionlint(request, tmp_path_factory):
    """Path of actionlint, installed once with `go install` through the Go module
    proxy into pytest's cache (conftest.go_install: a skip with the reason locally,
    a failure in CI, when it cannot be installed). Not GOTOOLCHAIN=local: actionlint
    v1.7.12 needs Go 1.25, which an older local Go fetches through the proxy."""
    return go_install(request, tmp_path_factory, ACTIONLINT, ACTIONLINT_VERSION, "actionlint")


@pytest.fixture
def project(baked, architecture):
    return project_of(baked(processing=AXES["processing"][0], architecture=architecture))


@pytest.mark.parametrize("architecture", ARCHITECTURE_PARAMS)
def test_actionlint_accepts_the_rendered_workflows(project, actionlint):
    # -no-color keeps the failure message readable; actionlint exits 1 on any finding.
    proc = run([actionlint, "-no-color", *RENDERED_WORKFLOWS], cwd=project, check=False)

    assert proc.returncode == 0, "actionlint found problems:\n" + proc.stdout + proc.stderr
    print("actionlint %s %s: exit 0, no findings" % (ACTIONLINT_VERSION, " ".join(map(str, RENDERED_WORKFLOWS))))


def test_actionlint_accepts_the_template_workflows(actionlint):
    assert TEMPLATE_WORKFLOWS, "no workflow in the template's .github/workflows"
    relative = [w.relative_to(REPO_ROOT) for w in TEMPLATE_WORKFLOWS]

    proc = run([actionlint, "-no-color", *relative], cwd=REPO_ROOT, check=False)

    assert proc.returncode == 0, "actionlint found problems:\n" + proc.stdout + proc.stderr


def test_template_workflow_runs_the_suite_as_ci_run_does():
    [workflow] = [yaml.safe_load(w.read_text()) for w in TEMPLATE_WORKFLOWS]
    [job] = workflow["jobs"].values()
    assert job["env"]["CI"] == "true"
    assert [s["run"] for s in job["steps"] if "run" in s] == ["bash .ci/run"]


def pins(text):
    """(action, tag comment) of every `uses:` line of a workflow."""
    found = []
    for line in text.splitlines():
        if re.match(r"^\s*(- )?uses: ", line):
            match = PIN_COMMENT.search(line)
            assert match, "not pinned with a tag comment: %s" % line.strip()
            found.append((match.group(1), match.group(2)))
    return found


@pytest.mark.parametrize("architecture", ["both"])
def test_every_action_is_pinned_to_a_commit_sha_with_its_tag(project):
    workflows = [project / w for w in RENDERED_WORKFLOWS] + TEMPLATE_WORKFLOWS
    shas = {}
    for path in workflows:
        found = pins(path.read_text())
        assert found, path
        for action, tag in found:
            assert PINNED.match(action), "%s: %s is not owner/repo@<40-hex SHA>" % (path.name, action)
            name, sha = action.split("@")
            # One SHA per action across all workflows, always with the same tag.
            assert shas.setdefault(name, (sha, tag)) == (sha, tag), (path.name, action, tag)


@pytest.mark.parametrize("architecture", ["x86_64"])
def test_dependabot_updates_actions_and_go_modules(project):
    config = yaml.safe_load((project / ".github" / "dependabot.yml").read_text())

    assert config["version"] == 2
    assert {u["package-ecosystem"]: u["directory"] for u in config["updates"]} == {
        "github-actions": "/",
        "gomod": "/",
    }


@pytest.mark.parametrize("architecture", ARCHITECTURE_PARAMS)
def test_workflow_tests_builds_each_architecture_and_uploads_the_layers(project, architecture):
    workflow = yaml.safe_load((project / WORKFLOW).read_text())
    jobs = workflow["jobs"]

    def commands(job):
        return [step["run"] for step in jobs[job]["steps"] if "run" in step]

    assert commands("test") == ["make fmt-check", "make test"]
    assert jobs["layer"]["strategy"]["matrix"]["goarch"] == GOARCHES[architecture]
    assert "make build layer ARCHS=${{ matrix.goarch }}" in commands("layer")
    layer_commands = commands("layer")
    # The size gate runs on what make layer built.
    assert layer_commands.index("make size-check ARCHS=${{ matrix.goarch }}") == (
        layer_commands.index("make build layer ARCHS=${{ matrix.goarch }}") + 1
    )
    # A supported Go from .go-version, never the go directive (which may be old).
    for job in jobs.values():
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/setup-go@"):
                assert step["with"]["go-version-file"] == ".go-version", job
    [upload] = [s for s in jobs["layer"]["steps"] if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert upload["with"]["path"] == "dist/%s-${{ matrix.goarch }}.zip" % EXTENSION
    assert upload["with"]["if-no-files-found"] == "error"
    assert commands("sam") == ["sam validate --lint", "sam build"]
