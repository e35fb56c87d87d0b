"""The rendered repository's shape: the user's processor reads one package
(`extension`), main.go is wiring only, the dev tools are a module of their own,
staticcheck is clean, and the project's own tests survive replacing the demo
processor with a different one."""

import re
import shutil

import pytest

from conftest import (
    BASE_ANSWERS,
    GO_SOURCE_PARAMS,
    REPO_ROOT,
    TEMPLATE_PROJECT,
    go_install,
    project_of,
    require_tool,
    run,
)

MODULE = BASE_ANSWERS["go_module"]
STATICCHECK = "honnef.co/go/tools/cmd/staticcheck"
STATICCHECK_VERSION = "v0.7.0"  # staticcheck 2026.1
FIXTURES = REPO_ROOT / "tests" / "fixtures"

IMPORT_BLOCK = re.compile(r"^import \((.*?)^\)", re.MULTILINE | re.DOTALL)
IMPORT_LINE = re.compile(r'^import (?:\w+ )?"([^"]+)"', re.MULTILINE)


def imports(source):
    """Import paths of one Go file."""
    paths = IMPORT_LINE.findall(source)
    for block in IMPORT_BLOCK.findall(source):
        paths += re.findall(r'"([^"]+)"', block)
    return paths


@pytest.fixture(scope="session")
def staticcheck(request, tmp_path_factory):
    return go_install(request, tmp_path_factory, STATICCHECK, STATICCHECK_VERSION, "staticcheck")


def test_main_go_template_has_no_jinja_blocks():
    [main_go] = TEMPLATE_PROJECT.glob("cmd/*/main.go")
    text = main_go.read_text(encoding="utf-8")

    assert "{%" not in text
    code = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("//")]
    assert len(code) <= 15, "main.go is wiring only:\n" + "\n".join(code)


@pytest.mark.parametrize("options", GO_SOURCE_PARAMS)
def test_processor_imports_only_the_extension_api(baked, options):
    project = project_of(baked(**options))
    allowed = {MODULE + "/extension"} | ({MODULE + "/extension/telemetry"} if options["telemetry"] else set())

    files = sorted((project / "processor").glob("*.go"))
    assert files
    for path in files:
        own = {p for p in imports(path.read_text(encoding="utf-8")) if p.startswith(MODULE + "/")}
        assert own <= allowed, "%s imports %s" % (path.name, sorted(own - allowed))


@pytest.mark.parametrize("options", GO_SOURCE_PARAMS)
def test_the_shipped_module_lists_no_dev_tool(baked, options):
    require_tool("go")
    project = project_of(baked(**options))

    go_mod = (project / "tools" / "go.mod").read_text(encoding="utf-8")
    assert "module %s/tools" % MODULE in go_mod
    assert "replace %s => ../" % MODULE in go_mod
    shipped = run(["go", "list", "./..."], cwd=project).stdout.split()
    assert shipped and all(p.startswith(MODULE) for p in shipped)
    for tool in ("emulator", "bench", "layerzip", "e2e", "/tools"):
        assert not [p for p in shipped if tool in p], "go list ./... lists %s:\n%s" % (tool, "\n".join(shipped))
    tools = run(["go", "list", "./..."], cwd=project / "tools").stdout.split()
    assert MODULE + "/tools/internal/emulator" in tools


@pytest.mark.parametrize("options", GO_SOURCE_PARAMS)
def test_staticcheck_is_clean(baked, options, staticcheck):
    project = project_of(baked(**options))

    for module in (project, project / "tools"):
        proc = run([staticcheck, "./..."], cwd=module, check=False)
        assert proc.returncode == 0, "staticcheck in %s:\n%s%s" % (module.name, proc.stdout, proc.stderr)


def fixture_processor(options):
    name = "processor_%s%s.go" % (options["processing"], "_telemetry" if options["telemetry"] else "")
    return (FIXTURES / name).read_text(encoding="utf-8").replace("MODULE/", MODULE + "/")


@pytest.mark.parametrize("options", GO_SOURCE_PARAMS)
def test_make_test_passes_with_another_processor(baked, options, tmp_path):
    """Nothing outside processor/ may depend on what the demo processor does."""
    require_tool("make")
    require_tool("gcc")  # the race detector needs cgo
    project = tmp_path / "project"
    shutil.copytree(
        project_of(baked(**options)), project, ignore=shutil.ignore_patterns("build", "dist", ".aws-sam")
    )
    shutil.rmtree(project / "processor")
    (project / "processor").mkdir()
    (project / "processor" / "processor.go").write_text(fixture_processor(options), encoding="utf-8")

    run(["make", "test"], cwd=project)
    run(["make", "local"], cwd=project)
