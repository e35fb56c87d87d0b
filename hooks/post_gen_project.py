"""Shape the rendered project to the answers: keep one variant, remove what an option
turned off; then print what to run next. One small function per option; answers are
read as data (tojson)."""

import json
import os
import shlex
import shutil
import sys
from pathlib import Path

ANSWERS = json.loads(
    r"""
{
  "processing": {{ cookiecutter.processing | tojson }},
  "telemetry": {{ cookiecutter.telemetry | tojson }},
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
    "extension/batch.go",
    "extension/batch_test.go",
    "extension/batch_telemetry.go",
    "extension/batch_telemetry_test.go",
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
]
# Files that stand in for the telemetry code when the option is off.
NO_TELEMETRY_ONLY = ["extension/notelemetry.go"]


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


def main():
    select_processing_variant(ANSWERS["processing"])
    remove_telemetry_files(ANSWERS["telemetry"])
    print_next_steps(ANSWERS["extension_name"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
