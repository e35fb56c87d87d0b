"""Rendered projects can follow the template with cruft: `cruft create` works,
a later template commit makes `cruft check` fail, and `cruft update` applies
that commit cleanly, keeping the project's own changes."""

import json
import os
import shutil
import sys

import pytest

from conftest import BASE_ANSWERS, REPO_ROOT, require_tool, run

# What cookiecutter needs from the template (the rest is the template's own tooling).
TEMPLATE_PATHS = ["cookiecutter.json", "local_extensions.py", "hooks", "{{cookiecutter.project_slug}}"]
TEMPLATE_CHANGE = "# added by a later template commit\n/scratch/\n"


def git(env, cwd, *args):
    return run(["git", *args], cwd=cwd, env=env)


@pytest.fixture
def cruft_env(aws_env, cookiecutter_config, tmp_path):
    require_tool("git")
    require_tool("cruft")
    env = dict(aws_env)  # the offline Go settings, no AWS credentials
    env.update(
        # Keep cookiecutter's replay files and git's identity out of the home directory.
        COOKIECUTTER_CONFIG=str(cookiecutter_config),
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="Template Test",
        GIT_AUTHOR_EMAIL="test@example.invalid",
        GIT_COMMITTER_NAME="Template Test",
        GIT_COMMITTER_EMAIL="test@example.invalid",
        GIT_CEILING_DIRECTORIES=str(tmp_path),
    )
    return env


@pytest.fixture
def template_repo(tmp_path, cruft_env):
    """A git repository holding a copy of the template's working tree."""
    repo = tmp_path / "template"
    repo.mkdir()
    for name in TEMPLATE_PATHS:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(
                source,
                repo / name,
                ignore=shutil.ignore_patterns("__pycache__", "build", "dist", ".aws-sam"),
            )
        else:
            shutil.copy2(source, repo / name)
    git(cruft_env, repo, "init", "-q", "-b", "main")
    git(cruft_env, repo, "add", "-A")
    git(cruft_env, repo, "commit", "-q", "-m", "template v1")
    return repo


def head(env, repo):
    return git(env, repo, "rev-parse", "HEAD").stdout.strip()


def commit_template_change(env, template_repo):
    gitignore = template_repo / "{{cookiecutter.project_slug}}" / ".gitignore"
    gitignore.write_text(gitignore.read_text() + TEMPLATE_CHANGE)
    git(env, template_repo, "commit", "-q", "-am", "template v2: ignore scratch/")


def assert_check_fails_then_update_applies(env, project, template_repo):
    check = run(["cruft", "check"], cwd=project, env=env, check=False)
    assert check.returncode != 0, check.stdout + check.stderr
    assert "out of date" in check.stdout + check.stderr

    update = run(
        ["cruft", "update", "--skip-apply-ask", "--allow-untracked-files"], cwd=project, env=env
    )

    assert (project / ".gitignore").read_text().endswith(TEMPLATE_CHANGE), update.stdout
    assert json.loads((project / ".cruft.json").read_text())["commit"] == head(env, template_repo)
    assert not list(project.rglob("*.rej")), "cruft update left rejected hunks"
    status = git(env, project, "status", "--porcelain").stdout.splitlines()
    # .template-version records the new template commit too.
    assert sorted(line[3:] for line in status) == [".cruft.json", ".gitignore", ".template-version"]
    assert "\ncommit: %s\n" % head(env, template_repo) in (project / ".template-version").read_text()
    run(["cruft", "check"], cwd=project, env=env)


def test_cruft_create_check_and_update(tmp_path, template_repo, cruft_env):
    out = tmp_path / "projects"
    out.mkdir()
    answers = {**BASE_ANSWERS, "processing": "async", "architecture": "both"}

    run(
        ["cruft", "create", "--no-input", "--output-dir", out, "--extra-context", json.dumps(answers), template_repo],
        cwd=tmp_path,
        env=cruft_env,
    )

    project = out / BASE_ANSWERS["project_slug"]
    state = json.loads((project / ".cruft.json").read_text())
    assert state["commit"] == head(cruft_env, template_repo)
    assert state["context"]["cookiecutter"]["processing"] == "async"
    assert (project / "processor" / "processor.go").is_file()  # the hooks ran
    assert not (project / "processor" / "processor_sync.go").exists()
    assert os.access(project / "scripts" / "publish.sh", os.X_OK)
    # Up to date right after creation.
    run(["cruft", "check"], cwd=project, env=cruft_env)

    # The team commits the project and changes its own code.
    git(cruft_env, project, "init", "-q", "-b", "main")
    git(cruft_env, project, "add", "-A")
    git(cruft_env, project, "commit", "-q", "-m", "new extension")
    processor = project / "processor" / "processor.go"
    own_change = processor.read_text() + "\n// The team's own change.\n"
    processor.write_text(own_change)
    git(cruft_env, project, "commit", "-q", "-am", "our change")

    # The template moves on.
    commit_template_change(cruft_env, template_repo)

    assert_check_fails_then_update_applies(cruft_env, project, template_repo)
    assert processor.read_text() == own_change


def test_cruft_link_lets_a_cookiecutter_project_follow_updates(
    tmp_path, template_repo, cruft_env, cookiecutter_config
):
    # A project made with plain cookiecutter, before cruft was used.
    answers = {**BASE_ANSWERS, "processing": "sync", "architecture": "arm64"}
    out = tmp_path / "projects"
    run(
        [
            sys.executable, "-m", "cookiecutter", "--no-input", "--config-file", cookiecutter_config,
            "--output-dir", out, template_repo,
            *("%s=%s" % item for item in answers.items()),
        ],
        cwd=tmp_path,
        env=cruft_env,
    )
    project = out / BASE_ANSWERS["project_slug"]
    git(cruft_env, project, "init", "-q", "-b", "main")
    git(cruft_env, project, "add", "-A")
    git(cruft_env, project, "commit", "-q", "-m", "new extension")
    created_from = head(cruft_env, template_repo)
    commit_template_change(cruft_env, template_repo)

    # Link it to the commit it was made from, as the README says.
    run(
        [
            "cruft", "link", "--no-input", "--checkout", created_from,
            "--extra-context", json.dumps(answers), template_repo,
        ],
        cwd=project,
        env=cruft_env,
    )
    assert json.loads((project / ".cruft.json").read_text())["commit"] == created_from
    git(cruft_env, project, "add", ".cruft.json")
    git(cruft_env, project, "commit", "-q", "-m", "link to the template")

    assert_check_fails_then_update_applies(cruft_env, project, template_repo)
