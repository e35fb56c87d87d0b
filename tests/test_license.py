"""The license answer renders a LICENSE with the year and the author; the author is
named in the rendered README."""

import datetime
import hashlib

import pytest

from conftest import BASE_ANSWERS, REPO_ROOT, project_of

AUTHOR = BASE_ANSWERS["author"]
# sha256 of https://www.apache.org/licenses/LICENSE-2.0.txt, the standard text.
APACHE_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"


def utc_year():
    return datetime.datetime.now(datetime.timezone.utc).year


@pytest.fixture
def bake_license(cookies):
    def bake(license):
        before = utc_year()
        result = cookies.bake(extra_context={**BASE_ANSWERS, "license": license}, template=str(REPO_ROOT))
        project = project_of(result)
        years = {str(before), str(utc_year())}  # a bake across New Year's midnight
        return (project / "LICENSE").read_text(encoding="utf-8"), years, project

    return bake


def test_mit(bake_license):
    text, years, _ = bake_license("MIT")

    lines = text.splitlines()
    assert lines[0] == "MIT License"
    assert lines[2] in {"Copyright (c) %s %s" % (year, AUTHOR) for year in years}
    assert "Permission is hereby granted, free of charge" in text
    assert text.endswith("OTHER DEALINGS IN THE\nSOFTWARE.\n")


def test_apache_is_the_standard_text_with_year_and_author(bake_license):
    text, years, _ = bake_license("Apache-2.0")

    copyright_lines = [line for line in text.splitlines() if line.strip().startswith("Copyright 2")]
    assert [line.strip() for line in copyright_lines] in [["Copyright %s %s" % (y, AUTHOR)] for y in years]
    standard = text.replace(copyright_lines[0], "   Copyright [yyyy] [name of copyright owner]")
    assert hashlib.sha256(standard.encode()).hexdigest() == APACHE_SHA256


def test_proprietary_is_a_short_notice(bake_license):
    text, years, _ = bake_license("Proprietary")

    assert text.splitlines()[0] in {"Copyright (c) %s %s. All rights reserved." % (y, AUTHOR) for y in years}
    assert "Permission is hereby granted" not in text
    assert len(text.splitlines()) < 10


@pytest.mark.parametrize("license", ["MIT", "Proprietary"])
def test_readme_names_the_author_and_the_license(bake_license, license):
    _, _, project = bake_license(license)

    readme = (project / "README.md").read_text(encoding="utf-8")
    assert "\nMaintained by %s. License: %s (see [`LICENSE`](LICENSE)).\n" % (AUTHOR, license) in readme


def test_the_template_itself_has_a_license():
    assert (REPO_ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License\n")
