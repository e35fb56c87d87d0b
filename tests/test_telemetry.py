"""The telemetry option: a boolean however it is given (command line yes/no, Python
True/False), refused when it is not one, and removing every trace of the Telemetry API
code when off. The baked projects' Go tests (test_go.py, over the telemetry axis) run
the listener, the processor and the end-to-end runs under the emulator."""

import json
import re

import pytest

from conftest import BASE_ANSWERS, REPO_ROOT, project_of
from test_hooks import VALID, bake_cli, replay_dir

PREFIX = BASE_ANSWERS["extension_name"].upper().replace("-", "_") + "_"
ENV_VARS = [
    "TELEMETRY_TYPES",
    "TELEMETRY_MAX_ITEMS",
    "TELEMETRY_MAX_BYTES",
    "TELEMETRY_TIMEOUT_MS",
    "TELEMETRY_PORT",
]
# Files and directories that exist only with telemetry on.
TELEMETRY_ONLY = [
    "extension/internal/telemetryapi",
    "extension/telemetry",
    "extension/telemetry.go",
    "processor/telemetry.go",
    "processor/telemetry_test.go",
    "tools/e2e/telemetry_e2e_test.go",
]
# ... and only with it off: the stand-in that plans no subscription.
NO_TELEMETRY_ONLY = ["extension/notelemetry.go"]
# The emulator in tools/ stays complete, Telemetry API included, either way.
ALWAYS = ["tools/internal/emulator/telemetry.go", "tools/internal/emulator/telemetry_test.go"]
# Go import of a telemetry package, whatever the module path.
IMPORT = re.compile(r'"[^"]+/extension/(internal/telemetryapi|telemetry)"')


def go_files(project):
    return {p.relative_to(project).as_posix(): p.read_text(encoding="utf-8") for p in project.rglob("*.go")}


def assert_telemetry(project, on):
    for relative in TELEMETRY_ONLY:
        assert (project / relative).exists() == on, relative
    for relative in NO_TELEMETRY_ONLY:
        assert (project / relative).exists() != on, relative
    for relative in ALWAYS:
        assert (project / relative).exists(), relative
    files = go_files(project)
    extension = "\n".join(text for path, text in files.items() if path.startswith("extension/"))
    assert ("type TelemetryHandler interface" in extension) == on
    for name in ENV_VARS:
        assert (name in extension) == on, name
    assert ("func (p *Processor) Telemetry(" in files["processor/processor.go"]) == on
    if not on:
        # No dead code: nothing imports a package that is not there.
        importers = sorted(path for path, text in files.items() if IMPORT.search(text))
        assert importers == []


# What cookiecutter 2.7.1 turns a command-line answer into (YesNoPrompt).
CLI_BOOLEANS = [
    ("yes", True),
    ("no", False),
    ("true", True),
    ("false", False),
    ("on", True),
    ("off", False),
    ("1", True),
    ("0", False),
    ("Y", True),
    ("N", False),
]


@pytest.mark.parametrize("text, expected", CLI_BOOLEANS, ids=[c[0] for c in CLI_BOOLEANS])
def test_command_line_answer_becomes_a_boolean(tmp_path, cookiecutter_config, text, expected):
    output_dir = tmp_path / "out"

    proc = bake_cli(output_dir, cookiecutter_config, {**VALID, "telemetry": text})

    assert proc.returncode == 0, proc.stdout + proc.stderr
    replay = json.loads((replay_dir(cookiecutter_config) / (REPO_ROOT.name + ".json")).read_text())
    assert replay["cookiecutter"]["telemetry"] is expected
    assert_telemetry(output_dir / VALID["project_slug"], expected)


def test_command_line_default_is_off(tmp_path, cookiecutter_config):
    output_dir = tmp_path / "out"

    proc = bake_cli(output_dir, cookiecutter_config, VALID)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert_telemetry(output_dir / VALID["project_slug"], False)


def test_command_line_refuses_a_non_boolean(tmp_path, cookiecutter_config):
    output_dir = tmp_path / "out"
    output_dir.mkdir()

    proc = bake_cli(output_dir, cookiecutter_config, {**VALID, "telemetry": "maybe"})

    assert proc.returncode != 0
    assert "maybe provided for variable telemetry could not be converted to a boolean" in proc.stderr
    assert list(output_dir.iterdir()) == []


@pytest.mark.parametrize("value", [True, False])
def test_python_booleans_reach_the_templates(baked, value):
    result = baked(processing="async", architecture="x86_64", telemetry=value)

    assert result.context["telemetry"] is value
    assert_telemetry(project_of(result), value)


@pytest.mark.parametrize("value", [1, None, ["yes"]], ids=["number", "null", "list"])
def test_hook_refuses_what_is_not_a_boolean(cookies, capfd, value):
    """Through the Python API a number or null is not converted; the pre-gen hook
    refuses it instead of letting the templates treat it as true or false."""
    result = cookies.bake(extra_context={"telemetry": value}, template=str(REPO_ROOT))

    assert result.exit_code != 0
    assert result.project_path is None or not result.project_path.exists()
    assert re.search(r"^ERROR: telemetry must be true or false", capfd.readouterr().err, re.MULTILINE)


@pytest.mark.parametrize("processing", ["sync", "async"])
def test_on_documents_every_setting(baked, processing):
    project = project_of(baked(processing=processing, architecture="x86_64", telemetry=True))

    readme = (project / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Telemetry", 1)
    assert len(section) == 2, "rendered README has no Telemetry section"
    for name in ENV_VARS:
        assert PREFIX + name in section[1], name


@pytest.mark.parametrize("processing", ["sync", "async"])
def test_off_readme_has_no_telemetry_section(baked, processing):
    project = project_of(baked(processing=processing, architecture="x86_64", telemetry=False))

    readme = (project / "README.md").read_text(encoding="utf-8")
    assert "## Telemetry" not in readme
    assert PREFIX + "TELEMETRY_PORT" not in readme


def test_template_readme_lists_the_variable():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")

    assert re.search(r"^\| `telemetry` \|", readme, re.MULTILINE), "no `telemetry` row in the variables table"
