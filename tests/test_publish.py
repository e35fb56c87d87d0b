"""`make publish` publishes each layer zip with the aws CLI, and `make deploy`
picks guided or saved sam deploy.

Publishing runs the real aws CLI against a moto_server started on
127.0.0.1 for this module, with fake credentials and AWS_ENDPOINT_URL."""

import base64
import hashlib
import json
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import BASE_ANSWERS, GOARCHES, project_of, require_tool, run

EXTENSION = BASE_ANSWERS["extension_name"]
LAMBDA_ARCHES = {"amd64": "x86_64", "arm64": "arm64"}
ARN = re.compile(r"^arn:aws:lambda:([a-z0-9-]+):(\d{12}):layer:([A-Za-z0-9_-]+):(\d+)$")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    """A moto_server on 127.0.0.1:<free port>; yields its URL, stops it after."""
    moto_server = require_tool("moto_server")
    port = free_port()
    url = "http://127.0.0.1:%d" % port
    log = tmp_path_factory.mktemp("moto") / "moto_server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [moto_server, "-H", "127.0.0.1", "-p", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail("moto_server exited %d:\n%s" % (proc.returncode, log.read_text()))
            try:
                with urllib.request.urlopen(url + "/moto-api/", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError, OSError):
                if time.monotonic() > deadline:
                    pytest.fail("moto_server not answering on %s after 60s:\n%s" % (url, log.read_text()))
                time.sleep(0.1)  # polling for readiness, bounded by the deadline
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def moto_env(moto, aws_env, tmp_path_factory):
    """aws_env pointed at moto with fake credentials; moto's state is reset."""
    require_tool("aws")
    request = urllib.request.Request(moto + "/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass
    env = dict(aws_env)
    env.update(
        AWS_ENDPOINT_URL=moto,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        # Outside any git repository, whatever holds pytest's temporary directory.
        GIT_CEILING_DIRECTORIES=str(tmp_path_factory.getbasetemp()),
    )
    return env


def publish(project, env, *make_args):
    """Run `make publish`; return the ARNs it printed, one per zip."""
    proc = run(["make", "publish", *make_args], cwd=project, env=env)
    arns = [line for line in proc.stdout.splitlines() if line.startswith("arn:")]
    for arn in arns:
        assert ARN.match(arn), arn
    return arns


def aws(env, *args):
    return json.loads(run(["aws", "--output", "json", *args], cwd=Path.cwd(), env=env).stdout)


def sha256_b64(path):
    return base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()


@pytest.fixture
def project(baked, architecture):
    require_tool("go")
    require_tool("make")
    return project_of(baked(processing="sync", architecture=architecture))


@pytest.mark.parametrize("architecture", ["both"])
def test_publish_makes_one_layer_version_per_architecture_then_version_2(project, moto_env):
    first = publish(project, moto_env)

    goarches = GOARCHES["both"]
    layers = ["%s-%s" % (EXTENSION, LAMBDA_ARCHES[g]) for g in goarches]
    assert [ARN.match(a).group(3, 4) for a in first] == [(layer, "1") for layer in layers]
    assert all(ARN.match(a).group(1) == "us-east-1" for a in first)
    print("moto returned: " + " ".join(first))
    for goarch, layer, arn in zip(goarches, layers, first):
        version = aws(
            moto_env, "lambda", "get-layer-version", "--layer-name", layer, "--version-number", "1"
        )
        assert version["LayerVersionArn"] == arn
        assert version["CompatibleArchitectures"] == [LAMBDA_ARCHES[goarch]]
        assert "CompatibleRuntimes" not in version or version["CompatibleRuntimes"] == []
        assert version["Description"] == "%s (%s) version unversioned" % (
            BASE_ANSWERS["description"],
            LAMBDA_ARCHES[goarch],
        )
        assert version["LicenseInfo"] == "MIT"
        # What was published is the zip make layer wrote.
        zip_path = project / "dist" / ("%s-%s.zip" % (EXTENSION, goarch))
        assert version["Content"]["CodeSha256"] == sha256_b64(zip_path)

    second = publish(project, moto_env, "VERSION=1.2.3")

    assert [ARN.match(a).group(3, 4) for a in second] == [(layer, "2") for layer in layers]
    for layer in layers:
        versions = aws(moto_env, "lambda", "list-layer-versions", "--layer-name", layer)
        assert sorted(v["Version"] for v in versions["LayerVersions"]) == [1, 2]
        [latest] = [v for v in versions["LayerVersions"] if v["Version"] == 2]
        assert latest["Description"].endswith(") version 1.2.3")


@pytest.mark.parametrize("architecture", ["x86_64"])
def test_publish_uses_aws_region_over_aws_default_region(project, moto_env):
    env = dict(moto_env, AWS_REGION="eu-west-1", AWS_DEFAULT_REGION="us-east-1")

    [arn] = publish(project, env)

    assert ARN.match(arn).group(1) == "eu-west-1"


@pytest.mark.parametrize("architecture", ["x86_64"])
def test_publish_uses_the_profile_from_aws_profile(project, moto_env, tmp_path):
    config = tmp_path / "config"
    config.write_text("[profile team]\nregion = ap-southeast-2\n")
    credentials = tmp_path / "credentials"
    credentials.write_text("[team]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
    env = {
        k: v
        for k, v in moto_env.items()
        if k not in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    }
    env.update(
        AWS_PROFILE="team", AWS_CONFIG_FILE=str(config), AWS_SHARED_CREDENTIALS_FILE=str(credentials)
    )

    [arn] = publish(project, env)

    assert ARN.match(arn).group(1) == "ap-southeast-2"


@pytest.mark.parametrize("architecture", ["x86_64"])
def test_publish_records_git_describe_in_the_description(project, moto_env, tmp_path):
    git = require_tool("git")
    repo = tmp_path / "repo"
    shutil.copytree(project, repo, ignore=shutil.ignore_patterns("build", "dist", ".aws-sam"))
    env = dict(
        moto_env,
        GIT_CEILING_DIRECTORIES=str(tmp_path),
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@example.invalid",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.invalid",
        GIT_CONFIG_GLOBAL="/dev/null",
    )
    for args in (
        ["init", "-q"],
        ["add", "-A"],
        ["commit", "-q", "-m", "first"],
        ["tag", "-a", "v0.3.0", "-m", "v0.3.0"],  # git describe names annotated tags
    ):
        run([git, *args], cwd=repo, env=env)
    layer = "%s-x86_64" % EXTENSION

    publish(repo, env)
    with (repo / ".gitignore").open("a") as gitignore:
        gitignore.write("/scratch/\n")  # an uncommitted change
    publish(repo, env)

    versions = aws(env, "lambda", "list-layer-versions", "--layer-name", layer)["LayerVersions"]
    descriptions = {v["Version"]: v["Description"] for v in versions}
    assert descriptions[1].endswith("(x86_64) version v0.3.0")
    assert descriptions[2].endswith("(x86_64) version v0.3.0-dirty")


@pytest.mark.parametrize("architecture", ["x86_64"])
def test_publish_explains_a_missing_zip(project, moto_env, tmp_path):
    proc = run(
        ["./scripts/publish.sh", tmp_path / "none-amd64.zip"], cwd=project, env=moto_env, check=False
    )

    assert proc.returncode != 0
    assert "no such file (run 'make layer' first)" in proc.stderr


# ---- make deploy -------------------------------------------------------------
# sam deploy needs CloudFormation with the SAM transform, which moto does not
# offer; these tests check the Makefile's choice with a recording SAM stand-in.


@pytest.fixture
def recording_sam(tmp_path):
    log = tmp_path / "sam-calls"
    sam = tmp_path / "sam"
    sam.write_text('#!/bin/sh\necho "$*" >> "%s"\n' % log)
    sam.chmod(0o755)
    return sam, log


@pytest.mark.parametrize("architecture", ["x86_64"])
@pytest.mark.parametrize(
    "saved_config, expected",
    [
        pytest.param(False, ["build", "deploy --guided"], id="first-deploy-is-guided"),
        pytest.param(True, ["build", "deploy"], id="samconfig-toml-is-used"),
    ],
)
def test_deploy_builds_then_deploys_guided_until_samconfig_exists(
    project, recording_sam, tmp_path, saved_config, expected
):
    sam, log = recording_sam
    copy = tmp_path / "project"
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns("build", "dist", ".aws-sam"))
    if saved_config:
        (copy / "samconfig.toml").write_text('version = 0.1\n')

    run(["make", "deploy", "SAM=%s" % sam], cwd=copy)

    assert log.read_text().splitlines() == expected
