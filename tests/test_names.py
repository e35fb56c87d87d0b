"""Names derived from project_name always validate: awkward project names bake and
build with project_name as the only answer, or are refused with one clear line
when nothing usable is left."""

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO_ROOT, go_env, require_tool, run

spec = importlib.util.spec_from_file_location("template_local_extensions", REPO_ROOT / "local_extensions.py")
names = importlib.util.module_from_spec(spec)
spec.loader.exec_module(names)
checks = names.CHECKS

LONG_NAME = " ".join(["Shipper"] * 25) + "!"  # 200 characters, the most project_name takes

# (project_name, project_slug, extension_name) as derived.
USABLE = [
    ("Foo 2.0", "foo-2-0", "foo-2-0"),
    ("3D Shipper", "3d-shipper", "ext-3d-shipper"),
    ("Ünïcode Ext", "unicode-ext", "unicode-ext"),
    ("Straße, Øresund & Łódź", "strasse-oresund-lodz", "strasse-oresund-lodz"),
    ("O'Brien's Extension", "obriens-extension", "obriens-extension"),
    ("🚀 Rocket Ext 🚀", "rocket-ext", "rocket-ext"),
    ("数据 Pipeline v2", "pipeline-v2", "pipeline-v2"),
    ("__Snake_Case__", "snake-case", "snake-case"),
    ("ＦＵＬＬ　ＷＩＤＴＨ", "full-width", "full-width"),
    (LONG_NAME, ("shipper-" * 8)[:-1], ("shipper-" * 8)[:-1]),  # 63 characters
    ("2" * 120, "2" * 63, "ext-" + "2" * 59),
]
# The bake-and-build test takes the names of the issue (#13) and the edges; the
# filter test above takes them all.
BUILT = {"Foo 2.0", "3D Shipper", "Ünïcode Ext", "🚀 Rocket Ext 🚀", "数据 Pipeline v2", LONG_NAME, "2" * 120}

# Nothing to derive a name from.
UNUSABLE = ["!!! ???", "🚀🚀🚀", "日本語の拡張", "..."]


def name_id(name):
    return name if len(name) <= 30 else "<%d characters>" % len(name)


@pytest.mark.parametrize("name, slug, extension", [pytest.param(*c, id=name_id(c[0])) for c in USABLE])
def test_slug_filters(name, slug, extension):
    assert names.slug(name) == slug
    assert names.extension_slug(names.slug(name)) == extension
    assert checks.problem_with("project_slug", slug) is None
    assert checks.problem_with("extension_name", extension) is None


@pytest.mark.parametrize("name", UNUSABLE)
def test_nothing_usable_gives_an_empty_slug(name):
    assert names.slug(name) == ""
    assert "project_name has no letters or digits" in checks.problem_with("project_slug", "")


def test_truncation_cuts_at_a_dash_and_never_ends_in_one():
    assert names.truncate("abc-defgh", 6) == "abc"
    assert names.truncate("abc-def-gh", 7) == "abc-def"  # the cut falls on a '-'
    assert names.truncate("abcdefgh", 5) == "abcde"  # one word: a hard cut
    assert names.truncate("a-bcdefgh", 6) == "a-bcde"  # going back to '-' would keep too little
    assert names.truncate("abcde-", 5) == "abcde"


def bake_name(output_dir, config_file, project_name):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "cookiecutter",
            "--no-input",
            "--config-file",
            str(config_file),
            "-o",
            str(output_dir),
            str(REPO_ROOT),
            "project_name=" + project_name,
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def replay_of(config_file):
    replay_dir = Path(yaml.safe_load(config_file.read_text())["replay_dir"])
    return json.loads((replay_dir / (REPO_ROOT.name + ".json")).read_text())


@pytest.mark.parametrize(
    "name, slug, extension", [pytest.param(*c, id=name_id(c[0])) for c in USABLE if c[0] in BUILT]
)
def test_awkward_name_bakes_and_builds(tmp_path, cookiecutter_config, name, slug, extension):
    require_tool("go")
    proc = bake_name(tmp_path, cookiecutter_config, name)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    project = tmp_path / slug
    assert (project / "cmd" / extension / "main.go").is_file()
    # The replay file keeps answers that bake again: every derived one validates.
    answers = replay_of(cookiecutter_config)["cookiecutter"]
    assert (answers["project_slug"], answers["extension_name"]) == (slug, extension)
    assert answers["__env_prefix"] == extension.upper().replace("-", "_") + "_"
    assert re.fullmatch(r"[A-Z][A-Z0-9_]*_", answers["__env_prefix"])
    for variable in ("project_name", "project_slug", "extension_name", "go_module"):
        assert checks.problem_with(variable, answers[variable]) is None, variable
    run(["go", "build", "./..."], cwd=project, env=go_env(GOFLAGS="-mod=readonly -buildvcs=false"))


@pytest.mark.parametrize("name", UNUSABLE)
def test_name_without_letters_or_digits_is_refused(tmp_path, cookiecutter_config, name):
    proc = bake_name(tmp_path, cookiecutter_config, name)

    assert proc.returncode == 1
    assert proc.stderr == "ERROR: project_slug %s\n" % checks.NOTHING_TO_DERIVE
    assert "answer project_slug and extension_name explicitly" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_cjk_name_bakes_with_the_names_given(tmp_path, cookiecutter_config):
    """The way out the refusal names: answer the derived names explicitly."""
    proc = subprocess.run(
        [
            sys.executable, "-m", "cookiecutter", "--no-input", "--config-file",
            str(cookiecutter_config), "-o", str(tmp_path), str(REPO_ROOT),
            "project_name=日本語の拡張", "project_slug=nihongo",
        ],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
    )

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "nihongo" / "cmd" / "nihongo" / "main.go").is_file()
    assert "# 日本語の拡張\n" in (tmp_path / "nihongo" / "README.md").read_text(encoding="utf-8")
