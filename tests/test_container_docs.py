"""The rendered README's container-image recipe works as written.

There is no Docker daemon in the suite, so the Dockerfile's build stage runs
as the shell command it is (in a copy of the project, with TARGETARCH set the
way `docker build --platform` sets it); the test then checks what the final
stage copies into /opt/extensions/."""

import re
import shutil

import pytest

from conftest import BASE_ANSWERS, assert_static_executable, go_env, project_of, require_tool, run

EXTENSION = BASE_ANSWERS["extension_name"]


def dockerfile_of(readme):
    blocks = re.findall(r"```dockerfile\n(.*?)```", readme, flags=re.S)
    assert len(blocks) == 1, "want one dockerfile block in README.md, found %d" % len(blocks)
    return blocks[0]


@pytest.fixture
def project(baked):
    require_tool("go")
    require_tool("make")
    return project_of(baked(processing="sync", architecture="x86_64"))


@pytest.mark.parametrize("goarch", ["amd64", "arm64"])
def test_readme_dockerfile_puts_the_extension_in_opt_extensions(project, goarch, tmp_path):
    dockerfile = dockerfile_of((project / "README.md").read_text())
    lines = [line.strip() for line in dockerfile.splitlines()]
    assert "ARG TARGETARCH" in lines
    [build] = [line[len("RUN ") :] for line in lines if line.startswith("RUN ")]
    [copy] = [line for line in lines if line.startswith("COPY --from=extension ")]
    _, _, source, destination = copy.split()
    assert destination == "/opt/extensions/"
    assert source.startswith("/") and build.endswith(" " + source.rstrip("/"))

    # The build stage: the project is at WORKDIR, its output dir is under tmp_path.
    workdir = tmp_path / "src"
    shutil.copytree(project, workdir, ignore=shutil.ignore_patterns("build", "dist", ".aws-sam"))
    output = tmp_path / source.strip("/")
    command = build[: -len(source.rstrip("/"))] + str(output)
    run(["sh", "-c", command], cwd=workdir, env=go_env(TARGETARCH=goarch))

    # What `COPY --from=extension <source> /opt/extensions/` puts in the image.
    assert sorted(p.name for p in output.iterdir()) == [EXTENSION]
    binary = output / EXTENSION
    assert_static_executable(binary, goarch)
    assert binary.stat().st_mode & 0o777 == 0o755
