"""The README's quickstart works: `make demo` renders the default extension and
builds its layer in one command."""

import stat
import sys
import zipfile

from conftest import REPO_ROOT, go_env, require_tool, run


def test_make_demo_renders_the_default_extension_and_builds_its_layer(tmp_path, cookiecutter_config):
    require_tool("make")
    require_tool("go")
    demo_dir = tmp_path / "demo"
    env = go_env(COOKIECUTTER_CONFIG=str(cookiecutter_config))

    run(["make", "demo", "DEMO_DIR=%s" % demo_dir, "PYTHON=%s" % sys.executable], cwd=REPO_ROOT, env=env)

    layer = demo_dir / "my-lambda-extension" / "dist" / "my-lambda-extension-amd64.zip"
    with zipfile.ZipFile(layer) as z:
        entry = z.getinfo("extensions/my-lambda-extension")
        assert stat.S_IMODE(entry.external_attr >> 16) == 0o755
