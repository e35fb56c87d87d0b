"""Every supported combination is a working Go project: formatted, vetted,
tested with -race, cross-compiled to static Linux binaries and packaged as
reproducible layer zips."""

import stat
import zipfile

import pytest

from conftest import (
    AXES,
    BASE_ANSWERS,
    COMBINATION_PARAMS,
    GO_SOURCE_PARAMS,
    GOARCHES,
    assert_static_executable,
    go_env,
    project_of,
    require_tool,
    run,
)

EXTENSION = BASE_ANSWERS["extension_name"]


@pytest.fixture
def project(baked, options):
    require_tool("go")
    require_tool("make")
    return project_of(baked(**options))


@pytest.mark.parametrize("options", COMBINATION_PARAMS)
def test_make_fmt_check(project):
    run(["make", "fmt-check"], cwd=project)


def go_sources(result):
    """{relative path: content} of every Go source and go.mod in a fresh bake."""
    project = project_of(result)
    return {
        str(path): (project / path).read_bytes()
        for path in result.rendered_files
        if path.suffix == ".go" or path.name in ("go.mod", "go.sum")
    }


@pytest.mark.parametrize("options", GO_SOURCE_PARAMS)
def test_architecture_answer_changes_no_go_source(baked, options):
    """Why make test runs once per GO_SOURCE_PARAMS, not per architecture."""
    sources = go_sources(baked(**options))
    assert "go.mod" in sources and len(sources) > 10, sorted(sources)
    for architecture in AXES["architecture"]:
        other = go_sources(baked(**{**options, "architecture": architecture}))
        assert other == sources, "architecture=%s renders different Go code" % architecture


@pytest.mark.parametrize("options", GO_SOURCE_PARAMS)
def test_make_test_vets_and_passes_with_race(project):
    require_tool("gcc")  # the race detector needs cgo
    # A hung test fails within minutes, with goroutine dumps, instead of
    # holding CI for go test's default ten minutes per combination.
    proc = run(["make", "test", "GO_TEST_FLAGS=-timeout=3m"], cwd=project)

    # Both modules: the extension's, and the dev tools' in tools/ (emulator, bench,
    # layerzip, end-to-end tests); -short leaves the long scenarios to test-all.
    for command in (
        "go vet ./...",
        "go -C tools vet ./...",
        "go test -race -short -timeout=3m ./...",
        "go -C tools test -race -short -timeout=3m ./...",
    ):
        assert command in proc.stdout, command
    assert "/tools/e2e" in proc.stdout
    # The shipped module holds none of the tools.
    packages = run(["go", "list", "./..."], cwd=project).stdout.split()
    assert packages and not [p for p in packages if "/tools" in p], packages


@pytest.mark.parametrize("options", GO_SOURCE_PARAMS)
def test_make_test_all_runs_the_long_scenarios(project):
    require_tool("gcc")
    proc = run(["make", "test-all", "GO_TEST_FLAGS=-timeout=5m -v"], cwd=project)

    assert "go -C tools test -race -timeout=5m -v ./..." in proc.stdout
    assert "-short" not in proc.stdout
    # The /event/next held for 35s, which make test skips, ran and passed.
    assert "--- PASS: TestExtensionWaitsOnAHeldNext" in proc.stdout


@pytest.mark.parametrize("options", COMBINATION_PARAMS)
def test_make_build_gives_static_linux_binaries(project, options):
    run(["make", "build"], cwd=project)

    expected = GOARCHES[options["architecture"]]
    # build/local holds make local's host binary (test_emulator shares this bake).
    built = sorted(p.name for p in (project / "build").iterdir() if p.name != "local")
    assert built == sorted(expected)
    for goarch in expected:
        assert_static_executable(project / "build" / goarch / "extensions" / EXTENSION, goarch)


def read_layer(path):
    """Entries of a layer zip as {name: (unix mode, content)}."""
    with zipfile.ZipFile(path) as layer:
        assert layer.testzip() is None, "%s: corrupt entry" % path
        return {
            info.filename: (info.external_attr >> 16, layer.read(info))
            for info in layer.infolist()
        }


@pytest.mark.parametrize("options", COMBINATION_PARAMS)
def test_make_layer_gives_reproducible_layer_zips(project, options):
    expected = GOARCHES[options["architecture"]]
    zips = [project / "dist" / ("%s-%s.zip" % (EXTENSION, goarch)) for goarch in expected]

    run(["make", "layer"], cwd=project)
    first = [z.read_bytes() for z in zips]
    run(["make", "layer"], cwd=project)  # rebuilds the binaries and the zips

    assert sorted(p.name for p in (project / "dist").iterdir()) == sorted(z.name for z in zips)
    for goarch, zip_path, before in zip(expected, zips, first):
        assert zip_path.read_bytes() == before, "%s differs between two builds" % zip_path.name
        entries = read_layer(zip_path)
        assert set(entries) - {"extensions/"} == {"extensions/" + EXTENSION}
        mode, content = entries["extensions/" + EXTENSION]
        assert stat.S_ISREG(mode) and stat.S_IMODE(mode) == 0o755, oct(mode)
        assert content == (project / "build" / goarch / "extensions" / EXTENSION).read_bytes()
        if "extensions/" in entries:
            dir_mode, _ = entries["extensions/"]
            assert stat.S_ISDIR(dir_mode) and stat.S_IMODE(dir_mode) == 0o755, oct(dir_mode)


@pytest.mark.parametrize("options", COMBINATION_PARAMS[:1])
def test_make_without_target_lists_the_targets(project):
    proc = run(["make"], cwd=project)

    listed = {line.split()[0] for line in proc.stdout.splitlines() if line.startswith("  ")}
    assert {"help", "build", "layer", "test", "test-all", "fmt", "fmt-check", "clean", "local", "bench"} <= listed


@pytest.mark.parametrize("options", COMBINATION_PARAMS[:1])
def test_sam_build_target_refuses_to_run_without_artifacts_dir(project):
    env_without = {k: v for k, v in go_env().items() if k != "ARTIFACTS_DIR"}
    proc = run(["make", "build-ExtensionLayerX86"], cwd=project, env=env_without, check=False)

    assert proc.returncode != 0
    assert "ARTIFACTS_DIR is not set" in proc.stderr


@pytest.mark.parametrize("processing", AXES["processing"])
def test_oldest_allowed_go_directive_vets(baked, processing):
    """go_version offers 1.26, the oldest Go release the Go team still supports;
    go vet checks the code against that language version and standard library
    (no newer APIs), so every answer builds."""
    require_tool("go")
    project = project_of(baked(processing=processing, architecture="x86_64", go_version="1.26"))

    run(["go", "vet", "./..."], cwd=project)
    run(["go", "vet", "./..."], cwd=project / "tools")
