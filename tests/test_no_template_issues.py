"""A rendered project is the user's: no file in it points at this template's issue
tracker ("issue #6", "(#13)", "the issue's targets"). Its budgets are its own, in
budgets.json."""

import re

import pytest

from conftest import COMBINATION_PARAMS, project_of

# References to an issue of the template: "issue 6", "issue #6", "issues #6 and #7",
# a bare "#6" (not an HTML entity like &#34;), "the issue's ...".
TEMPLATE_ISSUE = re.compile(r"(?i)\bissues?\s*#?\d|(?<![\w&#])#\d+\b|\bthe issue'?s?\b")


@pytest.mark.parametrize("options", COMBINATION_PARAMS)
def test_no_rendered_file_mentions_the_templates_issues(baked, options):
    result = baked(**options)
    project = project_of(result)

    found = []
    for relative in result.rendered_files:
        text = (project / relative).read_text(encoding="utf-8")
        for number, line in enumerate(text.splitlines(), 1):
            if TEMPLATE_ISSUE.search(line):
                found.append("%s:%d: %s" % (relative.as_posix(), number, line.strip()))
    assert found == []


@pytest.mark.parametrize(
    "line, matches",
    [
        ("// Target is one of the issue's targets", True),
        ("see issue #6", True),
        ("fixed in issue 13", True),
        ("(#13)", True),
        ('fill="#4e79a7"', False),
        ("&#34;quoted&#34;", False),
        ("an issue of your own tracker", False),
    ],
)
def test_the_pattern(line, matches):
    assert bool(TEMPLATE_ISSUE.search(line)) is matches
