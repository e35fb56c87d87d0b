"""Layers are reproducible across checkouts: two fresh bakes of the same
answers, in different directories, give byte-identical layer zips.

(tests/test_go.py checks two builds in one directory; this one catches what
depends on where the project lives: paths, build ids, timestamps, modes.)"""

import hashlib

import pytest

from conftest import BASE_ANSWERS, GOARCHES, REPO_ROOT, project_of, require_tool, run

EXTENSION = BASE_ANSWERS["extension_name"]


# Both processing variants; the telemetry code rides along with one of them.
VARIANTS = [
    pytest.param("sync", False, id="sync"),
    pytest.param("async", True, id="async-telemetry"),
]


@pytest.mark.parametrize("processing, telemetry", VARIANTS)
def test_two_fresh_bakes_give_the_same_layer_sha256(
    cookies_session, processing, telemetry, record_property
):
    require_tool("go")
    require_tool("make")
    answers = {
        **BASE_ANSWERS,
        "processing": processing,
        "telemetry": telemetry,
        "architecture": "both",
    }
    # Two bakes of their own (not the session's shared ones): each goes to a
    # new directory, so the project paths differ.
    projects = [
        project_of(cookies_session.bake(extra_context=answers, template=str(REPO_ROOT)))
        for _ in range(2)
    ]
    assert projects[0] != projects[1]

    hashes = []
    for project in projects:
        run(["make", "layer"], cwd=project)
        hashes.append(
            {
                goarch: hashlib.sha256(
                    (project / "dist" / ("%s-%s.zip" % (EXTENSION, goarch))).read_bytes()
                ).hexdigest()
                for goarch in GOARCHES["both"]
            }
        )

    for goarch, digest in hashes[0].items():
        variant = processing + ("+telemetry" if telemetry else "")
        record_property("sha256-%s-%s" % (variant, goarch), digest)
        print("%s-%s.zip (%s) sha256 %s" % (EXTENSION, goarch, variant, digest))
    assert hashes[0] == hashes[1], "layer zips differ between %s and %s" % tuple(projects)
