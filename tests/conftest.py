"""Shared helpers and fixtures for the template's test suite.

Everything slow happens once per session: each answer combination is baked once
(``baked``) and every Go build shares the default Go build cache.
"""

import itertools
import json
import os
import shutil
import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PROJECT = REPO_ROOT / "{{cookiecutter.project_slug}}"

# Answers every combination shares. On purpose not the defaults: the extension
# name differs from the slug and the module path from the default, so a file
# that uses the wrong variable shows in the rendered output.
BASE_ANSWERS = {
    "project_name": "Acme Order Shipper",
    "project_slug": "acme-order-shipper",
    "extension_name": "order-shipper",
    "go_module": "example.com/acme/order-shipper",
    "description": "Ships order events out of Lambda.",
    "author": "Acme Platform Team",
}

# The option axes of the supported combinations. A new option (e.g. a
# telemetry yes/no axis) is one more entry here; COMBINATIONS, their test ids
# and every parametrized test follow.
AXES = {
    "processing": ["sync", "async"],
    "architecture": ["x86_64", "arm64", "both"],
    "telemetry": [False, True],
}

COMBINATIONS = [dict(zip(AXES, values)) for values in itertools.product(*AXES.values())]


def combination_id(options):
    """Test id such as "async-both"; a yes/no axis shows as "telemetry=true"."""
    return "-".join(
        value if isinstance(value, str) else "%s=%s" % (axis, json.dumps(value))
        for axis, value in ((axis, options[axis]) for axis in AXES)
    )


COMBINATION_PARAMS = [pytest.param(c, id=combination_id(c)) for c in COMBINATIONS]

# The architecture answer changes only the Makefile, template.yaml and docs, never a
# Go file (test_go checks that). Tests that run the Go code itself (go test, the
# emulator) need one bake per value of the other axes: architecture "both" builds all.
GO_SOURCE_COMBINATIONS = [c for c in COMBINATIONS if c["architecture"] == "both"]
GO_SOURCE_PARAMS = [pytest.param(c, id=combination_id(c)) for c in GO_SOURCE_COMBINATIONS]

# What each architecture answer builds: Go architectures, their SAM layer
# logical ids and ELF machine numbers.
GOARCHES = {"x86_64": ["amd64"], "arm64": ["arm64"], "both": ["amd64", "arm64"]}
LAYER_IDS = {"amd64": "ExtensionLayerX86", "arm64": "ExtensionLayerArm64"}
ELF_MACHINES = {"amd64": 62, "arm64": 183}  # EM_X86_64, EM_AARCH64


# ---- tools -----------------------------------------------------------------


def require_tool(name):
    """Return the path of a command-line tool the test needs.

    Missing tools skip the test on a developer machine (with the reason), but
    fail it in CI (CI=true), where every tool must be installed.
    """
    path = shutil.which(name)
    if path:
        return path
    message = "%r is not installed (not found on PATH)" % name
    if os.environ.get("CI") == "true":
        pytest.fail(message + "; CI must provide it", pytrace=False)
    pytest.skip(message)


def go_env(**extra):
    """Environment for building a baked project: offline, with the local Go.

    Baked projects use the standard library only, so they must build with the
    Go toolchain on this machine and no module downloads. The default GOCACHE
    is kept, so all baked projects share one build cache.
    """
    env = dict(os.environ)
    for key in ("GOOS", "GOARCH", "CGO_ENABLED", "GOWORK"):
        env.pop(key, None)  # a developer's shell must not change what is built
    env.update(GOTOOLCHAIN="local", GOFLAGS="-mod=readonly", GOPROXY="off")
    env.update(extra)
    return env


def run(args, cwd, env=None, timeout=600, check=True):
    """Run a command; on failure (check=True) fail the test with its output."""
    started = time.monotonic()
    proc = subprocess.run(
        [str(a) for a in args],
        cwd=str(cwd),
        env=env if env is not None else go_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        pytest.fail(
            "%s exited %d after %.1fs in %s\n--- stdout ---\n%s\n--- stderr ---\n%s"
            % (
                " ".join(str(a) for a in args),
                proc.returncode,
                time.monotonic() - started,
                cwd,
                proc.stdout[-6000:],
                proc.stderr[-6000:],
            ),
            pytrace=False,
        )
    return proc


# ---- baking ----------------------------------------------------------------


@pytest.fixture(scope="session")
def baked(cookies_session):
    """Factory: bake a set of answers once per session and return the Result.

    ``baked(processing="async", architecture="both")`` bakes BASE_ANSWERS with
    those options; results are cached by the full answers, so every test of a
    combination sees the same project directory.
    """
    cache = {}

    def bake(**options):
        answers = {**BASE_ANSWERS, **options}
        key = json.dumps(answers, sort_keys=True)
        if key not in cache:
            result = cookies_session.bake(extra_context=answers, template=str(REPO_ROOT))
            # Later tests build inside the project; remember what was rendered.
            result.rendered_files = rendered_files(result.project_path) if result.project_path else []
            cache[key] = result
        return cache[key]

    return bake


def rendered_files(project):
    """Paths (relative, sorted) of all files in a freshly baked project."""
    return sorted(p.relative_to(project) for p in project.rglob("*") if p.is_file())


def project_of(result):
    """The baked project directory; fails the test if the bake failed."""
    if result.exception is not None or result.exit_code != 0:
        pytest.fail(
            "bake failed (exit code %r): %r" % (result.exit_code, result.exception), pytrace=False
        )
    return result.project_path


@pytest.fixture(scope="session")
def cookiecutter_config(tmp_path_factory):
    """A cookiecutter user config that keeps replay files out of the home directory."""
    root = tmp_path_factory.mktemp("cookiecutter-user")
    config = root / "config.yaml"
    config.write_text(
        "cookiecutters_dir: %s\nreplay_dir: %s\n"
        % (json.dumps(str(root / "cookiecutters")), json.dumps(str(root / "replay")))
    )
    return config


# ---- AWS tools ---------------------------------------------------------------


@pytest.fixture(scope="session")
def aws_env(tmp_path_factory):
    """Environment for sam and aws: a fixed region, no telemetry, no version
    check, no instance metadata lookups, and empty AWS config files, so no
    command can reach AWS or use anyone's credentials."""
    root = tmp_path_factory.mktemp("aws-home")
    sam_dir = root / "sam"
    sam_dir.mkdir()
    # A recent lastVersionCheck stops sam from asking PyPI for a newer version.
    (sam_dir / "metadata.json").write_text(
        json.dumps({"telemetryEnabled": False, "lastVersionCheck": time.time()})
    )
    (root / "config").write_text("")
    (root / "credentials").write_text("")
    env = go_env(
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        AWS_CONFIG_FILE=str(root / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(root / "credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        SAM_CLI_TELEMETRY="0",
        __SAM_CLI_APP_DIR=str(sam_dir),
    )
    for key in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        env.pop(key, None)
    return env


# ---- binaries ----------------------------------------------------------------


@dataclass
class Elf:
    machine: int
    type: int
    interpreter: bool  # has a PT_INTERP program header (dynamically linked)


def read_elf(path):
    """Parse the ELF header and program headers of a 64-bit little-endian file."""
    data = Path(path).read_bytes()
    assert data[:4] == b"\x7fELF", "%s is not an ELF file" % path
    assert data[4] == 2, "%s is not a 64-bit ELF file" % path
    assert data[5] == 1, "%s is not little-endian" % path
    e_type, e_machine = struct.unpack_from("<HH", data, 16)
    (e_phoff,) = struct.unpack_from("<Q", data, 32)
    e_phentsize, e_phnum = struct.unpack_from("<HH", data, 54)
    p_types = [struct.unpack_from("<I", data, e_phoff + i * e_phentsize)[0] for i in range(e_phnum)]
    return Elf(machine=e_machine, type=e_type, interpreter=3 in p_types)  # 3 = PT_INTERP


def assert_static_executable(path, goarch):
    """A Linux executable for goarch, statically linked, executable by all."""
    elf = read_elf(path)
    assert elf.machine == ELF_MACHINES[goarch], "%s: ELF machine %d, want %d (%s)" % (
        path,
        elf.machine,
        ELF_MACHINES[goarch],
        goarch,
    )
    assert elf.type == 2, "%s: ELF type %d, want 2 (ET_EXEC)" % (path, elf.type)
    assert not elf.interpreter, "%s has a PT_INTERP header: dynamically linked" % path
    mode = path.stat().st_mode & 0o777
    assert mode & 0o111 == 0o111, "%s: mode %o, not executable by all" % (path, mode)


# ---- Go tools from the module proxy --------------------------------------------


def go_install(request, tmp_path_factory, module, version, name):
    """Path of a Go command installed with `go install module@version` into
    pytest's cache directory (kept between runs), through the Go module proxy.

    Without network the install fails: the test skips with the reason locally
    and fails in CI (CI=true)."""
    go = require_tool("go")
    cache = getattr(request.config, "cache", None)  # absent with -p no:cacheprovider
    gobin = (
        Path(cache.mkdir("%s-%s" % (name, version)))
        if cache is not None
        else tmp_path_factory.mktemp(name)
    )
    binary = gobin / name
    if binary.is_file() and os.access(binary, os.X_OK):
        return binary
    drop = ("GOOS", "GOARCH", "GOFLAGS", "GOWORK", "GOTOOLCHAIN")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    if env.get("GOPROXY") == "off":  # the suite's offline setting for baked projects
        del env["GOPROXY"]
    env.update(GOBIN=str(gobin), CGO_ENABLED="0")
    proc = run([go, "install", "%s@%s" % (module, version)], cwd=gobin, env=env, timeout=600, check=False)
    if proc.returncode != 0 or not binary.is_file():
        message = "go install %s@%s failed (exit %d): %s" % (
            module,
            version,
            proc.returncode,
            proc.stderr.strip()[-2000:],
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message + " (no network to the Go module proxy?)")
    return binary
