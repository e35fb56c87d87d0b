"""Releases: the version stamp in the binary, the release workflow (and that its
publish step is the `make publish` test_publish tests, run here against moto as
the workflow runs it), and the supported Go toolchain CI, releases and the
Dockerfile recipe use."""

import os
import platform
import re
import shutil
import subprocess

import pytest
import yaml

from conftest import BASE_ANSWERS, REPO_ROOT, project_of, require_tool, run
from test_publish import LAMBDA_ARCHES, aws, layers_of, moto, moto_env  # noqa: F401 (fixtures)

EXTENSION = BASE_ANSWERS["extension_name"]
MODULE = BASE_ANSWERS["go_module"]
RELEASE = ".github/workflows/release.yml"
HOST_GOARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
    platform.machine().lower()
)


@pytest.fixture
def project(baked, architecture):
    require_tool("go")
    require_tool("make")
    return project_of(baked(processing="sync", architecture=architecture))


# ---- the version stamp --------------------------------------------------------------

# A program that prints extension.version, for as long as the extension package
# (extension/version.go: var version = "unversioned") is not part of the template.
PROBE_PACKAGE = 'package extension\n\nvar version = "unversioned"\n\n// Version is the stamped version.\nfunc Version() string { return version }\n'
PROBE_MAIN = 'package main\n\nimport (\n\t"fmt"\n\n\t"%s/extension"\n)\n\nfunc main() { fmt.Println(extension.Version()) }\n'


@pytest.mark.parametrize("architecture", ["x86_64"])
def test_make_build_passes_the_version_to_the_linker(project):
    proc = run(["make", "-n", "build", "VERSION=v9.8.7-test"], cwd=project)

    assert "-X '%s/extension.version=v9.8.7-test'" % MODULE in proc.stdout


@pytest.mark.parametrize("architecture", ["x86_64"])
def test_the_version_is_stamped_into_the_binary(project, tmp_path):
    if HOST_GOARCH is None:
        pytest.skip("the probe runs on amd64 or arm64 hosts, not %s" % platform.machine())
    copy = tmp_path / "project"
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns("build", "dist", ".aws-sam"))
    if (copy / "extension" / "version.go").exists():
        # The extension has its version variable: it must be in the shipped binary.
        run(["make", "build", "VERSION=v9.8.7-test", "ARCHS=" + HOST_GOARCH], cwd=copy)
        binary = copy / "build" / HOST_GOARCH / "extensions" / EXTENSION
        assert b"v9.8.7-test" in binary.read_bytes()
        return
    # Not yet: build a probe that prints extension.version with the same flags.
    (copy / "extension").mkdir()
    (copy / "extension" / "version.go").write_text(PROBE_PACKAGE)
    (copy / "cmd" / "versionprobe").mkdir(parents=True)
    (copy / "cmd" / "versionprobe" / "main.go").write_text(PROBE_MAIN % MODULE)

    for version in ("v9.8.7-test", "v9.8.8"):
        run(["make", "build", "EXTENSION=versionprobe", "ARCHS=" + HOST_GOARCH, "VERSION=" + version], cwd=copy)
        probe = copy / "build" / HOST_GOARCH / "extensions" / "versionprobe"
        assert run([probe], cwd=copy).stdout.strip() == version
        assert version.encode() in probe.read_bytes()

    # Without VERSION (and outside git): "unversioned".
    run(["make", "build", "EXTENSION=versionprobe", "ARCHS=" + HOST_GOARCH], cwd=copy)
    assert run([probe], cwd=copy).stdout.strip() == "unversioned"


@pytest.mark.parametrize("architecture", ["x86_64"])
def test_the_same_version_gives_byte_identical_zips(project, tmp_path):
    zips = []
    for name in ("a", "b"):
        copy = tmp_path / name
        shutil.copytree(project, copy, ignore=shutil.ignore_patterns("build", "dist", ".aws-sam"))
        run(["make", "layer", "VERSION=v1.0.0"], cwd=copy)
        zips.append((copy / "dist" / ("%s-amd64.zip" % EXTENSION)).read_bytes())

    assert zips[0] == zips[1]


@pytest.mark.parametrize("architecture", ["x86_64"])
def test_the_default_version_is_git_describe(project, tmp_path):
    git = require_tool("git")
    repo = tmp_path / "repo"
    shutil.copytree(project, repo, ignore=shutil.ignore_patterns("build", "dist", ".aws-sam"))
    env = dict(
        os.environ, GIT_CEILING_DIRECTORIES=str(tmp_path), GIT_CONFIG_GLOBAL=os.devnull,
        GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid",
        GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.invalid",
    )
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "first"], ["tag", "v0.4.0"]):
        subprocess.run([git, *args], cwd=repo, env=env, check=True, capture_output=True)

    proc = run(["make", "-n", "build"], cwd=repo, env=dict(env, GOTOOLCHAIN="local"))

    # --tags: lightweight tags count too.
    assert "extension.version=v0.4.0'" in proc.stdout


# ---- the release workflow ---------------------------------------------------------


def release_workflow(project):
    return yaml.safe_load((project / RELEASE).read_text())


def step(job, name):
    [found] = [s for s in job["steps"] if s.get("name") == name]
    return found


@pytest.mark.parametrize("architecture", ["both"])
def test_release_workflow_tests_publishes_with_oidc_and_creates_the_release(project):
    workflow = release_workflow(project)
    # PyYAML reads the key `on` as True.
    assert workflow[True] == {"push": {"tags": ["v*"]}}
    assert workflow["permissions"] == {"contents": "read"}
    test, release = workflow["jobs"]["test"], workflow["jobs"]["release"]
    assert [s["run"] for s in test["steps"] if "run" in s] == ["make fmt-check", "make test"]
    assert release["needs"] == "test"
    assert release["permissions"] == {"contents": "write", "id-token": "write"}
    assert release["env"]["VERSION"] == "${{ github.ref_name }}"

    names = [s.get("name") for s in release["steps"]]
    credentials = step(release, "Assume the release role (GitHub OIDC)")
    assert credentials["uses"].startswith("aws-actions/configure-aws-credentials@")
    assert credentials["with"]["role-to-assume"] == "${{ vars.AWS_ROLE_ARN }}"
    assert names.index("Build the layer zips") < names.index("Check the binary and zip sizes against budgets.json")
    assert names.index("Assume the release role (GitHub OIDC)") < names.index("Publish the layers")
    assert step(release, "Publish the layers")["run"] == (
        'make publish REGIONS="$REGIONS" LAYER_PRINCIPAL="$LAYER_PRINCIPAL"'
    )
    create = step(release, "Create the GitHub release")["run"]
    assert "files=(dist/*.zip dist/SHA256SUMS dist/layers.md dist/layers.json)" in create
    assert '--notes-file dist/layers.md' in create


@pytest.mark.parametrize("architecture", ["both"])
def test_release_publish_step_runs_make_publish_to_the_regions_in_regions_txt(
    project, moto_env, tmp_path
):
    """The workflow's own shell: regions.txt is read as its step reads it, then its
    publish step's command runs against moto with the step's environment."""
    bash = require_tool("bash")
    copy = tmp_path / "project"
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns("build", "dist", ".aws-sam"))
    (copy / "regions.txt").write_text(
        (copy / "regions.txt").read_text() + "eu-west-1   # a second region\n\n# the end\n"
    )
    release = release_workflow(copy)["jobs"]["release"]
    outputs = tmp_path / "github-output"
    outputs.write_text("")

    run([bash, "-e", "-c", step(release, "Read regions.txt")["run"]], cwd=copy,
        env=dict(moto_env, GITHUB_OUTPUT=str(outputs)))
    got = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    assert got == {"list": "us-east-1 eu-west-1", "first": "us-east-1"}

    publish = step(release, "Publish the layers")
    assert publish["env"] == {
        "REGIONS": "${{ steps.regions.outputs.list }}",
        "LAYER_PRINCIPAL": "${{ vars.LAYER_PRINCIPAL }}",
    }
    env = dict(moto_env, VERSION="v1.0.0", REGIONS=got["list"], LAYER_PRINCIPAL="public")
    env.pop("AWS_REGION")  # configure-aws-credentials sets it; the regions come from REGIONS
    run([bash, "-e", "-c", publish["run"]], cwd=copy, env=env)

    layers = layers_of(copy)
    assert [(l["region"], l["architecture"], l["version"]) for l in layers] == [
        (region, arch, 1) for region in ("us-east-1", "eu-west-1") for arch in ("x86_64", "arm64")
    ]
    markdown = (copy / "dist" / "layers.md").read_text()
    assert markdown.startswith("# Layer versions for v1.0.0\n")


@pytest.mark.parametrize("architecture", ["x86_64"])
def test_regions_txt_lists_region_names(project):
    regions = re.sub(r"#.*", "", (project / "regions.txt").read_text()).split()
    assert regions
    assert all(re.match(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]+$", r) for r in regions), regions


# ---- the Go toolchain ---------------------------------------------------------------


def go_minor(version):
    match = re.match(r"^1\.(\d+)(\.\d+)?$", version)
    assert match, version
    return int(match.group(1))


@pytest.mark.parametrize("architecture", ["x86_64"])
def test_ci_releases_and_the_dockerfile_use_a_supported_go(project):
    go_version = (project / ".go-version").read_text().strip()
    assert go_minor(go_version) >= 25, "Go %s is not supported any more" % go_version

    readme = (project / "README.md").read_text()
    [dockerfile] = re.findall(r"```dockerfile\n(.*?)```", readme, flags=re.S)
    assert "ARG GO_VERSION=%s\n" % go_version in dockerfile
    assert "golang:${GO_VERSION} AS extension" in dockerfile
    for workflow in (".github/workflows/ci.yml", RELEASE):
        for job in yaml.safe_load((project / workflow).read_text())["jobs"].values():
            for s in job["steps"]:
                if s.get("uses", "").startswith("actions/setup-go@"):
                    assert s["with"] == {"go-version-file": ".go-version", **{
                        k: v for k, v in s["with"].items() if k != "go-version-file"
                    }}
                    assert "go-version" not in s["with"]

    # The template's own CI runs a Go at least as new as the projects' CI.
    [template_ci] = (REPO_ROOT / ".github" / "workflows").glob("*.yml")
    for job in yaml.safe_load(template_ci.read_text())["jobs"].values():
        for s in job["steps"]:
            if s.get("uses", "").startswith("actions/setup-go@"):
                assert go_minor(s["with"]["go-version"]) >= go_minor(go_version)
