"""Bad answers are refused before anything is rendered, with a message naming
the variable and no project left behind; answers full of quotes, backslashes
and braces are data and bake fine."""

import json
import os
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
# itself refuses before any of our code runs (choices, undefined Jinja names) have
# cookiecutter's own wording (and its traceback, for choices); the rest are refused
# with hooks/pre_gen_project.py's line, checked right after their prompt
# (local_extensions.py), before cookiecutter creates the project directory.
HOOK = r"^ERROR: {var} "
CHOICE = r"provided for choice variable {var}\b"
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
    ("project_slug", "", HOOK),
    ("project_slug", "a/b", HOOK),  # used to leave an empty a/ behind
    ("project_slug", "x" * 300, HOOK),  # used to end in an OSError (name too long)
    ("extension_name", "x" * 64, HOOK),
    ("project_name", "x" * 500, HOOK),  # used to end in an OSError before the hook ran
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
    ("go_version", "1.24", CHOICE),  # no longer supported by the Go team
    ("go_version", "1.25", CHOICE),  # unsupported since Go 1.27 (August 2026)
    ("go_version", "1.99", CHOICE),  # not released
    ("go_version", "latest", CHOICE),
    ("go_version", "1.27rc1", CHOICE),
    ("go_version", "", CHOICE),
]


def case_id(case):
    variable, value, _ = case
    if len(value) > 40:
        return "%s=<%d characters>" % (variable, len(value))
    return "%s=%s" % (variable, value.encode("unicode_escape").decode() or "<empty>")


def bake_cli(output_dir, config_file, answers, options=("--no-input",)):
    """Run the cookiecutter CLI like a user, without prompts."""
    args = [
        sys.executable,
        "-m",
        "cookiecutter",
        *options,
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
        # The one line is all there is: no traceback, nothing on stdout.
        assert proc.stderr.count("\n") == 1 and proc.stderr.endswith("\n"), proc.stderr
        assert proc.stdout == ""
    # Nothing is left behind: not a file, not an empty directory.
    assert list(output_dir.iterdir()) == []


def test_bad_answer_stops_right_after_its_prompt(tmp_path, cookiecutter_config):
    """Typed at the prompt, a bad slug is refused before the next prompt is shown."""
    output_dir = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "cookiecutter", "--config-file", str(cookiecutter_config),
         "-o", str(output_dir), str(REPO_ROOT)],
        input="My Ext\na/b\n" + "\n" * 20,  # project_name, project_slug, then defaults
        capture_output=True, text=True, timeout=120,
    )

    assert proc.returncode == 1
    assert proc.stderr.startswith("ERROR: project_slug must be a directory name"), proc.stderr
    # Prompts count the answers that are asked (not the __ ones).
    prompts = sum(1 for key in json.loads((REPO_ROOT / "cookiecutter.json").read_text()) if not key.startswith("_"))
    assert "[2/%d]" % prompts in proc.stdout and "[3/%d]" % prompts not in proc.stdout, proc.stdout
    assert not output_dir.exists()


def test_hook_refuses_what_bypasses_the_prompts(tmp_path, cookiecutter_config):
    """A replay file skips the prompts' checks; pre_gen_project refuses its bad
    answer with its one line, and cookiecutter's traceback is left out."""
    good = bake_cli(tmp_path / "first", cookiecutter_config, {"project_name": "Replayed"})
    assert good.returncode == 0, good.stdout + good.stderr
    replay = json.loads((replay_dir(cookiecutter_config) / (REPO_ROOT.name + ".json")).read_text())
    replay["cookiecutter"]["extension_name"] = "1-bad"
    replay_file = tmp_path / "bad.json"
    replay_file.write_text(json.dumps(replay))
    output_dir = tmp_path / "out"
    output_dir.mkdir()

    proc = bake_cli(output_dir, cookiecutter_config, {}, options=("--replay-file", str(replay_file)))

    assert proc.returncode != 0
    assert proc.stderr.startswith("ERROR: extension_name must be a safe file name"), proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    assert list(output_dir.iterdir()) == []


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


def test_bake_prints_the_next_steps(tmp_path, cookiecutter_config):
    """After generation the CLI says what to run next, as `sam init` does."""
    env = {**os.environ, "PWD": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "cookiecutter", "--no-input", "--config-file", str(cookiecutter_config),
         "-o", "out", str(REPO_ROOT), "project_name=Next Steps", "extension_name=stepper"],
        cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
    )

    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [line.split("#")[0].strip() for line in proc.stdout.splitlines()]
    steps = ["cd out/next-steps", "make local", "make layer", "make deploy"]
    assert [line for line in lines if line in steps] == steps, proc.stdout
    assert "dist/stepper-<arch>.zip" in proc.stdout
    assert (tmp_path / "out" / "next-steps" / "Makefile").is_file()
