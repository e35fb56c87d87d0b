"""Reliability tooling of the rendered repository: fuzz targets with checked-in
seed corpora that make test replays, and make fuzz, which runs each target."""

import re

import pytest

from conftest import project_of, require_tool, run

FUZZ_FUNC = re.compile(r"^func (Fuzz\w+)\(", re.MULTILINE)
# Every combination has the Extensions API decoders; telemetry adds two more.
EXPECTED = {
    False: {"FuzzDecodeEvent", "FuzzDecodeRegistration"},
    True: {"FuzzDecodeEvent", "FuzzDecodeRegistration", "FuzzParse", "FuzzListener"},
}


def fuzz_targets(project):
    """{target name: package directory} of the shipped module's fuzz targets."""
    targets = {}
    for path in project.rglob("*_test.go"):
        if "tools" in path.relative_to(project).parts:
            continue
        for name in FUZZ_FUNC.findall(path.read_text(encoding="utf-8")):
            targets[name] = path.parent
    return targets


@pytest.mark.parametrize("telemetry", [False, True], ids=["telemetry=false", "telemetry=true"])
def test_every_fuzz_target_has_a_checked_in_seed_corpus(baked, telemetry):
    project = project_of(baked(processing="async", architecture="both", telemetry=telemetry))

    targets = fuzz_targets(project)
    assert set(targets) == EXPECTED[telemetry]
    for name, package in targets.items():
        corpus = package / "testdata" / "fuzz" / name
        seeds = list(corpus.glob("*"))
        assert seeds, "%s has no seeds in %s" % (name, corpus)
        for seed in seeds:
            assert seed.read_text(encoding="utf-8").startswith("go test fuzz v1\n"), seed


def test_make_fuzz_runs_each_target(baked):
    require_tool("go")
    require_tool("make")
    project = project_of(baked(processing="async", architecture="both", telemetry=True))

    proc = run(["make", "fuzz", "FUZZTIME=1s"], cwd=project)

    ran = set(re.findall(r"^== (Fuzz\w+) in ", proc.stdout, re.MULTILINE))
    assert ran == EXPECTED[True], proc.stdout[-3000:]
