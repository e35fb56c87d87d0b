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
        assert version["Description"] == "%s Version unversioned, %s." % (
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
        assert latest["Description"].endswith(" Version 1.2.3, %s." % layer.rsplit("-", 1)[1])


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
    assert descriptions[1].endswith(" Version v0.3.0, x86_64.")
    assert descriptions[2].endswith(" Version v0.3.0-dirty, x86_64.")


@pytest.mark.parametrize("architecture", ["x86_64"])
def test_publish_explains_a_missing_zip(project, moto_env, tmp_path):
    proc = run(
        ["./scripts/publish.sh", tmp_path / "none-amd64.zip"], cwd=project, env=moto_env, check=False
    )

    assert proc.returncode != 0
    assert "no such file (run 'make layer' first)" in proc.stderr


# ---- many regions, sharing, reruns ------------------------------------------------

REGIONS = ["us-east-1", "eu-west-1"]
# A well-formed region name that moto_server does not serve: publishing there
# fails for real (the server answers 500), as a region an account cannot use does.
REFUSED_REGION = "eu-fake-9"

# LAYER_PRINCIPAL -> the statements each version must carry: {Sid: (Principal, organisation id)}.
PRINCIPAL_KINDS = {
    "public": {"public": ("*", None)},
    "111122223333 444455556666": {
        "account-111122223333": ("111122223333", None),
        "account-444455556666": ("444455556666", None),
    },
    "o-a1b2c3d4e5": {"organization-o-a1b2c3d4e5": ("*", "o-a1b2c3d4e5")},
}


def publish_lines(proc):
    """What scripts/publish.sh said on stderr (make adds its own lines)."""
    return [line for line in proc.stderr.splitlines() if line.startswith("publish: ")]


def layers_of(project):
    return json.loads((project / "dist" / "layers.json").read_text())["layers"]


def statements(env, region, layer, version):
    """The version's policy statements, read back with get-layer-version-policy."""
    policy = aws(
        env, "--region", region, "lambda", "get-layer-version-policy",
        "--layer-name", layer, "--version-number", str(version),
    )
    return json.loads(policy["Policy"])["Statement"]


def assert_shared(env, region, layer, version, expected):
    got = statements(env, region, layer, version)
    assert sorted(s["Sid"] for s in got) == sorted(expected), got  # each exactly once
    for statement in got:
        principal, org = expected[statement["Sid"]]
        assert statement["Action"] == "lambda:GetLayerVersion"
        assert statement["Principal"] in (principal, {"AWS": "arn:aws:iam::%s:root" % principal})
        if org:
            # moto keeps the request's field; AWS turns it into a condition.
            assert org in (
                statement.get("OrganizationId"),
                statement.get("Condition", {}).get("StringEquals", {}).get("aws:PrincipalOrgID"),
            ), statement


def versions_in(env, region, layer):
    listed = aws(env, "--region", region, "lambda", "list-layer-versions", "--layer-name", layer)
    return sorted(v["Version"] for v in listed["LayerVersions"])


@pytest.mark.parametrize("architecture", ["both"])
@pytest.mark.parametrize("principal", list(PRINCIPAL_KINDS), ids=["public", "accounts", "organization"])
def test_publish_to_two_regions_shares_checks_and_lists_every_version(project, moto_env, principal):
    arns = publish(project, moto_env, "REGIONS=%s" % " ".join(REGIONS), "LAYER_PRINCIPAL=" + principal, "VERSION=v2.0.0")

    expected = PRINCIPAL_KINDS[principal]
    layers = layers_of(project)
    assert [(l["region"], l["architecture"]) for l in layers] == [
        (region, LAMBDA_ARCHES[g]) for region in REGIONS for g in GOARCHES["both"]
    ]
    assert [l["arn"] for l in layers] == arns
    for entry in layers:
        region, arch, layer = entry["region"], entry["architecture"], entry["layer"]
        assert layer == "%s-%s" % (EXTENSION, arch)
        # Listed back per region.
        assert versions_in(moto_env, region, layer) == [1] == [entry["version"]]
        assert ARN.match(entry["arn"]).group(1, 3, 4) == (region, layer, "1")
        version = aws(
            moto_env, "--region", region, "lambda", "get-layer-version",
            "--layer-name", layer, "--version-number", "1",
        )
        assert version["CompatibleArchitectures"] == [arch]
        assert version["Description"] == "%s Version v2.0.0, %s." % (BASE_ANSWERS["description"], arch)
        zip_path = project / entry["zip"]
        assert entry["sha256"] == hashlib.sha256(zip_path.read_bytes()).hexdigest()
        assert version["Content"]["CodeSha256"] == sha256_b64(zip_path)
        assert_shared(moto_env, region, layer, 1, expected)

    markdown = (project / "dist" / "layers.md").read_text()
    print(markdown)
    assert "# Layer versions for v2.0.0" in markdown
    for entry in layers:
        assert "| %s | %s | `%s` | 1 | `%s` |" % (
            entry["region"], entry["architecture"], entry["arn"], entry["sha256"]
        ) in markdown.splitlines()


@pytest.mark.parametrize("architecture", ["both"])
def test_publish_stops_at_a_failing_region_and_a_rerun_finishes_the_rest(project, moto_env):
    env = dict(moto_env, AWS_MAX_ATTEMPTS="1")  # the refused region fails at once, no retries
    layers = ["%s-%s" % (EXTENSION, LAMBDA_ARCHES[g]) for g in GOARCHES["both"]]
    regions = [REGIONS[0], REFUSED_REGION, REGIONS[1]]
    settings = ["LAYER_PRINCIPAL=public", "VERSION=v3.0.0"]

    failed = run(
        ["make", "publish", "REGIONS=" + " ".join(regions), *settings], cwd=project, env=env, check=False
    )

    assert failed.returncode != 0
    last = publish_lines(failed)[-1]
    assert last.startswith("publish: FAILED in region %s: " % REFUSED_REGION), failed.stderr
    assert "run make publish again" in last
    # What was published before the failure is listed; nothing after it was tried.
    assert {(l["region"], l["layer"]) for l in layers_of(project)} == {(REGIONS[0], l) for l in layers}
    for layer in layers:
        assert versions_in(env, REGIONS[0], layer) == [1]
        assert versions_in(env, REGIONS[1], layer) == []

    # The rerun, with the region fixed (dropped here), publishes only what is missing.
    publish(project, env, "REGIONS=" + " ".join(REGIONS), *settings)

    assert [(l["region"], l["layer"], l["version"]) for l in layers_of(project)] == [
        (region, layer, 1) for region in REGIONS for layer in layers
    ]
    for region in REGIONS:
        for layer in layers:
            assert versions_in(env, region, layer) == [1]
            assert_shared(env, region, layer, 1, PRINCIPAL_KINDS["public"])


@pytest.mark.parametrize("architecture", ["x86_64"])
def test_publish_rerun_reuses_versions_and_adds_only_missing_statements(project, moto_env):
    layer = "%s-x86_64" % EXTENSION
    regions = "REGIONS=" + " ".join(REGIONS)
    first = publish(project, moto_env, regions, "LAYER_PRINCIPAL=111122223333", "VERSION=v4.0.0")

    # Same content and version: nothing new is published, an existing statement is no error.
    again = publish(project, moto_env, regions, "LAYER_PRINCIPAL=111122223333", "VERSION=v4.0.0")
    # Sharing with one more principal adds just that statement to the same versions.
    wider = publish(
        project, moto_env, regions, "LAYER_PRINCIPAL=111122223333 o-a1b2c3d4e5", "VERSION=v4.0.0"
    )

    assert first == again == wider
    for region in REGIONS:
        assert versions_in(moto_env, region, layer) == [1]
        assert_shared(
            moto_env, region, layer, 1,
            {
                "account-111122223333": ("111122223333", None),
                "organization-o-a1b2c3d4e5": ("*", "o-a1b2c3d4e5"),
            },
        )


@pytest.mark.parametrize("architecture", ["x86_64"])
@pytest.mark.parametrize(
    "setting, message",
    [
        pytest.param("REGIONS=us-east-1 Europe", "REGIONS: 'Europe' is not a region name", id="region"),
        pytest.param("REGIONS=us-east-1 eu_west_1", "REGIONS: 'eu_west_1' is not a region name", id="region-underscores"),
        pytest.param("LAYER_PRINCIPAL=12345678901", "LAYER_PRINCIPAL: '12345678901' is not an account id (12 digits)", id="account"),
        pytest.param("LAYER_PRINCIPAL=111122223333 abc", "LAYER_PRINCIPAL: 'abc' is not an account id", id="account-in-list"),
        pytest.param("LAYER_PRINCIPAL=o-ABCDEFGHIJ", "LAYER_PRINCIPAL: 'o-ABCDEFGHIJ' is not an organisation id", id="organization-upper-case"),
        pytest.param("LAYER_PRINCIPAL=o-short", "LAYER_PRINCIPAL: 'o-short' is not an organisation id", id="organization-short"),
        pytest.param("LAYER_PRINCIPAL=public 111122223333", "LAYER_PRINCIPAL: 'public' shares with everyone; give it alone", id="public-and-more"),
    ],
)
def test_publish_refuses_bad_settings_before_publishing_anything(project, moto_env, setting, message):
    proc = run(["make", "publish", "REGIONS=us-east-1", setting], cwd=project, env=moto_env, check=False)

    assert proc.returncode != 0
    # One line, naming the setting and the bad value.
    lines = publish_lines(proc)
    assert len(lines) == 1 and lines[0].startswith("publish: " + message), proc.stderr
    for region in ("us-east-1", "eu-west-1"):
        assert aws(moto_env, "--region", region, "lambda", "list-layers")["Layers"] == []


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
