"""Executors: the same plan, cache and store through local, process, slurm (submitit) and ray."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from regsuite.cli import cli
from regsuite.plan import build_plan
from regsuite.registry import build_registry
from regsuite.runner import run_plan
from regsuite.store import Store

TESTS = Path(__file__).parent


@pytest.fixture
def reg(monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS))
    return build_registry(["faultplugin"])


def test_process_pool_matches_local_and_shares_the_cache(reg, tmp_path):
    """Two workers give the same metrics as in-process runs; a later local bench finds them cached."""
    import torch

    from regsuite.executors.process import ProcessExecutor
    from regsuite.runner import execute_run

    runs = build_plan(reg, tasks=["vision/digits-mlp"], methods=["sgd"], seeds=2).runs
    with ProcessExecutor(workers=2, threads=1) as ex:
        counts = run_plan(reg, runs, Store(tmp_path), executor=ex, progress=False)
    assert counts["ok"] == 2
    pooled = Store(tmp_path).runs().set_index("run_id")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        local, _ = execute_run(reg, runs[1])
    finally:
        torch.set_num_threads(before)
    assert json.loads(pooled.loc[runs[1].run_id, "metrics"]) == json.loads(local["metrics"])
    assert len(Store(tmp_path).curves([runs[1].run_id])) > 0
    assert run_plan(reg, runs, Store(tmp_path), progress=False)["cached"] == 2


def test_slurm_executor_through_submitit_local(reg, tmp_path, monkeypatch):
    """The real submitit path (one job per run, pickled call, result pickle); a crashed job is an error row."""
    submitit = pytest.importorskip("submitit")
    from regsuite.executors import make_executor

    # submitit waits up to 15 s for a crashed job's result file (slow NFS); a local disk needs no wait.
    monkeypatch.setattr(submitit.core.core.Job, "_results_timeout_s", 1)

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
    runs = build_plan(reg, tasks=["faults/probe"], methods=["probe-opt", "fault-crash"], seeds=1).runs
    ex = make_executor("slurm", workers=2, config={"slurm": {"cluster": "local", "folder": str(tmp_path / "jobs")}})
    with ex:
        counts = run_plan(reg, runs, Store(tmp_path / "out"), executor=ex, plugin_options=("faultplugin",),
                          progress=False)
    assert counts == {"cached": 0, "ok": 1, "diverged": 0, "error": 1, "timeout": 0}
    df = Store(tmp_path / "out").runs().set_index("method")
    assert df.loc["probe-opt", "primary_value"] == pytest.approx(-0.25)
    assert "the job" in df.loc["fault-crash", "error"] and "failed" in df.loc["fault-crash", "error"]
    assert list((tmp_path / "jobs").glob("*_result.pkl"))  # submitit's own files: the job really ran there


def test_ray_executor(reg, tmp_path):
    """Ray tasks on a local 2-CPU Ray; a worker killed by os._exit is an error row, the rest finish."""
    ray = pytest.importorskip("ray")
    from regsuite.executors.ray import RayExecutor

    path = os.pathsep.join([str(TESTS), *sys.path])
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": path}})
    try:
        runs = build_plan(reg, tasks=["faults/probe"], methods=["probe-opt", "fault-crash", "fault-diverge"],
                          seeds=1).runs
        with RayExecutor() as ex:
            counts = run_plan(reg, runs, Store(tmp_path), executor=ex, plugin_options=("faultplugin",),
                              progress=False)
            assert ex.slots == 2
    finally:
        ray.shutdown()
    assert counts == {"cached": 0, "ok": 1, "diverged": 1, "error": 1, "timeout": 0}
    df = Store(tmp_path).runs().set_index("method")
    assert "Ray task failed" in df.loc["fault-crash", "error"]


@pytest.mark.parametrize("name,package", [("ray", "ray"), ("slurm", "submitit")])
def test_missing_optional_executor_says_what_to_install(tmp_path, monkeypatch, name, package):
    monkeypatch.setitem(sys.modules, package, None)  # import fails as if not installed
    res = CliRunner().invoke(cli, ["bench", "--task", "digits-mlp", "--out", str(tmp_path), "--executor", name])
    assert res.exit_code == 2
    assert res.stderr.strip().splitlines() == [
        f"error: --executor {name} needs the {package} package, which is not installed: "
        f"pip install 'regsuite[{name}]'  (or: pip install {'submitit' if name == 'slurm' else chr(39) + 'ray>=2.30' + chr(39)})"
    ]


@pytest.mark.parametrize(
    "args,message",
    [
        (["--timeout", "5"], "--timeout needs an executor that can stop a run from outside"),
        (["--executor", "process", "--workers", "0"], "--workers must be at least 1"),
        (["--executor", "process", "--timeout", "-1"], "--timeout must be a positive number of seconds"),
        (["--executor", "slurm", "--executor-config", "/nonexistent/x.toml"], "cannot read executor config"),
    ],
)
def test_bad_executor_options_are_one_line(tmp_path, args, message):
    res = CliRunner().invoke(cli, ["bench", "--task", "digits-mlp", "--out", str(tmp_path), *args])
    assert res.exit_code == 2
    assert res.stderr.startswith(f"error: {message}") and len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()
