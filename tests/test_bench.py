"""`make bench` works in a baked project: a short run (tiny round and invoke
counts) in one async and one sync bake writes build/bench/results.json with
every figure, of sane types, and prints the table.

Only shapes and types are checked, never values against budgets: figures
depend on the machine and its load, and a benchmark that fails on a busy
machine would be a timing assertion. The bench reports each figure against
the project's own budgets.json; one case sets budgets no machine can meet or
miss, to see them reported."""

import json
import math

import pytest

from conftest import BASE_ANSWERS, GOARCHES, REPO_ROOT, go_env, project_of, require_tool, run

EXTENSION = BASE_ANSWERS["extension_name"]

ROUNDS = 2
INVOKES = 20
INIT_SAMPLES = 2
WORK_ROUNDS = 1
WORK_INVOKES = 3
TELEMETRY_RECORDS = 3000
BENCH_FLAGS = " ".join(
    [
        "-rounds %d" % ROUNDS,
        "-invokes %d" % INVOKES,
        "-init-samples %d" % INIT_SAMPLES,
        "-work 5ms",
        "-work-rounds %d" % WORK_ROUNDS,
        "-work-invokes %d" % WORK_INVOKES,
        "-telemetry-records %d" % TELEMETRY_RECORDS,
        "-micro-benchtime 10x",
        "-delivery-invokes 3",
        "-delivery-spacing 20ms",
    ]
)

# One async bake with the telemetry listener (when the template has that
# option) for both architectures, one sync bake without it for arm64 only:
# sizes are cross-compiled, the emulated runs use host binaries either way.
CASES = [
    pytest.param({"processing": "async", "architecture": "both", "telemetry": True}, id="async-both-telemetry"),
    pytest.param({"processing": "sync", "architecture": "arm64", "telemetry": False}, id="sync-arm64"),
]

# The sync case runs with these budgets instead of the rendered ones: an init
# ratio no extension is under, an invoke ratio none is over, a key the bench
# does not know.
EXTREME_BENCH_BUDGETS = {"init_ratio_max": 0.001, "invoke_p50_ratio_max": 1000, "no_such_figure_max": 1}

SUMMARY_KEYS = {"median", "min", "max", "samples"}


def template_options():
    return set(json.loads((REPO_ROOT / "cookiecutter.json").read_text()))


@pytest.fixture
def bench_results(cookies_session, options):
    """Bake options into a project of its own (make bench writes build/bench,
    which the shared bakes' build tests must not see), run a short make bench,
    return (options, results JSON, stdout)."""
    require_tool("go")
    require_tool("make")
    options = {k: v for k, v in options.items() if k in template_options()}
    answers = {**BASE_ANSWERS, **options}
    project = project_of(cookies_session.bake(extra_context=answers, template=str(REPO_ROOT)))
    rendered = json.loads((project / "budgets.json").read_text())
    if options["processing"] == "sync":
        budgets = json.loads((project / "budgets.json").read_text())
        budgets["bench"] = EXTREME_BENCH_BUDGETS
        (project / "budgets.json").write_text(json.dumps(budgets, indent=2) + "\n")
    proc = run(["make", "bench", "BENCH_FLAGS=" + BENCH_FLAGS], cwd=project, env=go_env(), timeout=600)
    results = json.loads((project / "build" / "bench" / "results.json").read_text())
    assert (project / "build" / "bench" / "results.svg").is_file()  # test_pictures checks it
    return options, results, proc.stdout, rendered


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_summary(summary, samples, positive=True, where=""):
    assert set(summary) == SUMMARY_KEYS, where
    assert len(summary["samples"]) == samples, where
    assert all(is_number(v) for v in summary["samples"]), where
    for key in ("median", "min", "max"):
        assert is_number(summary[key]), "%s.%s = %r" % (where, key, summary[key])
    assert summary["min"] <= summary["median"] <= summary["max"], where
    if positive:
        assert summary["min"] > 0, "%s: %r" % (where, summary)


@pytest.mark.parametrize("options", CASES)
def test_make_bench_writes_every_figure(bench_results):
    options, results, stdout, rendered = bench_results
    processing = options["processing"]
    telemetry = bool(options.get("telemetry"))
    check_delivery(results, processing)
    archs = GOARCHES[options["architecture"]]

    assert results["schema_version"] == 2
    assert results["extension"] == EXTENSION
    assert results["processing"] == processing

    machine = results["machine"]
    assert isinstance(machine["num_cpu"], int) and machine["num_cpu"] > 0
    assert machine["go_version"].startswith("go")
    assert machine["goos"] and machine["goarch"]
    for key in ("load_avg_start", "load_avg_end"):
        assert all(is_number(v) for v in machine[key])
        if machine["goos"] == "linux":
            assert len(machine[key]) == 3

    settings = results["settings"]
    assert (settings["rounds"], settings["invokes"], settings["init_samples"]) == (ROUNDS, INVOKES, INIT_SAMPLES)
    assert (settings["work_rounds"], settings["work_invokes"]) == (WORK_ROUNDS, WORK_INVOKES)
    assert settings["archs"] == archs

    # Lifecycle figures of the rendered extension and the bare one.
    # ours_quiet is ours at log level warn: the machinery without the demo's log lines.
    assert set(results["runtime"]) == {"ours", "ours_quiet", "bare"}
    for who, figures in results["runtime"].items():
        for key in ("init_ms", "invoke_p50_us", "invoke_p99_us", "shutdown_ms"):
            check_summary(figures[key], ROUNDS, where="%s.%s" % (who, key))
        for p50, p99 in zip(figures["invoke_p50_us"]["samples"], figures["invoke_p99_us"]["samples"]):
            assert p50 <= p99, who
        # Peak RSS is measured on Linux (rusage); -1 elsewhere.
        check_summary(figures["peak_rss_bytes"], ROUNDS, positive=machine["goos"] == "linux", where=who + ".peak_rss_bytes")

    # Sizes per architecture: a stripped binary and a smaller layer zip.
    assert sorted(results["sizes"]) == sorted(archs)
    for arch, sizes in results["sizes"].items():
        assert set(sizes) == {"ours", "bare"}
        for who, size in sizes.items():
            assert isinstance(size["binary_bytes"], int) and size["binary_bytes"] > 0, (arch, who)
            assert isinstance(size["layer_zip_bytes"], int), (arch, who)
            assert 0 < size["layer_zip_bytes"] < size["binary_bytes"], (arch, who)

    ratios = results["ratios"]
    for key in ("init", "invoke_p50", "invoke_p99", "peak_rss", "shutdown"):
        assert is_number(ratios[key]) and ratios[key] > 0, key
        assert is_number(ratios["ours_quiet"][key]) and ratios["ours_quiet"][key] > 0, key
    for key in ("binary", "layer_zip"):
        assert sorted(ratios[key]) == sorted(archs)
        assert all(is_number(v) and v > 0 for v in ratios[key].values()), key

    # Sync is measured in every variant; async only where extension.Batcher exists.
    work = results["work"]
    assert set(work["modes"]) == {"sync", "async"}
    for mode, figures in work["modes"].items():
        if mode == "sync" or processing == "async":
            assert figures["available"] is True, mode
            check_summary(figures["added_p50_ms"], WORK_ROUNDS, where=mode)
            check_summary(figures["added_p99_ms"], WORK_ROUNDS, where=mode)
            assert figures["invokes"] == WORK_ROUNDS * WORK_INVOKES, mode
            for key in ("worked", "dropped", "unfinished"):
                assert isinstance(figures[key], int) and figures[key] >= 0, (mode, key)
            assert figures["worked"] + figures["dropped"] + figures["unfinished"] == figures["invokes"], mode
        else:
            assert figures["available"] is False
            assert "n/a in this variant" in figures["reason"]

    # The bare extension under the same spacing is the baseline.
    check_summary(work["baseline"]["added_p50_ms"], WORK_ROUNDS, where="baseline")
    check_summary(work["baseline"]["added_p99_ms"], WORK_ROUNDS, where="baseline")

    tel = results["telemetry"]
    assert tel["available"] is telemetry
    if telemetry:
        check_summary(tel["records_per_s"], ROUNDS, where="telemetry.records_per_s")
        assert tel["records_sent"] == ROUNDS * TELEMETRY_RECORDS
        assert tel["records_taken"] == ROUNDS * TELEMETRY_RECORDS
        for key in ("dropped", "unflushed"):
            assert isinstance(tel[key], int) and tel[key] >= 0, key
    else:
        assert "n/a in this variant" in tel["reason"]

    # Micro-benchmarks of the hot paths present in this variant.
    names = {m["name"] for m in results["micro"]}
    assert "BenchmarkEventDecode/invoke" in names
    assert ("BenchmarkEnqueueDequeue/capacity=1024/batch=64" in names) is (processing == "async")
    assert ("BenchmarkBatcherInvoke" in names) is (processing == "async")
    assert any(m["package"].endswith("/extension/internal/telemetryapi") for m in results["micro"]) is telemetry
    # The root module's packages only: the tools module has no benchmarks to run here.
    assert not any("/tools/" in m["package"] for m in results["micro"])
    for m in results["micro"]:
        assert isinstance(m["iterations"], int) and m["iterations"] > 0, m["name"]
        assert is_number(m["ns_per_op"]) and m["ns_per_op"] > 0, m["name"]
        assert is_number(m["bytes_per_op"]) and is_number(m["allocs_per_op"]), m["name"]

    # Each figure with a budget in budgets.json is reported against it: the
    # bench's own "bench" keys, and the sizes make size-check reads.
    budgets = results["budgets"]
    assert budgets["file"] == "budgets.json" and budgets["found"] is True
    checks = {c["figure"]: c for c in budgets["checks"]}
    bench_keys = EXTREME_BENCH_BUDGETS if processing == "sync" else rendered["bench"]
    figures = {
        "init_ratio_max": "init",
        "invoke_p50_ratio_max": "invoke_p50",
        "peak_rss_ratio_max": "peak_rss",
        "async_added_p50_ms_max": "async_added_p50",
        "telemetry_records_per_s_min": "telemetry_records_per_s",
    }
    expected = {figures[k] for k in bench_keys if k in figures}
    expected |= {"binary_" + arch for arch in archs} | {"layer_zip_" + arch for arch in archs}
    assert set(checks) == expected
    for figure, c in checks.items():
        assert is_number(c["limit"]) and c["kind"] in ("max", "min"), figure
        assert c["key"].split(".")[0] in ("bench", "binary_bytes", "layer_zip_bytes"), figure
        if c["value"] is None:
            assert c["within"] is None, figure
        else:
            assert is_number(c["value"]) and isinstance(c["within"], bool), figure
    for arch in archs:
        assert checks["binary_" + arch]["key"] == "binary_bytes." + arch
        assert checks["binary_" + arch]["limit"] == rendered["binary_bytes"][arch]
        assert checks["layer_zip_" + arch]["value"] == results["sizes"][arch]["ours"]["layer_zip_bytes"]
    if processing == "async":
        # The rendered project's own budgets: async and telemetry keys where they apply.
        assert set(rendered["bench"]) >= {"init_ratio_max", "invoke_p50_ratio_max", "peak_rss_ratio_max", "async_added_p50_ms_max"}
        assert ("telemetry_records_per_s_min" in rendered["bench"]) is telemetry
        assert budgets["unknown"] == []
    else:
        assert checks["init"]["within"] is False and checks["invoke_p50"]["within"] is True
        assert "over budget (budgets.json bench.init_ratio_max)" in stdout
        assert "over budget: init is " in stdout
        assert budgets["unknown"] == ["bench.no_such_figure_max"]
        assert "bench.no_such_figure_max in budgets.json is not a figure the bench measures" in stdout
    # The template's own targets are gone from the user's bench.
    assert "MISSED" not in stdout and "target" not in stdout
    assert "budgets (budgets.json): " in stdout

    # The table on stdout.
    assert "ours/bare" in stdout
    assert "init (start -> first next)" in stdout
    assert "JSON: build/bench/results.json" in stdout
    assert "chart: build/bench/results.svg" in stdout


def check_delivery(results, processing):
    """The delivery benchmark has a row per flush policy (async) or the inline
    work (sync), with and without freeze, and accounts for every record."""
    delivery = results["delivery"]
    policies = {"bare", "end", "periodic:1s", "continuous", "adaptive"} if processing == "async" else {"bare", "inline"}
    assert {(r["policy"], r["freeze"]) for r in delivery["rows"]} == {(p, f) for p in policies for f in (False, True)}
    for row in delivery["rows"]:
        assert row["offered"] == row["delivered"] + row["failed"] + row["dropped"] + row["unflushed"], row
        if row["policy"] != "bare":
            assert row["offered"] > 0 and row["unflushed"] == 0, row
    # The drain of a full queue at SHUTDOWN (async only): every record accounted for,
    # the sink's count matching the records line. How many arrive in time depends on
    # the machine: the bench reports it, the test does not judge it.
    drain = delivery.get("drain")
    if processing == "sync":
        assert drain is None
        return
    assert drain["offered"] == 10000, drain
    assert drain["offered"] == drain["delivered"] + drain["failed"] + drain["unflushed"], drain
    assert drain["sink_records"] >= drain["delivered"], drain  # a flush cut after the sink answered counts failed
    assert 0 < drain["queued"] <= drain["offered"] and drain["posts"] > 0 and drain["drain_ms"] > 0, drain
