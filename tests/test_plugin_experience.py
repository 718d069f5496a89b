"""Third-party plugin experience: scaffold, example external plugin, conformance, malformed plugins."""

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from click.testing import CliRunner

from regsuite.cli import cli

ROOT = Path(__file__).resolve().parents[1]
REGSUITE = ["-c", "from regsuite.cli import main; main()"]


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A fresh virtual environment that sees this environment's packages (torch, regsuite) through a .pth."""
    path = tmp_path_factory.mktemp("venv")
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    parent = sysconfig.get_paths()["purelib"]
    Path(purelib, "_parent_env.pth").write_text(f"import site; site.addsitedir({parent!r})\n")
    return python


def pip_install(python, package: Path):
    out = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                          "--no-index", str(package)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def run(python, *args, cwd=None):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "REGSUITE_DISABLE_PLUGIN_AUTOLOAD")}
    return subprocess.run([str(python), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def test_scaffold_installs_passes_its_tests_and_is_listed(venv, tmp_path):
    made = CliRunner().invoke(cli, ["plugin", "new", "my-method", "--dir", str(tmp_path / "pkg")])
    assert made.exit_code == 0, made.output
    for rel in ("pyproject.toml", "regsuite_my_method/__init__.py", "tests/test_regsuite_my_method.py",
                "README.md", ".github/workflows/tests.yml"):
        assert (tmp_path / "pkg" / rel).is_file(), rel
    pip_install(venv, tmp_path / "pkg")
    tests = run(venv, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", cwd=tmp_path / "pkg")
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "2 passed" in tests.stdout
    listed = run(venv, *REGSUITE, "list", "methods")
    assert any(line.startswith("my-method ") for line in listed.stdout.splitlines()), listed.stdout


def test_scaffold_says_how_to_depend_on_regsuite_and_ci_installs_cpu_torch_first(tmp_path):
    from regsuite.scaffold import render_plugin

    render_plugin("ci-check", tmp_path)
    workflow = (tmp_path / ".github" / "workflows" / "tests.yml").read_text().splitlines()
    installs = [line.strip() for line in workflow if line.strip().startswith("python -m pip install")]
    # torch from the CPU index (regsuite's pin, torch==2.13.0 in pyproject.toml), then regsuite from
    # git, then the plugin: pip then finds torch and regsuite satisfied and fetches no CUDA build
    assert installs[1:] == [
        "python -m pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu",
        'python -m pip install "$REGSUITE"',
        "python -m pip install -e '.[test]'",
    ]
    assert '  REGSUITE: "regsuite @ git+https://github.com/regsuite/regsuite"' in workflow
    readme = (tmp_path / "README.md").read_text()
    assert 'pip install "regsuite @ git+https://github.com/regsuite/regsuite"' in readme
    assert "pip install -e /path/to/regsuite" in readme
    assert "regsuite plugin check regsuite-ci-check" in "\n".join(workflow)


def test_scaffold_refuses_bad_names_and_non_empty_dirs(tmp_path):
    bad = CliRunner().invoke(cli, ["plugin", "new", "My Method", "--dir", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "must be lowercase" in bad.output
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    busy = CliRunner().invoke(cli, ["plugin", "new", "ok-name", "--dir", str(tmp_path / "full")])
    assert busy.exit_code == 2 and "not empty" in busy.output
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"


def test_example_external_plugin(venv, tmp_path):
    src = tmp_path / "gradnoise"
    shutil.copytree(ROOT / "examples" / "regsuite-gradnoise", src)
    pip_install(venv, src)
    tests = run(venv, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", cwd=src)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    check = run(venv, *REGSUITE, "plugin", "check", "gradnoise")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "gradient-noise" in check.stdout and "7 checks passed, 0 failed" in check.stdout
    bench = run(venv, *REGSUITE, "bench", "--task", "digits-mlp", "--method", "gradient-noise",
                "--seeds", "1", "--out", str(tmp_path / "res"), "--quiet")
    assert bench.returncode == 0, bench.stderr
    assert "gradient-noise" in bench.stdout


def test_example_external_task(venv, tmp_path):
    src = tmp_path / "example-task"
    shutil.copytree(ROOT / "examples" / "regsuite-example-task", src)
    pip_install(venv, src)
    tests = run(venv, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", cwd=src)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "4 passed" in tests.stdout
    listed = run(venv, *REGSUITE, "list", "tasks")
    assert any(line.split()[:3] == ["sinefit", "sine-mlp", "smoke"] for line in listed.stdout.splitlines()
               if line.strip()), listed.stdout + listed.stderr
    shown = run(venv, *REGSUITE, "show", "sinefit/sine-mlp")
    assert shown.returncode == 0 and "test_mse" in shown.stdout and "val_mse" in shown.stdout, shown.stdout
    bench = run(venv, *REGSUITE, "bench", "--suite", "sinefit", "--seeds", "1", "--out", str(tmp_path / "res"),
                "--quiet")
    assert bench.returncode == 0, bench.stderr
    rows = [line.split() for line in bench.stdout.splitlines()]
    # the suite's default methods, each with a row on the task
    assert {"sgd", "adamw", "l2"} <= {word for row in rows for word in row}, bench.stdout


def test_conformance_catches_contract_and_determinism_violations(registry):
    from regsuite.registry import build_registry
    from regsuite.testing import conformance

    reg = build_registry(("nonconforming_plugin",))
    results = {(r.method, r.check): r for r in conformance(plugin="nonconforming_plugin", reg=reg)}
    float_penalty = results[("nonconforming-float-penalty", "hook-contract")]
    assert not float_penalty.ok and "regsuite_penalty returned float" in float_penalty.detail
    assert results[("nonconforming-float-penalty", "deterministic")].ok
    assert not results[("nonconforming-unseeded", "deterministic")].ok
    assert results[("nonconforming-unseeded", "metadata")].ok


def test_plugin_check_reports_per_method_and_exits_1_on_failure():
    out = CliRunner().invoke(cli, ["-p", "nonconforming_plugin", "plugin", "check", "nonconforming_plugin"])
    assert out.exit_code == 1
    assert "FAIL nonconforming-float-penalty hook-contract" in out.output
    assert "2 methods" in out.output
    unknown = CliRunner().invoke(cli, ["plugin", "check", "nonexistent-plugin"])
    assert unknown.exit_code == 2 and "no loaded plugin or distribution named" in unknown.output


@pytest.mark.parametrize(
    "module, message",
    [
        ("malformed.bad_import", "failed to import malformed.bad_import: ModuleNotFoundError"),
        ("malformed.bad_hookname", "invalid hook implementation: unknown hook 'regsuite_methodz'"),
    ],
)
def test_broken_plugin_is_named_and_others_stay_usable(module, message):
    out = CliRunner().invoke(cli, ["-p", module, "list", "methods"])
    assert out.exit_code == 0
    assert f"warning: plugin '{module}' left out: {message}" in out.output
    assert "adamw" in out.output and "sam" in out.output


def test_invalid_methods_are_named_and_valid_ones_kept():
    out = CliRunner().invoke(cli, ["-p", "malformed.bad_methods", "list", "methods"])
    assert out.exit_code == 0
    text = out.output
    assert "method 'malformed-misspelled' has invalid metadata: implements unknown hook 'regsuite_penalti'; " \
           "did you mean regsuite_penalty?" in text
    assert "method 'malformed-family' has invalid metadata: family must be one of" in text
    # Two plugins providing 'sgd': neither is picked silently; the line names both and how to block one.
    assert "warning: method 'sgd' is provided by 2 plugins, plugin 'optimizers'" in text
    assert "-p no:optimizers or -p no:malformed.bad_methods" in text
    listed = [ln.split()[0] for ln in text.splitlines() if ln and not ln.startswith("warning")]
    assert "malformed-fine" in listed and "malformed-misspelled" not in listed
    assert "sgd" not in listed
