"""A results directory on a disk that fills up: nothing stored is lost, the failure is one line.

Two kinds of test: on a real, small tmpfs (root only; skipped with the reason where mounting is
refused), and with ENOSPC raised by a patched Parquet writer, which runs everywhere so the code
path is exercised even where no file system can be mounted.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from regsuite.cli import cli
from regsuite.store import Store

TESTS = Path(__file__).resolve().parent


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs mounted under tmp_path, unmounted afterwards."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    if shutil.which("mount") is None:
        pytest.skip("no mount command here")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"mounting a tmpfs was refused: {done.stderr.strip() or done.returncode}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _fill(disk: Path) -> Path:
    """Write a file until the disk is full; return it (delete it to free the space)."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_CREAT | os.O_WRONLY, 0o644)
    try:
        for size in (65536, 4096, 1):  # unbuffered: down to the last byte
            while True:
                try:
                    os.write(fd, b"\0" * size)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
                    break
    finally:
        os.close(fd)
    return filler


def _leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.rglob("*") if p.name.endswith(".tmp"))


def _bench(out: Path, seeds: int):
    return CliRunner().invoke(cli, ["-p", "faultplugin", "bench", "--task", "faults/probe", "--seeds", str(seeds),
                                    "--out", str(out), "--quiet"])


def _stored(root: Path):
    store = Store(root)
    rows = store.runs()
    return store, {r["run_id"]: (r["status"], r["primary_value"]) for r in rows.to_dict("records")}


def _error_lines(res) -> list[str]:
    return [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]


def test_bench_on_a_full_tmpfs_keeps_what_was_stored_and_resumes(small_disk, monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS))
    out = small_disk / "results"
    first = _bench(out, 2)
    assert first.exit_code == 0, first.output
    _, before = _stored(out)
    assert len(before) == 2
    filler = _fill(small_disk)

    res = _bench(out, 4)  # two cached, two that cannot be written
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    assert _error_lines(res) == [f"error: could not write results to {out / 'curves'}: No space left on device"]
    store, after = _stored(out)
    assert after == before and store.problems == []  # nothing lost, the store reads cleanly
    assert _leftovers(out) == []

    filler.unlink()
    again = _bench(out, 4)
    assert again.exit_code == 0, again.output
    assert "4 runs: 2 cached, 2 ok" in again.stderr
    store, final = _stored(out)
    assert len(final) == 4 and {k: final[k] for k in before} == before and store.problems == []


def _appended_runs(root, n: int) -> None:
    """n one-row appends (a run row and one curve point each), below the automatic compaction threshold."""
    store = Store(root, compact_at=10_000)
    for i in range(n):
        store.append([{"run_id": f"r{i}", "status": "ok", "primary_value": float(i)}],
                     [{"run_id": f"r{i}", "step": 1, "value": float(i)}])


def test_compaction_on_a_full_tmpfs_loses_nothing(small_disk):
    root = small_disk / "results"
    _appended_runs(root, 12)
    _, before = _stored(root)
    files_before = sorted(p.name for p in (root / "runs").iterdir())
    filler = _fill(small_disk)

    res = CliRunner().invoke(cli, ["results", "compact", "--results", str(root)])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    assert _error_lines(res) == [f"error: could not write results to {root / 'runs'}: No space left on device"]
    store, after = _stored(root)
    assert after == before and store.problems == []
    assert sorted(p.name for p in (root / "runs").iterdir()) == files_before
    assert _leftovers(root) == []

    filler.unlink()
    res = CliRunner().invoke(cli, ["results", "compact", "--results", str(root)])
    assert res.exit_code == 0, res.output
    assert len([p for p in (root / "runs").iterdir() if not p.name.startswith(".")]) == 1
    assert _stored(root)[1] == before


# ------------------------------------------------------------- simulated (everywhere)


def _no_space_for_merges(monkeypatch):
    """The Parquet writer fails with ENOSPC for tables of more than one row (compaction's merged files)."""
    import regsuite.store_files as files

    real = files.pq.write_table

    def writer(table, where, **kw):
        if table.num_rows > 1:
            where.write(b"PAR1 partial")  # some bytes made it before the disk filled up
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(table, where, **kw)

    monkeypatch.setattr(files.pq, "write_table", writer)


def test_a_full_disk_during_compaction_loses_nothing(tmp_path, monkeypatch):
    _appended_runs(tmp_path, 5)
    _, before = _stored(tmp_path)
    runs_files = sorted(p.name for p in (tmp_path / "runs").iterdir())
    curves_files = sorted(p.name for p in (tmp_path / "curves").iterdir())
    _no_space_for_merges(monkeypatch)

    res = CliRunner().invoke(cli, ["results", "compact", "--results", str(tmp_path)])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert _error_lines(res) == [f"error: could not write results to {tmp_path / 'runs'}: No space left on device"]
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == runs_files
    assert sorted(p.name for p in (tmp_path / "curves").iterdir()) == curves_files
    store, after = _stored(tmp_path)
    assert after == before and store.problems == [] and _leftovers(tmp_path) == []


def test_automatic_compaction_on_a_full_disk_does_not_fail_the_append(tmp_path, monkeypatch):
    # The run's own file was written; merging the small files is housekeeping that can wait for
    # space (the next append tries again), so the append succeeds and the run counts as stored.
    store = Store(tmp_path, compact_at=3)
    for i in range(3):
        store.append([{"run_id": f"r{i}", "status": "ok", "primary_value": float(i)}])
    _no_space_for_merges(monkeypatch)
    store.append([{"run_id": "r3", "status": "ok", "primary_value": 3.0}])  # past compact_at: merge fails
    reader, rows = _stored(tmp_path)
    assert sorted(rows) == ["r0", "r1", "r2", "r3"] and reader.problems == []
    assert len(list((tmp_path / "runs").glob("*.parquet"))) == 4 and _leftovers(tmp_path) == []
    assert store.finished_ids() == {"r0", "r1", "r2", "r3"}
    monkeypatch.undo()
    store.append([{"run_id": "r4", "status": "ok", "primary_value": 4.0}])  # space again: merged now
    assert len(list((tmp_path / "runs").glob("*.parquet"))) == 1
    assert sorted(_stored(tmp_path)[1]) == ["r0", "r1", "r2", "r3", "r4"]
