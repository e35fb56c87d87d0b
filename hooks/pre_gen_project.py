"""Validate the answers before cookiecutter renders anything.

Answers arrive as data: each is rendered with ``tojson`` inside a JSON document that
``json.loads`` reads back, so no answer can ever become Python source. A failed check
prints one line naming the variable and the rule and exits non-zero; cookiecutter then
deletes the half-made project directory.

This file is also the one place the rules live: ``local_extensions.py`` loads it
(unrendered: the Jinja below sits inside a string that only ``load_answers`` reads) and
runs the same ``CHECKS`` right after each prompt, before cookiecutter creates any
directory. This hook is the last line for what bypasses the prompts (a replay file).
"""

import json
import re
import sys

SUPPORTED_GO_VERSIONS = ("1.26", "1.27")

ANSWERS_JSON = (
    r"""
{
  "project_name": {{ cookiecutter.project_name | tojson }},
  "project_slug": {{ cookiecutter.project_slug | tojson }},
  "extension_name": {{ cookiecutter.extension_name | tojson }},
  "go_module": {{ cookiecutter.go_module | tojson }},
  "description": {{ cookiecutter.description | tojson }},
  "author": {{ cookiecutter.author | tojson }},
  "processing": {{ cookiecutter.processing | tojson }},
  "telemetry": {{ cookiecutter.telemetry | tojson }},
  "companion": {{ cookiecutter.companion | tojson }},
  "architecture": {{ cookiecutter.architecture | tojson }},
  "go_version": {{ cookiecutter.go_version | tojson }},
  "license": {{ cookiecutter.license | tojson }}
}
"""
)


def load_answers():
    return json.loads(ANSWERS_JSON)


# Go's module path rules (golang.org/x/mod/module.CheckPath), in short: slash-separated
# elements of ASCII letters, digits and -._~; no element empty, starting or ending with a
# dot; the first element a lower-case domain-like name containing a dot, or a plain name.
_MODULE_ELEMENT = re.compile(r"^[A-Za-z0-9_~-]([A-Za-z0-9._~-]*[A-Za-z0-9_~-])?$")
_MODULE_FIRST = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$")


def _single_line(value):
    return "\n" not in value and "\r" not in value and value.strip() == value


NOTHING_TO_DERIVE = (
    "is empty: project_name has no letters or digits to derive it from; "
    "answer project_slug and extension_name explicitly (e.g. project_slug=my-extension)"
)


def check_project_name(value):
    if not value.strip():
        return "must not be empty"
    if not _single_line(value) or len(value) > 200:
        return "must be one line of at most 200 characters without leading or trailing spaces"
    return None


def check_project_slug(value):
    if value == "":
        return NOTHING_TO_DERIVE
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,99}", value) or value.endswith("."):
        return (
            "must be a directory name of lower-case letters, digits, '.', '_' and '-', "
            "starting with a letter or digit (got %r)" % value
        )
    return None


def check_extension_name(value):
    # The executable's file name under /opt/extensions and the Lambda-Extension-Name it
    # registers with; it also becomes the environment variable prefix.
    if value == "":
        return NOTHING_TO_DERIVE
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]{0,62}", value) or value.endswith(("-", "_")):
        return (
            "must be a safe file name: a letter, then letters, digits, '-' or '_', at most "
            "63 characters, not ending in '-' or '_' (got %r)" % value
        )
    return None


def check_go_module(value):
    if not value or len(value) > 255 or value.startswith("/") or value.endswith("/"):
        return "must be a Go module path such as github.com/acme/my-extension (got %r)" % value
    elements = value.split("/")
    if not _MODULE_FIRST.fullmatch(elements[0]):
        return (
            "must start with a lower-case host or name such as github.com (got %r)" % value
        )
    for element in elements:
        if not _MODULE_ELEMENT.fullmatch(element) or element.endswith("."):
            return (
                "must be a Go module path: '/'-separated elements of letters, digits and "
                "'-._~', none empty or starting/ending with '.' (got %r)" % value
            )
    return None


def check_one_line(value):
    if not _single_line(value) or len(value) > 200:
        return "must be one line of at most 200 characters without leading or trailing spaces"
    return None


def choice(*allowed):
    def check(value):
        if value not in allowed:
            return "must be one of %s (got %r)" % (", ".join(allowed), value)
        return None

    return check


def check_boolean(value):
    # cookiecutter turns yes/no, true/false, on/off, 1/0 given as text into a boolean;
    # anything else that reaches here (a number, null) came through the Python API.
    if not isinstance(value, bool):
        return "must be true or false (yes or no on the command line), got %r" % (value,)
    return None


def check_go_version(value):
    # The Go releases the Go team still supports; the template is tested with them.
    if value not in SUPPORTED_GO_VERSIONS:
        return "must be a Go release the template supports: %s (got %r)" % (
            " or ".join(SUPPORTED_GO_VERSIONS),
            value,
        )
    return None


CHECKS = {
    "project_name": check_project_name,
    "project_slug": check_project_slug,
    "extension_name": check_extension_name,
    "go_module": check_go_module,
    "description": check_one_line,
    "author": check_one_line,
    "processing": choice("sync", "async"),
    "telemetry": check_boolean,
    "companion": choice("none", "local-api", "runtime-proxy"),
    "architecture": choice("x86_64", "arm64", "both"),
    "go_version": check_go_version,
    "license": choice("MIT", "Apache-2.0", "Proprietary"),
}


def problem_with(name, value):
    """What is wrong with one answer, or None."""
    check = CHECKS[name]
    if check is not check_boolean and not isinstance(value, str):
        return "must be text"
    return check(value)


def error_line(name, problem):
    return "ERROR: %s %s" % (name, problem)


def main():
    answers = load_answers()
    failures = []
    for name in CHECKS:
        problem = problem_with(name, answers[name])
        if problem:
            failures.append(error_line(name, problem))
    for line in failures:
        print(line, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
