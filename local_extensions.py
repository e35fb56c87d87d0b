"""Jinja extension for cookiecutter.json: derived names that always validate, and
each free-text answer checked right after its prompt.

cookiecutter loads this module through ``_extensions`` (it puts the template's
directory on ``sys.path`` while it renders; cruft does the same). Standard library
and what cookiecutter itself needs only.

Filters:

- ``slug``: ``"Ünïcode Ext 2.0"`` -> ``"unicode-ext-2-0"``. ASCII transliteration
  (Unicode NFKD without the accents, plus a few letters NFKD keeps: ß -> ss, æ -> ae,
  ø -> o, ł -> l, ...), lower case, apostrophes dropped, every other run of characters
  that is not a-z or 0-9 becomes one ``-``, no ``-`` at either end, at most 63
  characters (cut back to a ``-`` where that keeps at least half). Nothing usable left (only
  punctuation, CJK, emoji) gives ``""``, which the project_slug check refuses with a
  line saying to answer the names explicitly.
- ``extension_slug``: ``slug``, with ``ext-`` in front of a leading digit
  (``"3d-shipper"`` -> ``"ext-3d-shipper"``): an extension name and the environment
  prefix made from it must start with a letter.
- ``check_answer(name)``: runs hooks/pre_gen_project.py's check for that variable and
  stops cookiecutter with that hook's one line (``ERROR: <name> <rule>``) on stderr and
  exit status 1. cookiecutter renders ``__`` variables in the order of
  cookiecutter.json, so a ``__check_<name>`` entry right after a prompt runs the check
  before the next prompt and before any directory is made.
"""

import importlib.util
import logging
import re
import sys
import unicodedata
from pathlib import Path

import click
from jinja2.ext import Extension

NAME_LIMIT = 63  # extension_name's limit; derived slugs keep to it too
DIGIT_PREFIX = "ext-"

# Letters that NFKD does not split into an ASCII letter and an accent.
_LETTERS = str.maketrans(
    {
        "ß": "ss", "ẞ": "SS", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE",
        "ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D",
        "þ": "th", "Þ": "Th", "ı": "i", "ħ": "h", "Ħ": "H", "ŧ": "t", "Ŧ": "T",
        "'": "", "’": "", "ʼ": "",
    }
)


def ascii_text(value):
    decomposed = unicodedata.normalize("NFKD", str(value).translate(_LETTERS))
    return decomposed.encode("ascii", "ignore").decode("ascii")


def truncate(slug, limit=NAME_LIMIT):
    """At most limit characters; a cut inside a word goes back to the '-' before it
    when that keeps at least half of the limit."""
    if len(slug) <= limit:
        return slug
    cut = slug[:limit]
    dash = cut.rfind("-")
    if slug[limit] != "-" and dash >= limit // 2:
        cut = cut[:dash]
    return cut.strip("-")


def slug(value, limit=NAME_LIMIT):
    text = re.sub(r"[^a-z0-9]+", "-", ascii_text(value).lower()).strip("-")
    return truncate(text, limit)


def extension_slug(value, limit=NAME_LIMIT):
    text = slug(value, limit)
    if text[:1].isdigit():
        text = DIGIT_PREFIX + truncate(text, limit - len(DIGIT_PREFIX))
    return text


def _load_checks():
    path = Path(__file__).resolve().parent / "hooks" / "pre_gen_project.py"
    spec = importlib.util.spec_from_file_location("_template_answer_checks", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CHECKS = _load_checks()


class AnswerError(click.ClickException):
    """A refused answer: click prints our one line and exits 1, no traceback."""

    def __init__(self, name, problem):
        super().__init__(CHECKS.error_line(name, problem))

    def show(self, file=None):
        click.echo(self.message, file=file or sys.stderr)


def check_answer(value, name):
    problem = CHECKS.problem_with(name, value)
    if problem:
        raise AnswerError(name, problem)
    return ""


class _NoHookTraceback(logging.Filter):
    """When pre_gen_project refuses an answer (a replay file bypasses the prompts'
    checks), its ERROR line is the message; cookiecutter's traceback of its own
    FailedHookException after it says nothing more, so leave it out."""

    def filter(self, record):
        if str(record.msg).startswith("Stopping generation because"):
            record.exc_info = None
            record.exc_text = None
        return True


_HOOK_LOGGER = logging.getLogger("cookiecutter.hooks")
if not any(isinstance(f, _NoHookTraceback) for f in _HOOK_LOGGER.filters):
    _HOOK_LOGGER.addFilter(_NoHookTraceback())


class NamesExtension(Extension):
    def __init__(self, environment):
        super().__init__(environment)
        environment.filters["slug"] = slug
        environment.filters["extension_slug"] = extension_slug
        environment.filters["check_answer"] = check_answer
