"""Rendered projects record the template and commit they came from in
.template-version, so `cruft link` needs no guessing; the version there is the
newest one in the template's CHANGELOG.md."""

import json
import re
import shutil
import sys

import pytest

from conftest import BASE_ANSWERS, REPO_ROOT, run
from test_cruft import TEMPLATE_PATHS, cruft_env, head, template_repo  # noqa: F401 (fixtures)

ANSWERS = {**BASE_ANSWERS, "processing": "sync", "architecture": "x86_64"}


def recorded(project):
    """{field: value} of .template-version's `field: value` lines."""
    text = (project / ".template-version").read_text()
    return dict(re.findall(r"^(template|version|commit): (.*)$", text, flags=re.M))


def render(env, template, out, cookiecutter_config):
    run(
        [
            sys.executable, "-m", "cookiecutter", "--no-input", "--config-file", cookiecutter_config,
            "--output-dir", out, template, *("%s=%s" % item for item in ANSWERS.items()),
        ],
        cwd=out.parent,
        env=env,
    )
    return out / BASE_ANSWERS["project_slug"]


def test_template_version_is_the_newest_changelog_version(baked):
    changelog = (REPO_ROOT / "CHANGELOG.md").read_text()
    newest = re.search(r"^## \[?(\d+\.\d+\.\d+)", changelog, flags=re.M).group(1)
    result = baked(processing="sync", architecture="x86_64")

    assert recorded(result.project_path)["version"] == newest


def test_cruft_link_with_the_recorded_template_and_commit(tmp_path, template_repo, cruft_env, cookiecutter_config):  # noqa: F811
    (tmp_path / "projects").mkdir()
    project = render(cruft_env, template_repo, tmp_path / "projects", cookiecutter_config)

    values = recorded(project)
    assert values["template"] == str(template_repo)
    assert values["commit"] == head(cruft_env, template_repo)
    assert "uncommitted changes" not in (project / ".template-version").read_text()

    # What the README says: link with the two recorded values, nothing else.
    run(["git", "init", "-q", "-b", "main"], cwd=project, env=cruft_env)
    run(
        [
            "cruft", "link", "--no-input", "--checkout", values["commit"],
            "--extra-context", json.dumps(ANSWERS), values["template"],
        ],
        cwd=project,
        env=cruft_env,
    )
    state = json.loads((project / ".cruft.json").read_text())
    assert (state["template"], state["commit"]) == (values["template"], values["commit"])
    # The project is exactly that commit's render (the hooks' output included).
    run(["cruft", "diff", "--exit-code"], cwd=project, env=cruft_env)


def test_a_template_that_is_no_git_checkout_records_commit_unknown(tmp_path, cruft_env, cookiecutter_config):  # noqa: F811
    copy = tmp_path / "template"
    copy.mkdir()
    for name in TEMPLATE_PATHS:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, copy / name)
    out = tmp_path / "projects"
    out.mkdir()

    project = render(cruft_env, copy, out, cookiecutter_config)

    assert recorded(project) == {"template": str(copy), "version": recorded(project)["version"], "commit": "unknown"}
