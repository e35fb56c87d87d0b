"""`make local` draws its timeline (build/local/timeline.svg) and `make bench` its chart
of ours against bare (build/bench/results.svg): both are well-formed SVG with the
lanes and bars they promise, and a real renderer (rsvg-convert, Debian's
librsvg2-bin, installed in CI by .ci/run) turns each into a non-empty PNG."""

import xml.etree.ElementTree as ET

import pytest

from conftest import BASE_ANSWERS, REPO_ROOT, go_env, project_of, require_tool, run

SVG = "{http://www.w3.org/2000/svg}"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# The smallest bench that still measures every figure once.
TINY_BENCH = " ".join(
    [
        "-rounds 1",
        "-invokes 5",
        "-init-samples 0",
        "-work 2ms",
        "-work-rounds 1",
        "-work-invokes 2",
        "-telemetry-records 1000",
        "-micro=false",
    ]
)


def parse_svg(path):
    """The root of an SVG file; fails the test when it is not well-formed XML."""
    assert path.is_file(), "%s was not written" % path
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as err:
        pytest.fail("%s is not well-formed: %s" % (path, err), pytrace=False)
    assert root.tag == SVG + "svg", root.tag
    assert float(root.get("width")) > 0 and float(root.get("height")) > 0
    return root


def with_class(root, name):
    return [e for e in root.iter() if name in (e.get("class") or "").split()]


def render_png(svg_path, tmp_path):
    """Convert with rsvg-convert; the PNG must be non-empty and a PNG."""
    rsvg = require_tool("rsvg-convert")
    png = tmp_path / (svg_path.stem + ".png")
    run([rsvg, "--format", "png", "--output", png, svg_path], cwd=tmp_path)
    data = png.read_bytes()
    assert len(data) > len(PNG_SIGNATURE) and data.startswith(PNG_SIGNATURE), "%s: not a PNG" % png
    return png


@pytest.mark.parametrize(
    "options",
    [pytest.param({"processing": "async", "architecture": "both", "telemetry": True}, id="async-both-telemetry=true")],
)
def test_make_local_draws_its_timeline(baked, options, tmp_path):
    require_tool("go")
    require_tool("make")
    project = project_of(baked(**options))

    run(["make", "local", "EMULATOR_FLAGS=-invokes 4 -freeze"], cwd=project)

    root = parse_svg(project / "build" / "local" / "timeline.svg")
    assert [e.get("data-lane") for e in with_class(root, "lane")] == ["Lambda", "extension", "telemetry"]
    assert len(with_class(root, "invocation")) == 4  # one per INVOKE
    assert len(with_class(root, "ext-invoke")) == 4
    assert len(with_class(root, "freeze")) == 3  # the idle windows between the four
    for what in ("init", "shutdown", "deadline", "ext-shutdown", "delivery", "exit"):
        assert with_class(root, what), what
    # The extension's lifecycle lines, the "records" line among them.
    logs = [e.find(SVG + "title").text for e in with_class(root, "log")]
    assert any(" records offered=" in t for t in logs), logs
    assert BASE_ANSWERS["extension_name"] in root.find(SVG + "title").text
    render_png(project / "build" / "local" / "timeline.svg", tmp_path)


def test_make_bench_draws_its_chart(cookies_session, tmp_path):
    require_tool("go")
    require_tool("make")
    answers = {**BASE_ANSWERS, "processing": "async", "architecture": "x86_64", "telemetry": True}
    # A bake of its own: make bench writes build/bench, which shared bakes must not see.
    project = project_of(cookies_session.bake(extra_context=answers, template=str(REPO_ROOT)))

    proc = run(["make", "bench", "BENCH_FLAGS=" + TINY_BENCH], cwd=project, env=go_env(), timeout=600)

    assert "chart: build/bench/results.svg" in proc.stdout
    root = parse_svg(project / "build" / "bench" / "results.svg")
    ours = [e.get("data-figure") for e in with_class(root, "ours")]
    bare = [e.get("data-figure") for e in with_class(root, "bare")]
    for figure in ("init", "invoke_p50", "invoke_p99", "shutdown", "binary_amd64", "layer_zip_amd64", "async_added_p50"):
        assert figure in ours and figure in bare, figure
    assert "telemetry_records_per_s" in ours  # the listener has no bare counterpart
    # The budgets of budgets.json are drawn where they apply.
    assert {"init", "invoke_p50", "binary_amd64"} <= {e.get("data-figure") for e in with_class(root, "budget")}
    render_png(project / "build" / "bench" / "results.svg", tmp_path)
