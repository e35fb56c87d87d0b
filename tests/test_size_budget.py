"""The size gate: `make size-check` (scripts/size-check.sh, run by CI after
`make layer`) passes on the real binaries and zips and fails, with a message
that names the file, its size, the budget and where to raise it, when one
grows past its budget in budgets.json."""

import json
import shutil

import pytest

from conftest import BASE_ANSWERS, GOARCHES, project_of, require_tool, run

EXTENSION = BASE_ANSWERS["extension_name"]


@pytest.fixture
def built(baked, tmp_path):
    """A copy of a baked project (both architectures) after `make layer`."""
    require_tool("go")
    require_tool("make")
    project = project_of(baked(processing="sync", architecture="both"))
    run(["make", "layer"], cwd=project)
    copy = tmp_path / "project"
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns(".aws-sam"))
    return copy


def budgets_of(project):
    return json.loads((project / "budgets.json").read_text())


def test_budgets_json_has_every_architecture_with_room_over_todays_sizes(baked):
    budgets = budgets_of(project_of(baked(processing="sync", architecture="both")))

    for key in ("binary_bytes", "layer_zip_bytes"):
        assert set(budgets[key]) == set(GOARCHES["both"]), key
        assert all(isinstance(v, int) and v > 0 for v in budgets[key].values()), budgets[key]


def test_size_check_passes_on_the_real_binaries_and_zips(built):
    proc = run(["make", "size-check"], cwd=built)

    budgets = budgets_of(built)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("size-check: ")]
    print("\n".join(lines))
    assert len(lines) == 2 * len(GOARCHES["both"])
    assert all(l.startswith("size-check: ok: ") for l in lines), lines
    for goarch in GOARCHES["both"]:
        zip_size = (built / "dist" / ("%s-%s.zip" % (EXTENSION, goarch))).stat().st_size
        assert zip_size <= budgets["layer_zip_bytes"][goarch]


@pytest.mark.parametrize(
    "key, path",
    [
        pytest.param("layer_zip_bytes", "dist/%s-arm64.zip" % EXTENSION, id="zip"),
        pytest.param("binary_bytes", "build/amd64/extensions/%s" % EXTENSION, id="binary"),
    ],
)
def test_size_check_fails_on_a_file_over_its_budget(built, key, path):
    goarch = "arm64" if path.endswith("arm64.zip") else "amd64"
    limit = budgets_of(built)[key][goarch]
    oversized = built / path
    with oversized.open("r+b") as f:
        f.truncate(limit + 1)  # one byte over

    proc = run(["make", "size-check"], cwd=built, check=False)

    assert proc.returncode != 0
    [failure] = [l for l in proc.stderr.splitlines() if l.startswith("size-check: FAIL")]
    print(failure)
    assert failure == (
        "size-check: FAIL: %s is %s bytes, over its budget of %s (%s.%s in budgets.json); "
        "if the growth is intended, raise the budget there" % (path, "{:,}".format(limit + 1), "{:,}".format(limit), key, goarch)
    )
    # The other files are still reported as within budget.
    assert len([l for l in proc.stdout.splitlines() if l.startswith("size-check: ok: ")]) == 3


def test_size_check_explains_a_missing_budget_and_a_missing_zip(built):
    (built / "dist" / ("%s-amd64.zip" % EXTENSION)).unlink()
    budgets = budgets_of(built)
    del budgets["binary_bytes"]["arm64"]
    (built / "budgets.json").write_text(json.dumps(budgets, indent=2) + "\n")

    proc = run(["make", "size-check"], cwd=built, check=False)

    assert proc.returncode != 0
    assert "size-check: budgets.json has no binary_bytes.arm64 (a whole number of bytes): add it" in proc.stderr
    assert "size-check: dist/%s-amd64.zip: no such file (run 'make layer' first)" % EXTENSION in proc.stderr
