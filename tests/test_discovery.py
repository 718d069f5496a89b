"""Entry-point discovery with a real plugin distribution installed by pip, and -p / autoload control."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REGSUITE = [sys.executable, "-c", "from regsuite.cli import main; main()"]


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory):
    """pip-install tests/plugin_dist into a private target directory (no network, no build isolation)."""
    target = tmp_path_factory.mktemp("site")
    build = tmp_path_factory.mktemp("src")
    import shutil

    shutil.copytree(HERE / "plugin_dist", build / "plugin_dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(target), str(build / "plugin_dist")],
        check=True, capture_output=True, text=True,
    )
    return target


def run_cli(args, pythonpath, **env):
    full = {**os.environ, "PYTHONPATH": str(pythonpath), **env}
    full.pop("REGSUITE_DISABLE_PLUGIN_AUTOLOAD", None) if "REGSUITE_DISABLE_PLUGIN_AUTOLOAD" not in env else None
    return subprocess.run(REGSUITE + args, capture_output=True, text=True, env=full, timeout=120)


def test_installed_distribution_is_discovered_with_its_version(installed_plugin):
    out = run_cli(["plugins"], installed_plugin)
    assert out.returncode == 0, out.stderr
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("testplugin"))
    assert "regsuite-testplugin" in line and "0.3.1" in line
    methods = run_cli(["list", "methods", "--family", "optimizer"], installed_plugin)
    assert "testplugin-signsgd" in methods.stdout and "Jeremy Bernstein et al. 2018" in methods.stdout


def test_third_party_method_runs_and_its_version_is_stored(installed_plugin, tmp_path):
    out = run_cli(["bench", "--task", "digits-mlp", "--method", "testplugin-signsgd", "--seeds", "1",
                   "--out", str(tmp_path), "--quiet"], installed_plugin)
    assert out.returncode == 0, out.stderr
    assert "testplugin-signsgd" in out.stdout
    from regsuite.store import Store

    row = Store(tmp_path).runs().iloc[0]
    assert row["status"] == "ok"
    assert {"name": "testplugin", "distribution": "regsuite-testplugin", "version": "0.3.1"} in json.loads(row["plugins"])


def test_block_and_disable_autoload_like_pytest(installed_plugin):
    blocked = run_cli(["-p", "no:testplugin", "list", "methods"], installed_plugin)
    assert "testplugin-signsgd" not in blocked.stdout and "sgd" in blocked.stdout
    off = run_cli(["list", "methods"], installed_plugin, REGSUITE_DISABLE_PLUGIN_AUTOLOAD="1")
    assert off.stdout.strip().splitlines() == ["method  family  fidelity  citation  plugin  summary"]
    chosen = run_cli(["-p", "testplugin", "-p", "optimizers", "list", "methods"], installed_plugin,
                     REGSUITE_DISABLE_PLUGIN_AUTOLOAD="1")
    rows = [ln.split() for ln in chosen.stdout.splitlines()[1:]]
    names = {r[0] for r in rows}
    assert {"adamw", "sgd", "testplugin-signsgd"} <= names and "sam" not in names
    plugin_column = chosen.stdout.splitlines()[0].index("plugin")
    assert {ln[plugin_column:].split()[0] for ln in chosen.stdout.splitlines()[1:]} == {"optimizers", "testplugin"}


def test_listing_does_not_import_heavy_libraries():
    code = (
        "import sys; from regsuite.registry import build_registry; r = build_registry();"
        "assert r.methods and r.tasks;"
        "heavy = [m for m in ('torch', 'sklearn', 'ot', 'geomloss', 'pytorch_optimizer', 'pyarrow') if m in sys.modules];"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_a_plugin_object_that_is_not_a_module_registers_with_its_methods(monkeypatch):
    """An entry point may name an object: its hooks are methods of its class, not in its ``vars()``."""
    import regsuite.discovery as discovery
    from regsuite import hookimpl

    class Provider:
        @hookimpl
        def regsuite_methods(self):
            return []

    provider = Provider()

    class EntryPoint:
        name, value, dist = "object-plugin", "somewhere:PROVIDER", None

        def load(self):
            return provider

    monkeypatch.setattr(discovery, "entry_points", lambda group: [EntryPoint()])
    monkeypatch.delenv(discovery.AUTOLOAD_ENV, raising=False)
    loaded = discovery.load_plugins()
    assert not loaded.problems
    impls = loaded.manager.hook.regsuite_methods.get_hookimpls()
    assert [impl.plugin for impl in impls] == [provider]


def test_a_module_plugin_registers_its_hooks_including_one_named_by_specname(monkeypatch):
    import sys
    import types

    from regsuite import hookimpl
    from regsuite.discovery import load_plugins

    module = types.ModuleType("specname_plugin_module")

    @hookimpl(specname="regsuite_methods")
    def provide():
        return []

    module.provide = provide
    module.unrelated = 3
    monkeypatch.setitem(sys.modules, "specname_plugin_module", module)
    loaded = load_plugins(["specname_plugin_module"])
    impls = [impl for impl in loaded.manager.hook.regsuite_methods.get_hookimpls()
             if impl.plugin_name == "specname_plugin_module"]
    assert [impl.function for impl in impls] == [provide]
