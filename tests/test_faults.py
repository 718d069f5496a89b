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
    (out / ".regsuite-site").unlink()  # a site built before the marker existed is still recognised as one
    assert _site(site_results, out).exit_code == 0 and (out / ".regsuite-site").is_file()
    (out / ".regsuite-site").unlink()
    (out / "notes.txt").write_text("not part of a site")  # ... but not once it holds anything else
    assert _site(site_results, out).exit_code == 2 and (out / "notes.txt").exists()
    assert _site(site_results, empty).exit_code == 0 and (empty / "index.html").is_file()


# ------------------------------------------------------------------ damaged files are not "finished"; leftovers


def _damage_column(path: Path, column: str) -> None:
    """Overwrite the end of one column chunk (its data page): the other columns still decode."""
    meta = pq.ParquetFile(path).metadata.row_group(0)
    chunk = next(meta.column(j) for j in range(meta.num_columns) if meta.column(j).path_in_schema == column)
    start = chunk.dictionary_page_offset or chunk.data_page_offset
    data = bytearray(path.read_bytes())
    data[start + chunk.total_compressed_size - 12: start + chunk.total_compressed_size] = b"\xab" * 12
    path.write_bytes(bytes(data))


def test_a_file_damaged_inside_one_column_is_not_finished(tmp_path):
    store = Store(tmp_path)
    store.append([{"run_id": "hurt", "status": "ok", "finished_at": "2026-01-01", "error": "E" * 300}])
    store.append([{"run_id": "fine", "status": "ok", "finished_at": "2026-01-02"}])
    hurt = next(p for p in (tmp_path / "runs").iterdir() if pq.read_table(p).column("run_id")[0].as_py() == "hurt")
    _damage_column(hurt, "error")
    assert pq.read_table(hurt, columns=["run_id", "status"]).column("run_id")[0].as_py() == "hurt"  # still "looks" ok
    fresh = Store(tmp_path)
    assert fresh.finished_ids() == {"fine"}
    assert len(fresh.problems) == 1 and fresh.problems[0].startswith(f"{hurt} is corrupt or unreadable")
    assert list(Store(tmp_path).runs()["run_id"]) == ["fine"]


def test_bench_reruns_a_run_whose_file_has_text_in_a_float_column(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS))
    args = ["-p", "faultplugin", "bench", "--task", "faults/probe", "--method", "probe-opt", "--seeds", "1",
            "--out", str(tmp_path), "--quiet"]
    assert CliRunner().invoke(cli, args).exit_code == 0
    (path,) = (tmp_path / "runs").iterdir()
    table = pq.read_table(path)
    i = table.column_names.index("wall_s")
    table = table.set_column(i, "wall_s", table.column("wall_s").cast("string"))  # "0.01" as text
    pq.write_table(table, path)
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    assert f"warning: {path} has string values in the column 'wall_s', which holds double" in res.stderr
    assert "1 runs: 0 cached, 1 ok" in res.stderr  # run again, not counted as cached
    assert len(Store(tmp_path).runs()) == 1


def test_leftovers_of_killed_writers_are_removed_only_when_stale(tmp_path):
    import os
    import subprocess
    import sys
    import time

    from regsuite.store_files import HOST

    store = Store(tmp_path)
    store.append([{"run_id": "kept", "status": "ok", "finished_at": "2026"}],
                 [{"run_id": "kept", "step": 1, "value": 1.0}])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    runs, curves = tmp_path / "runs", tmp_path / "curves"
    dead_tmp = runs / f".runs-a.parquet.{HOST}.{dead.pid}.tmp"
    live_tmp = runs / f".runs-b.parquet.{HOST}.{os.getpid()}.tmp"  # a write in progress
    old_tmp = curves / ".curves-c.parquet.tmp"
    fresh_tmp = curves / ".curves-d.parquet.tmp"
    (tmp_path / "checkpoints" / "run1").mkdir(parents=True)
    dead_ckpt = tmp_path / "checkpoints" / "run1" / f".last.pt.{HOST}.{dead.pid}.tmp"
    for p in (dead_tmp, live_tmp, old_tmp, fresh_tmp, dead_ckpt):
        p.write_bytes(b"partial")
    Store(tmp_path).append([], [{"run_id": "orphan-old", "step": 1, "value": 1.0}])
    Store(tmp_path).append([], [{"run_id": "orphan-new", "step": 1, "value": 1.0}])
    hour_ago = time.time() - 3600
    os.utime(old_tmp, (hour_ago, hour_ago))
    orphan_old = next(p for p in curves.iterdir() if not p.name.startswith(".")
                      and pq.read_table(p).column("run_id")[0].as_py() == "orphan-old")
    os.utime(orphan_old, (hour_ago, hour_ago))
    kept_curves = next(p for p in curves.iterdir() if not p.name.startswith(".")
                       and pq.read_table(p).column("run_id")[0].as_py() == "kept")
    os.utime(kept_curves, (hour_ago, hour_ago))
    assert Store(tmp_path).finished_ids() == {"kept"}  # opening a store for a bench tidies it
    assert not dead_tmp.exists() and not old_tmp.exists() and not orphan_old.exists() and not dead_ckpt.exists()
    assert live_tmp.exists() and fresh_tmp.exists() and kept_curves.exists()
    assert sorted(Store(tmp_path).curves()["run_id"]) == ["kept", "orphan-new"]  # too young to call an orphan


# ------------------------------------------------------------------ compaction


def _run(run_id, value, finished):
    return {"run_id": run_id, "status": "ok", "finished_at": finished, "primary_value": value,
            "metrics": json.dumps({"acc": value})}


def test_compaction_keeps_exactly_what_readers_saw(tmp_path):
    from regsuite.store_compact import compact

    store = Store(tmp_path, compact_at=0)  # no automatic compaction here
    store.append([_run("a", 0.1, "2026-01-01")], [{"run_id": "a", "step": 1, "metric": "loss", "value": 3.0}])
    store.append([_run("b", 0.2, "2026-01-02")], [{"run_id": "b", "step": 1, "metric": "loss", "value": 2.0}])
    store.append([_run("a", 0.3, "2026-01-03")], [{"run_id": "a", "step": 1, "metric": "loss", "value": 1.0}])
    store.append([{"run_id": "c", "status": "error", "finished_at": "2026-01-04"}])
    (tmp_path / "runs" / "runs-zz-broken.parquet").write_bytes(b"PAR1 not parquet")
    report = compact(store)
    assert report["runs"] == (4, 3)  # four good files in, one row per run out: a (latest), b, c
    names = sorted(p.name for p in (tmp_path / "runs").iterdir() if not p.name.startswith("."))
    assert len(names) == 2 and "runs-zz-broken.parquet" in names  # the damaged file is left, not merged
    assert any("runs-zz-broken.parquet is corrupt" in p for p in store.problems)
    assert len([p for p in (tmp_path / "curves").iterdir() if not p.name.startswith(".")]) == 1
    after = Store(tmp_path)
    runs = after.runs().set_index("run_id")
    assert sorted(runs.index) == ["a", "b", "c"]
    assert runs.loc["a", "primary_value"] == 0.3 and json.loads(runs.loc["a", "metrics"]) == {"acc": 0.3}
    assert after.finished_ids() == {"a", "b"}
    curves = after.curves().set_index("run_id")
    assert curves.loc["a", "value"] == 1.0 and curves.loc["b", "value"] == 2.0  # the later file still wins


def test_compaction_is_automatic_past_the_threshold_and_skips_while_another_holds_the_lock(tmp_path):
    import fcntl
    import os

    from regsuite.store_compact import compact

    store = Store(tmp_path, compact_at=4)
    for i in range(6):
        store.append([_run(f"r{i}", i / 10, f"2026-01-0{i + 1}")])
    # the 5th file tipped it over 4: merged into one; the 6th came after
    assert len([p for p in (tmp_path / "runs").iterdir() if not p.name.startswith(".")]) == 2
    assert Store(tmp_path).finished_ids() == {f"r{i}" for i in range(6)}
    fd = os.open(tmp_path / ".compact.lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        assert compact(Store(tmp_path)) is None  # another process is compacting: skip, do not wait
    finally:
        os.close(fd)
    assert compact(Store(tmp_path))["runs"] == (2, 6)


def test_concurrent_writers_compacting_lose_and_duplicate_nothing(tmp_path):
    import subprocess
    import sys

    code = ("import sys, json; from regsuite.store import Store\n"
            "s = Store(sys.argv[1], compact_at=5)\n"
            "for i in range(40):\n"
            "    r = sys.argv[2] + str(i)\n"
            "    s.append([{'run_id': r, 'status': 'ok', 'finished_at': '2026', 'metrics': json.dumps({'x': i})}],\n"
            "             [{'run_id': r, 'step': 1, 'value': float(i)}])\n"
            "    assert r in Store(sys.argv[1]).finished_ids(), r\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path), w]) for w in ("p", "q")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    store = Store(tmp_path)
    runs = store.runs()
    assert sorted(runs["run_id"]) == sorted(f"{w}{i}" for w in "pq" for i in range(40)) and not store.problems
    assert len(store.curves()) == 80
    assert not [p for p in tmp_path.rglob("*.tmp")]


def test_metrics_are_typed_on_disk_and_old_files_still_read(tmp_path):
    import pyarrow as pa
    import pyarrow.compute as pc

    store = Store(tmp_path)
    store.append([{"run_id": "new", "status": "ok", "finished_at": "2026-01-02",
                   "metrics": json.dumps({"acc": 0.75, "forgetting": 0.125})}])
    (path,) = (tmp_path / "runs").iterdir()
    table = pq.read_table(path)
    assert table.schema.metadata[b"regsuite.schema_version"] == b"2"
    assert table.column("metrics").type == pa.map_(pa.string(), pa.float64())
    assert pc.map_lookup(table.column("metrics"), "forgetting", "first").to_pylist() == [0.125]
    old = pa.table({"run_id": ["old"], "status": ["diverged"], "finished_at": ["2026-01-01"],
                    "metrics": [json.dumps({"acc": 0.5})]})
    from regsuite.store import RUNS_SCHEMA

    cols = {f.name: old.column(f.name) if f.name in old.column_names else pa.nulls(1, f.type) for f in RUNS_SCHEMA
            if f.name != "metrics"}
    cols["metrics"] = old.column("metrics")
    v1 = pa.table(cols).replace_schema_metadata({b"regsuite.table": b"runs", b"regsuite.schema_version": b"1"})
    pq.write_table(v1, tmp_path / "runs" / "runs-old.parquet")
    bad = v1.set_column(v1.column_names.index("metrics"), "metrics", pa.array(["{not json"]))
    pq.write_table(bad.replace_schema_metadata(v1.schema.metadata), tmp_path / "runs" / "runs-bad.parquet")
    reader = Store(tmp_path)
    runs = reader.runs().set_index("run_id")
    assert json.loads(runs.loc["old", "metrics"]) == {"acc": 0.5}
    assert json.loads(runs.loc["new", "metrics"]) == {"acc": 0.75, "forgetting": 0.125}
    assert reader.problems == [f"{tmp_path / 'runs' / 'runs-bad.parquet'} has a metrics value that is not a JSON "
                               "object of numbers (row 0)"]


def test_the_divergence_message_states_the_real_step(reg, tmp_path, one_thread):
    """NaN from step 30 on; digits-mlp logs (and checks) the loss at steps 1, 20, 40, ...: caught at 40."""
    from regsuite.runner import execute_run

    spec = build_plan(reg, tasks=["vision/digits-mlp"], methods=["sgd+fault-diverge-at"], seeds=1).runs[0]
    row, _ = execute_run(reg, spec)
    assert row["status"] == "diverged" and row["error"] == "loss became nan at step 40"


def test_site_build_names_a_file_with_a_malformed_json_cell_and_builds_from_the_rest(site_results, tmp_path):
    victim = sorted((site_results / "runs").glob("*.parquet"))[0]
    table = pq.read_table(victim)
    i = table.column_names.index("hparams")
    import pyarrow as pa

    cells = table.column("hparams").to_pylist()
    cells[0] = '{"sgd": {"lr": 0.1'  # cut short
    pq.write_table(table.set_column(i, "hparams", pa.array(cells, pa.string())), victim)
    res = _site(site_results, tmp_path / "site")
    assert res.exit_code == 0, res.output
    assert f"warning: {victim} has text that is not JSON in the column 'hparams'" in res.stderr
    assert "Traceback" not in res.output and (tmp_path / "site" / "index.html").is_file()


def test_results_compact_command(tmp_path):
    store = Store(tmp_path, compact_at=0)
    for i in range(3):
        store.append([_run(f"r{i}", i / 10, f"2026-01-0{i + 1}")], [{"run_id": f"r{i}", "step": 1, "value": 1.0}])
    store.append([_run("r0", 0.5, "2026-01-09")])  # r0 again, finished later: its newer row is kept
    res = CliRunner().invoke(cli, ["results", "compact", "--results", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert res.stderr == ("runs: 4 files merged into 3 rows; curves: 3 files merged into 3 rows; "
                          "0 orphan curves files removed\n")
    assert len(list((tmp_path / "runs").glob("runs-*.parquet"))) == 1
    assert Store(tmp_path).runs().set_index("run_id").loc["r0", "primary_value"] == 0.5


def test_an_aged_store_checks_its_stale_curves_files_for_orphans_once(tmp_path, monkeypatch):
    """Every open sweeps for orphan curves; files already found to belong to a run are not read again,
    while an orphan planted later is still removed on the next open."""
    import os
    import time

    import regsuite.store_compact as compact

    Store(tmp_path).append([{"run_id": "kept", "status": "ok", "finished_at": "2026"}],
                           [{"run_id": "kept", "step": 1, "value": 1.0}])
    curves = tmp_path / "curves"
    hour_ago = time.time() - 3600
    for p in curves.iterdir():
        os.utime(p, (hour_ago, hour_ago))
    reads = []
    real = compact.read_curves_file
    monkeypatch.setattr(compact, "read_curves_file", lambda p: reads.append(p.name) or real(p))
    assert Store(tmp_path).finished_ids() == {"kept"}
    assert len(reads) == 1 and (curves / compact.CLEARED).read_text().startswith("curves-")
    assert Store(tmp_path).finished_ids() == {"kept"} and len(reads) == 1  # cleared: not read again
    Store(tmp_path).append([], [{"run_id": "orphan", "step": 1, "value": 1.0}])
    orphan = next(p for p in curves.iterdir() if not p.name.startswith(".") and p.name not in reads)
    os.utime(orphan, (hour_ago, hour_ago))
    Store(tmp_path).finished_ids()
    assert not orphan.exists() and len(reads) == 2
    assert sorted(Store(tmp_path).curves()["run_id"]) == ["kept"]
    (curves / compact.CLEARED).write_bytes(b"\xff\xfe")  # damaged record: everything is checked again
    Store(tmp_path).finished_ids()
    assert len(reads) == 3 and sorted(Store(tmp_path).curves()["run_id"]) == ["kept"]
