"""The SAM template is valid and `sam build` builds each layer through the
Makefile, without Docker, into .aws-sam/build/<LogicalId>/extensions/<name>."""

import pytest
import yaml

from conftest import (
    AXES,
    BASE_ANSWERS,
    GOARCHES,
    LAYER_IDS,
    assert_static_executable,
    project_of,
    require_tool,
    run,
)

from test_render import DEMO_IDS, CloudFormationLoader

EXTENSION = BASE_ANSWERS["extension_name"]
LAMBDA_ARCHES = {"amd64": "x86_64", "arm64": "arm64"}

# One processing variant is enough here: the template and the Makefile's SAM
# targets depend on the architecture answer only.
ARCHITECTURE_PARAMS = [pytest.param(a, id=a) for a in AXES["architecture"]]
# sam build also with the telemetry code in the binary (both architectures at once).
BUILD_PARAMS = [pytest.param(a, False, id=a) for a in AXES["architecture"]] + [
    pytest.param("both", True, id="both-telemetry=true")
]


@pytest.fixture
def telemetry():
    """Telemetry answer of the bake; tests that cover it parametrize it."""
    return False


@pytest.fixture
def project(baked, architecture, telemetry):
    require_tool("sam")
    require_tool("go")
    require_tool("make")
    return project_of(
        baked(processing=AXES["processing"][0], architecture=architecture, telemetry=telemetry)
    )


@pytest.mark.parametrize("architecture", ARCHITECTURE_PARAMS)
def test_sam_validate_lint(project, aws_env):
    proc = run(["sam", "validate", "--lint"], cwd=project, env=aws_env)

    assert "is a valid SAM Template" in proc.stdout + proc.stderr


@pytest.mark.parametrize("architecture, telemetry", BUILD_PARAMS)
def test_sam_build_puts_the_extension_in_each_layer(project, architecture, aws_env):
    # build/ and dist/ exist in a developer's tree; sam copies ContentUri (.)
    # with them and must neither fail nor ship them in the layer.
    run(["make", "layer"], cwd=project)
    build_dir = project / ".aws-sam" / "build"

    run(["sam", "build", "--build-dir", build_dir], cwd=project, env=aws_env)

    for goarch in GOARCHES[architecture]:
        layer_dir = build_dir / LAYER_IDS[goarch]
        artifact = layer_dir / "extensions" / EXTENSION
        assert sorted(p.relative_to(layer_dir).as_posix() for p in layer_dir.rglob("*")) == [
            "extensions",
            "extensions/" + EXTENSION,
        ]
        assert_static_executable(artifact, goarch)
        assert artifact.stat().st_mode & 0o777 == 0o755
    built_layers = {p.name for p in build_dir.iterdir() if p.is_dir()}
    assert built_layers == {LAYER_IDS[a] for a in GOARCHES[architecture]}

    # The built template has a demo function per architecture, each on its own layer
    # (with "both", the arm64 layer gets a demo too, not only the x86_64 one).
    built = yaml.load((build_dir / "template.yaml").read_text(encoding="utf-8"), CloudFormationLoader)
    functions = {k: v["Properties"] for k, v in built["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}
    assert set(functions) == {DEMO_IDS[a] for a in GOARCHES[architecture]}
    for goarch in GOARCHES[architecture]:
        demo = functions[DEMO_IDS[goarch]]
        assert demo["Architectures"] == [LAMBDA_ARCHES[goarch]]
        # sam writes the long form (Ref) of the source's !Ref.
        assert [layer.get("Ref", layer.get("!Ref")) for layer in demo["Layers"]] == [LAYER_IDS[goarch]]


@pytest.mark.parametrize("companion", ["none", "local-api", "runtime-proxy"])
def test_the_demo_functions_run_the_runtime_through_the_proxy_wrapper(baked, companion, aws_env):
    """A runtime-proxy bake's demo functions set AWS_LAMBDA_EXEC_WRAPPER to the wrapper the
    layer ships (/opt/<name>-wrapper, as the Makefile packs it); other bakes set none.
    The template stays valid either way."""
    require_tool("sam")
    project = project_of(baked(companion=companion, architecture="both"))
    template = yaml.load((project / "template.yaml").read_text(encoding="utf-8"), CloudFormationLoader)
    functions = {k: v["Properties"] for k, v in template["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}
    assert set(functions) == set(DEMO_IDS.values())
    for props in functions.values():
        wrapper = props["Environment"]["Variables"].get("AWS_LAMBDA_EXEC_WRAPPER")
        if companion == "runtime-proxy":
            assert wrapper == "/opt/%s-wrapper" % EXTENSION
            assert "-add $(EXTENSION)-wrapper=" in (project / "Makefile").read_text()
        else:
            assert wrapper is None
    proc = run(["sam", "validate", "--lint"], cwd=project, env=aws_env)
    assert "is a valid SAM Template" in proc.stdout + proc.stderr
