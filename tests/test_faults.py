"""The fault matrix (docs/reliability.md): each case ends with the store intact and every run accounted for."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from regsuite.cli import cli
from regsuite.errors import StoreError
from regsuite.plan import build_plan
from regsuite.registry import build_registry
from regsuite.runner import run_plan
from regsuite.store import Store

TESTS = Path(__file__).parent


@pytest.fixture
def reg(monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS))  # `-p faultplugin` imports tests/faultplugin.py
    return build_registry(["faultplugin"])


def _all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and ".claims" not in p.parts)


@pytest.fixture
def one_thread():
    """Tiny models on a shared machine: one torch thread avoids spin-waiting on busy cores."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_diverged_and_plugin_exception_in_process(reg, tmp_path, one_thread):
    """On a real task: NaN loss -> diverged; an exception in a hook -> error with its traceback."""
    runs = build_plan(reg, tasks=["vision/digits-mlp"], methods=["sgd", "fault-diverge", "fault-boom"], seeds=1).runs
    store = Store(tmp_path)
    counts = run_plan(reg, runs, store, progress=False)
    assert counts == {"cached": 0, "ok": 1, "diverged": 1, "error": 1, "timeout": 0}
    df = Store(tmp_path).runs().set_index("method")
    assert len(df) == 3 and not store.problems
    assert df.loc["fault-diverge", "status"] == "diverged"
    assert "became nan at step" in df.loc["fault-diverge", "error"]
    assert df.loc["fault-diverge", "primary_value"] != df.loc["fault-diverge", "primary_value"]  # None/NaN
    err = df.loc["fault-boom", "error"]
    assert err.startswith("Traceback (most recent call last)") and "RuntimeError: boom: a bug in a plugin" in err
    assert "faultplugin.py" in err  # the traceback points at the plugin's line
    assert df.loc["sgd", "status"] == "ok" and df.loc["sgd", "primary_value"] > 0.8


def test_process_pool_survives_every_fault(reg, tmp_path):
    """Diverge, raise, hang and os._exit in one plan on a 2-worker pool: five rows, one per run."""
    from regsuite.executors.process import ProcessExecutor

    methods = ["probe-opt", "fault-diverge", "fault-boom", "fault-hang", "fault-crash"]
    runs = build_plan(reg, tasks=["faults/probe"], methods=methods, seeds=1).runs
    with ProcessExecutor(workers=2, timeout=2.0) as ex:
        counts = run_plan(reg, runs, Store(tmp_path), executor=ex, plugin_options=("faultplugin",), progress=False)
    assert counts == {"cached": 0, "ok": 1, "diverged": 1, "error": 2, "timeout": 1}
    store = Store(tmp_path)
    df = store.runs().set_index("method")
    assert sorted(df.index) == sorted(methods) and not store.problems
    assert set(df["run_id"]) == {r.run_id for r in runs}
    assert df.loc["probe-opt", "status"] == "ok" and df.loc["probe-opt", "primary_value"] == pytest.approx(-0.25)
    assert df.loc["fault-diverge", "status"] == "diverged"
    assert "boom: a bug in a plugin" in df.loc["fault-boom", "error"]
    assert df.loc["fault-hang", "status"] == "timeout" and "timeout of 2 s" in df.loc["fault-hang", "error"]
    assert df.loc["fault-hang", "wall_s"] >= 2.0
    assert df.loc["fault-crash", "status"] == "error" and "exit code 3" in df.loc["fault-crash", "error"]
    # Re-running the plan skips what finished (ok, diverged) and retries the rest.
    assert store.finished_ids() == {df.loc["probe-opt", "run_id"], df.loc["fault-diverge", "run_id"]}


def _write_two_runs(root: Path) -> Store:
    store = Store(root)
    for i in range(2):
        store.append([{"run_id": f"r{i}", "task": "t", "status": "ok", "finished_at": f"2026-01-0{i + 1}"}],
                     [{"run_id": f"r{i}", "step": 1, "split": "train", "metric": "loss", "value": 1.0}])
    return store


def test_corrupt_parquet_is_named_and_the_rest_still_reads(tmp_path):
    _write_two_runs(tmp_path)
    first, second = sorted((tmp_path / "runs").iterdir())
    untouched_id = pq.read_table(second).column("run_id")[0].as_py()
    first.write_bytes(first.read_bytes()[:40] + b"garbage" * 10)
    store = Store(tmp_path)
    df = store.runs()
    assert list(df["run_id"]) == [untouched_id]  # the other file is still read
    assert len(store.problems) == 1 and str(first) in store.problems[0] and "corrupt" in store.problems[0]
    assert store.finished_ids() == {untouched_id}
    res = CliRunner().invoke(cli, ["results", "--results", str(tmp_path)])
    assert res.exit_code == 2
    assert f"error: {first} is corrupt or unreadable" in res.stderr


def test_full_disk_leaves_no_partial_file(tmp_path, monkeypatch):
    import regsuite.store as store_mod

    real = store_mod.pq.write_table
    calls = {"n": 0}

    def full_on_second_write(table, where, **kw):  # curves fit on the disk, the run row does not
        calls["n"] += 1
        if calls["n"] == 2:
            where.write(b"PAR1 partial")  # a partial write before the disk filled up
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(table, where, **kw)

    monkeypatch.setattr(store_mod.pq, "write_table", full_on_second_write)
    store = Store(tmp_path)
    with pytest.raises(StoreError, match="could not write results to .*No space left on device"):
        store.append([{"run_id": "r0", "status": "ok"}], [{"run_id": "r0", "step": 1, "value": 1.0}])
    assert _all_files(tmp_path) == []  # neither the temporary file nor the orphaned curves remain
    assert len(Store(tmp_path).runs()) == 0


def test_full_disk_during_bench_is_one_clear_line(tmp_path, monkeypatch):
    import regsuite.store as store_mod

    monkeypatch.syspath_prepend(str(TESTS))

    def no_space(table, where, **kw):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_mod.pq, "write_table", no_space)
    res = CliRunner().invoke(cli, ["-p", "faultplugin", "bench", "--task", "faults/probe", "--seeds", "2",
                                   "--out", str(tmp_path), "--quiet"])
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert lines == [f"error: could not write results to {tmp_path / 'curves'}: No space left on device"]
    assert "Traceback" not in res.output
    assert _all_files(tmp_path) == []


def test_failure_rows_are_complete(reg, tmp_path):
    """A row made by the driver (crash, timeout) has every column a normal row has."""
    from regsuite.runner import execute_run, failure_row

    spec = build_plan(reg, tasks=["faults/probe"], methods=["probe-opt"], seeds=1).runs[0]
    ok, _ = execute_run(reg, spec)
    bad = failure_row(reg, spec, "timeout", "too slow", wall_s=3.0)
    assert set(ok) == set(bad)
    assert bad["status"] == "timeout" and bad["primary_value"] is None and bad["run_id"] == spec.run_id
    assert json.loads(bad["components"]) == ["probe-opt"]


# ------------------------------------------------------------------ site build --out: never delete what is not a site


@pytest.fixture
def site_results(tmp_path):
    from site_results import write_results

    import sys

    sys.path.insert(0, str(TESTS))
    write_results(tmp_path / "results")
    return tmp_path / "results"


def _site(results, out):
    return CliRunner().invoke(cli, ["site", "build", "--no-registry", "--results", str(results), "--out", str(out)])


def test_site_build_refuses_to_replace_a_folder_that_is_not_a_site(site_results, tmp_path):
    before = _all_files(site_results)
    res = _site(site_results.parent, site_results)  # --out pointed at the results themselves
    assert res.exit_code == 2 and res.stderr.count("\n") == 1
    assert res.stderr.startswith(f"error: --out {site_results} is a folder that is not a regsuite site")
    assert _all_files(site_results) == before  # nothing deleted
    afile = tmp_path / "notes.txt"
    afile.write_text("mine")
    res = _site(site_results, afile)
    assert res.exit_code == 2 and "is a file" in res.stderr and afile.read_text() == "mine"
    res = _site(site_results, "")
    assert res.exit_code == 2 and "current directory" in res.stderr


def test_site_build_replaces_its_own_site_and_a_failed_build_keeps_the_old_one(site_results, tmp_path, monkeypatch):
    out = tmp_path / "site"
    assert _site(site_results, out).exit_code == 0
    assert (out / ".regsuite-site").is_file()
    (out / "stale.html").write_text("from an older build")
    assert _site(site_results, out).exit_code == 0
    assert not (out / "stale.html").exists() and (out / "index.html").is_file()
    index = (out / "index.html").read_text()

    import regsuite.site.build as build_mod

    def broken(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(build_mod, "write_downloads", broken)
    res = _site(site_results, out)
    assert res.exit_code == 2 and res.stderr == f"error: could not write the site to {out}: No space left on device\n"
    assert (out / "index.html").read_text() == index  # the previous site is intact
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging folder left
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.undo()
    assert _site(site_results, empty).exit_code == 0 and (empty / "index.html").is_file()
