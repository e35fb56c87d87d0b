"""The rendered README tells the truth about this variant: one mermaid lifecycle
diagram drawn for it, and the contracts the code keeps (the records line, the
shutdown margin's floor, the settings the extension reads)."""

import re

import pytest

from conftest import BASE_ANSWERS, GO_SOURCE_PARAMS, project_of

MERMAID = re.compile(r"^```mermaid\n(.*?)^```", re.MULTILINE | re.DOTALL)


@pytest.mark.parametrize("options", GO_SOURCE_PARAMS)
def test_one_lifecycle_diagram_for_this_variant(baked, options):
    readme = (project_of(baked(**options)) / "README.md").read_text(encoding="utf-8")

    diagrams = MERMAID.findall(readme)
    assert len(diagrams) == 1, "want one mermaid block, found %d" % len(diagrams)
    diagram = diagrams[0]
    assert diagram.startswith("sequenceDiagram\n")
    assert "participant L as Lambda" in diagram
    assert "participant E as %s" % BASE_ANSWERS["extension_name"] in diagram
    assert ("participant T as telemetry listener" in diagram) == options["telemetry"]
    assert ("PUT /telemetry" in diagram) == options["telemetry"]
    for step in ("POST /extension/register", "GET /extension/event/next", "INVOKE", "SHUTDOWN"):
        assert step in diagram, step
    inline = "Processor.Invoke runs inline" in diagram
    queued = "Record(ev) queued" in diagram and "drain the queue" in diagram
    assert (inline, queued) == ((True, False) if options["processing"] == "sync" else (False, True))
    assert "{{" not in diagram and "{%" not in diagram


@pytest.mark.parametrize("options", GO_SOURCE_PARAMS)
def test_documented_contracts_match_the_code(baked, options):
    project = project_of(baked(**options))
    readme = (project / "README.md").read_text(encoding="utf-8")
    run_go = (project / "extension" / "run.go").read_text(encoding="utf-8")

    # The records line: its five counts, as the code logs them.
    for count in ("offered", "flushed", "failed", "dropped", "unflushed"):
        assert '"%s":' % count in readme and '"%s", r.%s' % (count, count.capitalize()) in run_go, count
    assert "offered = flushed + failed + dropped + unflushed" in readme
    # The margin's floor and default, as run.go defines them.
    assert "minMargin     = 50 * time.Millisecond" in run_go
    assert "defaultMargin = 200 * time.Millisecond" in run_go
    assert "50ms to 1s" in readme and "`200ms`" in readme
    # Every built-in setting the code reads is in the Configuration table.
    prefix = "ORDER_SHIPPER_"
    read = set(re.findall(r'env\.\w+\("([A-Z_]+)"', "\n".join(p.read_text() for p in (project / "extension").glob("*.go"))))
    assert {"LOG_LEVEL", "SHUTDOWN_MARGIN"} <= read
    missing = sorted(name for name in read if "`%s%s`" % (prefix, name) not in readme)
    assert missing == [], "settings the README does not document: %s" % missing
