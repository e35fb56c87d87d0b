"""Shape the rendered project to the answers: keep one variant, remove what an option
turned off; then print what to run next. One small function per option; answers are
read as data (tojson)."""

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ANSWERS = json.loads(
    r"""
{
  "processing": {{ cookiecutter.processing | tojson }},
  "telemetry": {{ cookiecutter.telemetry | tojson }},
  "companion": {{ cookiecutter.companion | tojson }},
  "extension_name": {{ cookiecutter.extension_name | tojson }}
}
"""
)

PROJECT = Path.cwd()

# Files that exist once per processing variant; the chosen one is renamed to the plain name.
VARIANT_FILES = ["processor/processor{}.go", "processor/processor{}_test.go"]
# Files and packages only the async variant uses.
ASYNC_ONLY = [
    "extension/internal/queue",
    "extension/internal/flush",
    "extension/batch.go",
    "extension/batch_test.go",
    "extension/batch_policy_test.go",
    "tools/e2e/delivery_e2e_test.go",
    "extension/batch_telemetry.go",
    "extension/batch_telemetry_test.go",
    "tools/bench/work/async.go",
    "tools/bench/work/async_telemetry.go",
    "tools/e2e/async_e2e_test.go",
]
# Files only the telemetry option uses (the emulator in tools/ stays complete).
TELEMETRY_ONLY = [
    "extension/internal/telemetryapi",
    "extension/telemetry",
    "extension/telemetry.go",
    "extension/telemetry_test.go",
    "extension/batch_telemetry.go",
    "extension/batch_telemetry_test.go",
    "processor/telemetry.go",
    "processor/telemetry_test.go",
    "tools/e2e/telemetry_e2e_test.go",
    "tools/e2e/load_e2e_test.go",
    "tools/bench/work/telemetry.go",
    "tools/bench/work/async_telemetry.go",
]
# Files that stand in for the telemetry code when the option is off.
NO_TELEMETRY_ONLY = ["extension/notelemetry.go"]

# Files of each companion kind; post_gen keeps those of the chosen one. Files both
# kinds share are listed under each; "none" has a stand-in of its own.
COMPANION_SHARED = [
    "extension/companion.go",
    "extension/companion_test.go",
    "tools/bench/companion_lambda.go",
]
# The limits of every HTTP server the extension runs on this machine: the telemetry
# listener's and the companions'.
LOOPBACK = "extension/internal/loopback"
COMPANION_FILES = {
    "none": ["extension/companion_none.go", "tools/bench/companion_none.go"],
    "local-api": COMPANION_SHARED + [
        "extension/companion_localapi.go",
        "extension/companion_localapi_test.go",
        "extension/internal/localapi",
        "processor/localapi.go",
        "processor/localapi_test.go",
        "tools/e2e/localapi_e2e_test.go",
        "tools/bench/companion_localapi.go",
    ],
    "runtime-proxy": COMPANION_SHARED + [
        "extension/companion_runtimeproxy.go",
        "extension/companion_runtimeproxy_test.go",
        "extension/internal/runtimeproxy",
        "processor/runtimeproxy.go",
        "processor/runtimeproxy_test.go",
        "tools/e2e/runtimeproxy_e2e_test.go",
        "tools/bench/companion_runtimeproxy.go",
        "scripts/runtime-wrapper",
    ],
}


def remove(relative):
    path = PROJECT / relative
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def select_processing_variant(processing):
    other = "async" if processing == "sync" else "sync"
    for pattern in VARIANT_FILES:
        remove(pattern.format("_" + other))
        kept = PROJECT / pattern.format("_" + processing)
        kept.rename(PROJECT / pattern.format(""))
    if processing == "sync":
        for relative in ASYNC_ONLY:
            remove(relative)


def remove_telemetry_files(telemetry):
    for relative in NO_TELEMETRY_ONLY if telemetry else TELEMETRY_ONLY:
        remove(relative)


def remove_companion_files(companion):
    keep = set(COMPANION_FILES[companion])
    for kind, files in COMPANION_FILES.items():
        if kind != companion:
            for relative in files:
                if relative not in keep:
                    remove(relative)


def remove_loopback_unless_used(telemetry, companion):
    if not telemetry and companion == "none":
        remove(LOOPBACK)


def where_to_cd():
    """The project as the user's shell reaches it: relative to the directory
    cookiecutter was started in (PWD, which the hook inherits) when inside it."""
    start = os.environ.get("PWD")
    if start and Path(start).is_absolute():
        try:
            return PROJECT.relative_to(Path(start).resolve()).as_posix()
        except ValueError:
            pass
    return str(PROJECT)


def print_next_steps(extension_name):
    lines = [
        "",
        "Created %s. Next steps:" % PROJECT.name,
        "",
        "  cd %s" % shlex.quote(where_to_cd()),
        "  make local    # run the extension under the local Lambda emulator: init, INVOKEs, SHUTDOWN",
        "  make layer    # build the layer zip(s): dist/%s-<arch>.zip" % extension_name,
        "  make deploy   # sam build + sam deploy (--guided the first time): the layer and a demo function",
        "",
        "Your code goes in processor/processor.go; README.md has the rest.",
    ]
    print("\n".join(lines))


# ---- .template-version: the template commit -----------------------------------
# cruft passes the commit (_commit); plain cookiecutter does not, so ask git in the
# template checkout it rendered from (_repo_dir).
# A relative template path (cookiecutter .) is recorded as the absolute checkout.
TEMPLATE_GIVEN = {{ cookiecutter._template | default("") | tojson }}
TEMPLATE_REPO_DIR = {{ cookiecutter._repo_dir | default("") | tojson }}


def record_template_commit(given, repo_dir):
    path = PROJECT / ".template-version"
    text = path.read_text()
    if not repo_dir or "\ncommit: unknown\n" not in text:
        return
    if not Path(repo_dir).is_absolute():
        # Relative to where cookiecutter was run (the hook runs in the project).
        repo_dir = str(Path(os.environ.get("PWD", "/nonexistent"), repo_dir).resolve())
    if given and ":" not in given and not Path(given).is_absolute():
        text = text.replace("template: %s\n" % given, "template: %s\n" % repo_dir, 1)
    try:
        commit = subprocess.run(
            ["git", "-C", repo_dir, "rev-parse", "--verify", "HEAD"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", repo_dir, "status", "--porcelain"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return  # not a git checkout (or no git): the commit stays unknown
    text = text.replace("\ncommit: unknown\n", "\ncommit: %s\n" % commit)
    if dirty:
        text += "# The template checkout had uncommitted changes: this project is not exactly that commit.\n"
    path.write_text(text)


def main():
    select_processing_variant(ANSWERS["processing"])
    remove_telemetry_files(ANSWERS["telemetry"])
    remove_companion_files(ANSWERS["companion"])
    remove_loopback_unless_used(ANSWERS["telemetry"], ANSWERS["companion"])
    record_template_commit(TEMPLATE_GIVEN, TEMPLATE_REPO_DIR)
    print_next_steps(ANSWERS["extension_name"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
