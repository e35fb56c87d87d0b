"""Every supported combination renders: answers land, no template syntax is
left, the hooks keep exactly the chosen variant, and the Go is gofmt-clean."""

import re

import pytest
import yaml
from cookiecutter.environment import StrictEnvironment

from conftest import (
    BASE_ANSWERS,
    COMBINATION_PARAMS,
    GOARCHES,
    LAYER_IDS,
    REPO_ROOT,
    TEMPLATE_PROJECT,
    project_of,
    require_tool,
    run,
)

# Jinja delimiters and cookiecutter variable references that must not survive.
# GitHub Actions expressions (${{ ... }}) are not Jinja and are allowed; a
# cookiecutter variable inside one is still caught by "cookiecutter.".
LEFTOVER = re.compile(r"(?<!\$)\{\{|\{%|\{#|cookiecutter\.")


@pytest.mark.parametrize("options", COMBINATION_PARAMS)
def test_bake_succeeds_with_every_answer(baked, options):
    result = baked(**options)

    assert result.exception is None
    assert result.exit_code == 0
    assert result.project_path.name == BASE_ANSWERS["project_slug"]
    # cookiecutter silently ignores unknown keys: check each answer arrived.
    for key, value in {**BASE_ANSWERS, **options}.items():
        assert result.context[key] == value, key


@pytest.mark.parametrize("options", COMBINATION_PARAMS)
def test_no_template_syntax_left(baked, options):
    result = baked(**options)
    project = project_of(result)

    leftovers = []
    for relative in result.rendered_files:
        # Directory names are part of the file paths.
        if LEFTOVER.search(relative.as_posix()):
            leftovers.append("file name: %s" % relative.as_posix())
        text = (project / relative).read_text(encoding="utf-8")
        for number, line in enumerate(text.splitlines(), 1):
            if LEFTOVER.search(line):
                leftovers.append("%s:%d: %s" % (relative.as_posix(), number, line.strip()))
    assert result.rendered_files != []
    assert leftovers == []


@pytest.mark.parametrize("options", COMBINATION_PARAMS)
def test_text_files_are_lf_and_end_with_newline(baked, options):
    result = baked(**options)
    project = project_of(result)

    bad = []
    for relative in result.rendered_files:
        data = (project / relative).read_bytes()
        if b"\r" in data:
            bad.append("%s: has CR" % relative)
        if data and not data.endswith(b"\n"):
            bad.append("%s: no final newline" % relative)
    assert bad == []


@pytest.mark.parametrize("options", COMBINATION_PARAMS)
def test_post_gen_keeps_exactly_the_chosen_processing_variant(baked, options):
    result = baked(**options)
    project = project_of(result)
    processing = options["processing"]

    processor = project / "processor"
    assert (processor / "processor.go").is_file()
    assert (processor / "processor_test.go").is_file()
    variant_files = [
        p.as_posix() for p in result.rendered_files if re.search(r"processor_(sync|async)", p.name)
    ]
    assert variant_files == []
    for async_only in ("extension/internal/queue", "extension/batch.go", "extension/batch_test.go"):
        assert (project / async_only).exists() == (processing == "async"), async_only

    # The kept files are the chosen variant's, rendered with these answers (the
    # template's own Jinja extension, local_extensions, is for cookiecutter.json only).
    context = {k: v for k, v in result.context.items() if k != "_extensions"}
    env = StrictEnvironment(context={"cookiecutter": context}, keep_trailing_newline=True)
    for kept, source in [
        ("processor.go", "processor_%s.go" % processing),
        ("processor_test.go", "processor_%s_test.go" % processing),
    ]:
        template = (TEMPLATE_PROJECT / "processor" / source).read_text(encoding="utf-8")
        assert (processor / kept).read_text(encoding="utf-8") == env.from_string(template).render(
            cookiecutter=result.context
        ), kept


@pytest.mark.parametrize("options", COMBINATION_PARAMS)
def test_go_is_gofmt_clean(baked, options):
    gofmt = require_tool("gofmt")
    project = project_of(baked(**options))

    proc = run([gofmt, "-l", "."], cwd=project)

    assert proc.stdout == "", "not gofmt-clean:\n" + proc.stdout


@pytest.mark.parametrize("options", COMBINATION_PARAMS)
def test_go_mod_and_command_use_the_answers(baked, options):
    project = project_of(baked(**options))

    go_mod = (project / "go.mod").read_text(encoding="utf-8").splitlines()
    assert "module " + BASE_ANSWERS["go_module"] in go_mod
    assert "go 1.26" in go_mod  # the default: the oldest Go release still supported
    assert (project / "cmd" / BASE_ANSWERS["extension_name"] / "main.go").is_file()


@pytest.mark.parametrize("options", COMBINATION_PARAMS)
def test_makefile_builds_the_chosen_architectures(baked, options):
    project = project_of(baked(**options))
    goarches = GOARCHES[options["architecture"]]

    makefile = (project / "Makefile").read_text(encoding="utf-8")
    assert "\nEXTENSION := %s\n" % BASE_ANSWERS["extension_name"] in makefile
    assert "\nARCHS := %s\n" % " ".join(goarches) in makefile
    sam_targets = set(re.findall(r"^(build-ExtensionLayer\w+):", makefile, re.MULTILINE))
    assert sam_targets == {"build-" + LAYER_IDS[a] for a in goarches}
    recipe_lines = [line for line in makefile.splitlines() if line.startswith(" ")]
    assert recipe_lines == [], "Makefile lines indented with spaces, not tabs"


# The demo function of each Go architecture, beside its layer.
DEMO_IDS = {"amd64": "DemoFunctionX86", "arm64": "DemoFunctionArm64"}


class CloudFormationLoader(yaml.SafeLoader):
    """Reads CloudFormation YAML: short-form tags become {"!Tag": value}."""


CloudFormationLoader.add_multi_constructor(
    "!",
    lambda loader, suffix, node: {
        "!" + suffix: loader.construct_scalar(node)
        if isinstance(node, yaml.ScalarNode)
        else loader.construct_sequence(node)
    },
)


@pytest.mark.parametrize("options", COMBINATION_PARAMS)
def test_sam_template_has_one_layer_per_architecture(baked, options):
    project = project_of(baked(**options))
    goarches = GOARCHES[options["architecture"]]
    lambda_arch = {"amd64": "x86_64", "arm64": "arm64"}

    template = yaml.load((project / "template.yaml").read_text(encoding="utf-8"), CloudFormationLoader)

    resources = template["Resources"]
    layers = {k: v for k, v in resources.items() if v["Type"] == "AWS::Serverless::LayerVersion"}
    assert set(layers) == {LAYER_IDS[a] for a in goarches}
    for goarch in goarches:
        layer = layers[LAYER_IDS[goarch]]
        assert layer["Properties"]["ContentUri"] == "."
        assert layer["Properties"]["CompatibleArchitectures"] == [lambda_arch[goarch]]
        assert BASE_ANSWERS["extension_name"] in layer["Properties"]["LayerName"]
        assert lambda_arch[goarch] in layer["Properties"]["LayerName"]
        assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": lambda_arch[goarch]}
    assert template["Description"] == BASE_ANSWERS["description"]

    # Each layer's description is the project's description as a sentence, then the
    # architecture (not "...in Go. (x86_64)").
    for goarch in goarches:
        description = layers[LAYER_IDS[goarch]]["Properties"]["Description"]
        assert description == "%s Layer for %s." % (BASE_ANSWERS["description"], lambda_arch[goarch])

    # A demo function per architecture, on that architecture, with that layer only.
    functions = {k: v for k, v in resources.items() if v["Type"] == "AWS::Serverless::Function"}
    demos = {DEMO_IDS[a]: a for a in goarches}
    assert set(functions) == set(demos)
    for demo_id, goarch in demos.items():
        demo = functions[demo_id]["Properties"]
        assert demo["Architectures"] == [lambda_arch[goarch]]
        assert demo["Layers"] == [{"!Ref": LAYER_IDS[goarch]}]
        assert demo["Environment"]["Variables"] == {"ORDER_SHIPPER_LOG_LEVEL": "debug"}
    assert {o["Value"]["!Ref"] for o in template["Outputs"].values()} == set(layers) | set(demos)


def test_default_answers_derive_names(cookies_session):
    """With no answers at all, the derived names follow the project name."""
    result = cookies_session.bake(template=str(REPO_ROOT))

    assert result.exception is None
    assert result.context["project_slug"] == "my-lambda-extension"
    assert result.context["extension_name"] == "my-lambda-extension"
    assert result.context["go_module"] == "github.com/example/my-lambda-extension"
    assert result.context["__env_prefix"] == "MY_LAMBDA_EXTENSION_"
    assert (result.project_path / "cmd" / "my-lambda-extension" / "main.go").is_file()
