"""Bad answers are refused before anything is rendered, with a message naming
the variable and no project left behind; answers full of quotes, backslashes
and braces are data and bake fine."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO_ROOT, go_env, require_tool, run
from test_render import CloudFormationLoader

# Valid values for every text answer, so a case changes exactly one of them
# (project_slug, extension_name and go_module are derived, so set explicitly).
VALID = {
    "project_name": "Data Answers",
    "project_slug": "data-answers",
    "extension_name": "data-answers",
    "go_module": "example.com/data-answers",
}

# (variable, bad value, pattern of the line naming it). Values cookiecutter
# itself refuses before the hook runs (choices, undefined Jinja names) have
# cookiecutter's own wording; the rest are refused by hooks/pre_gen_project.py.
HOOK = r"^ERROR: {var} "
CHOICE = r"provided for choice variable {var}\b"
# An empty slug renders the project directory as the output directory itself,
# which cookiecutter refuses before any hook runs, without naming the variable.
EMPTY_SLUG = r'^Error: ".*" directory already exists'
REJECTIONS = [
    ("extension_name", "my/ext", HOOK),
    ("extension_name", "my ext", HOOK),
    ("extension_name", "..", HOOK),
    ("extension_name", "1ext", HOOK),
    ("extension_name", "", HOOK),
    ("extension_name", "ext-", HOOK),
    ("go_module", "github.com/acme/my ext", HOOK),
    ("go_module", "UPPER.com/x", HOOK),
    ("go_module", "a//b", HOOK),
    ("go_module", "github.com/acme/x/", HOOK),
    ("go_module", ".hidden", HOOK),
    ("go_module", "", HOOK),
    ("project_slug", "My Slug", HOOK),
    ("project_slug", "../escape", HOOK),
    ("project_slug", "-dash", HOOK),
    ("project_slug", "", EMPTY_SLUG),
    ("project_name", "", HOOK),
    ("project_name", "two\nlines", HOOK),
    ("project_name", "{{ undefined_name }}", r"Unable to render variable '{var}'"),
    ("description", "first line\nsecond line", HOOK),
    ("description", " padded", HOOK),
    ("author", "Ann\nBob", HOOK),
    ("processing", "parallel", CHOICE),
    ("architecture", "amd64", CHOICE),
    ("architecture", "x86", CHOICE),
    ("license", "GPL-3.0", CHOICE),
    ("go_version", "1.20", HOOK),
    ("go_version", "latest", HOOK),
    ("go_version", "1.24rc1", HOOK),
    ("go_version", "", HOOK),
]


def case_id(case):
    variable, value, _ = case
    return "%s=%s" % (variable, value.encode("unicode_escape").decode() or "<empty>")


def bake_cli(output_dir, config_file, answers):
    """Run the cookiecutter CLI like a user, without prompts."""
    args = [
        sys.executable,
        "-m",
        "cookiecutter",
        "--no-input",
        "--config-file",
        str(config_file),
        "-o",
        str(output_dir),
        str(REPO_ROOT),
    ]
    args += ["%s=%s" % item for item in answers.items()]
    return subprocess.run(
        args, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("case", [pytest.param(c, id=case_id(c)) for c in REJECTIONS])
def test_bad_answer_is_rejected(tmp_path, cookiecutter_config, case):
    variable, value, pattern = case
    output_dir = tmp_path / "out"
    output_dir.mkdir()
    answers = {**VALID, variable: value}

    proc = bake_cli(output_dir, cookiecutter_config, answers)

    assert proc.returncode != 0, proc.stdout + proc.stderr
    naming = re.compile(pattern.format(var=re.escape(variable)), re.MULTILINE)
    output = proc.stderr if pattern == HOOK else proc.stdout + proc.stderr
    assert naming.search(output), "no line names %s:\n%s" % (variable, output[-3000:])
    if pattern == HOOK:
        # Only the bad answer is reported.
        reported = set(re.findall(r"^ERROR: (\w+) ", proc.stderr, re.MULTILINE))
        assert reported == {variable}
    # Nothing is left behind: no project, not a single file. (A slug with a '/'
    # could leave an empty parent directory, which cookiecutter does not remove.)
    assert not (output_dir / (answers["project_slug"] or "_")).exists()
    assert [p for p in output_dir.rglob("*") if not p.is_dir()] == []


# Answers that look like code in every language the template renders to.
DATA_ANSWERS = {
    "project_name": "He said \"hi\" \\ {x} }} '; $(id) `id` OR 1=1 \\",
    "description": "Quotes \"double\" 'single', back\\slash, {braces} }}, $HOME, <b>&amp;",
    "author": "O'Brien \"The Builder\" \\ {team}",
}


def test_answers_are_data(tmp_path, cookiecutter_config):
    """Quotes, backslashes and braces in answers reach the hooks and files as text."""
    output_dir = tmp_path / "out"
    answers = {**DATA_ANSWERS, "project_slug": "data-answers"}

    proc = bake_cli(output_dir, cookiecutter_config, answers)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    project = output_dir / "data-answers"
    assert (project / "go.mod").is_file()
    assert (project / "processor" / "processor.go").is_file()
    # The description reaches template.yaml as the same text.
    template = yaml.load((project / "template.yaml").read_text(encoding="utf-8"), CloudFormationLoader)
    assert template["Description"] == DATA_ANSWERS["description"]
    # Whatever the Go code does with the answers, it still compiles and is gofmt-clean.
    require_tool("go")
    assert run([require_tool("gofmt"), "-l", "."], cwd=project).stdout == ""
    run(["go", "vet", "./..."], cwd=project, env=go_env())


def test_jinja_in_an_answer_is_rendered_by_cookiecutter(tmp_path, cookiecutter_config):
    """cookiecutter renders answers as Jinja before the hooks run (its behaviour,
    not ours); the result is still treated as data."""
    output_dir = tmp_path / "out"

    proc = bake_cli(
        output_dir,
        cookiecutter_config,
        {"project_name": 'Say {{ "hi" | upper }}', "project_slug": "say-hi"},
    )

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (output_dir / "say-hi" / "go.mod").is_file()
    replay = json.loads((replay_dir(cookiecutter_config) / (REPO_ROOT.name + ".json")).read_text())
    assert replay["cookiecutter"]["project_name"] == "Say HI"


def replay_dir(config_file):
    return Path(yaml.safe_load(config_file.read_text())["replay_dir"])
