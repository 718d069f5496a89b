"""Keeping a results directory small and clean: compaction and leftovers of killed writers.

Compaction merges many small runs files into one (deduplicated by run_id with
the readers' rule: the row that finished last wins) and many small curves
files into one (concatenated in file order, so the readers' "last file wins"
is unchanged). It is safe under concurrent benches and kills because:

- only one compaction runs per directory at a time (``flock`` on
  ``DIR/.compact.lock``; a second one simply skips);
- only files that pass the validating reader are merged; a damaged file is
  left where it is, reported, never folded into the merged file;
- the merged file is written atomically *before* any input is removed, so a
  reader sees every row at every moment (duplicates in between are what
  readers deduplicate anyway), and a kill leaves at worst both copies;
- a reader that finds a listed file gone re-lists the directory.

Curves files whose run row is not stored yet are merged only once they are
older than ``Store.stale_s``; older ones whose runs are in no runs file are
the orphans of a writer killed between its two files, and are removed.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pyarrow as pa

from .store_files import HOST, atomic_write, list_files, read_curves_file, read_runs_file

try:
    import fcntl
except ImportError:
    fcntl = None

SMALL_ROWS = 5_000  # automatic compaction merges only files with fewer rows (bounded work per merge)


class _Lock:
    def __init__(self, root: Path) -> None:
        self.fd = None
        if fcntl is None:
            return
        try:
            root.mkdir(parents=True, exist_ok=True)
            fd = os.open(root / ".compact.lock", os.O_CREAT | os.O_RDWR, 0o644)
        except OSError:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self.fd = fd
        except OSError:
            os.close(fd)

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def _count(directory: Path) -> int:
    try:
        with os.scandir(directory) as it:
            return sum(1 for e in it if not e.name.startswith("."))
    except OSError:
        return 0


def maybe_compact(store) -> None:
    """After an append: merge the small files once a table has more than ``store.compact_at`` of them."""
    if max(_count(store.root / "runs"), _count(store.root / "curves")) > store.compact_at:
        compact(store, full=False)


def _merged_name(inputs: list[Path]) -> str:
    # Sorts right after the last input, so files written later still sort (and win) after it.
    return f"{inputs[-1].stem}-c{uuid.uuid4().hex[:8]}.parquet"


def _dedupe_latest(table: pa.Table) -> pa.Table:
    from .store import _latest_rows

    return _latest_rows(table)


def _small(path: Path) -> bool:
    import pyarrow.parquet as pq

    try:
        return pq.read_metadata(path).num_rows < SMALL_ROWS
    except (OSError, pa.ArrowException):
        return True  # unreadable: let the validating reader report it


def compact(store, full: bool = True) -> dict | None:
    """Merge the runs and curves files of ``store`` (``full``: all of them; else the small ones).

    Returns ``{"runs": (files_in, rows_out), "curves": (files_in, rows_out), "orphans": n}``, or None if
    another process is compacting this directory.
    """
    lock = _Lock(store.root)
    if fcntl is not None and lock.fd is None:
        return None
    try:
        report = {"runs": (0, 0), "curves": (0, 0), "orphans": 0}
        run_ids = set()
        files = [p for p in list_files(store.root / "runs", store._problem) if full or _small(p)]
        tables, used, damaged = [], [], False
        for path in files:
            table, problem = read_runs_file(path)
            if problem:
                damaged = damaged or problem != "vanished"
                if problem != "vanished":
                    store._problem(f"{path} {problem}")
                continue
            tables.append(table)
            used.append(path)
        if len(used) > 1:
            merged = _dedupe_latest(pa.concat_tables(tables))
            out = atomic_write(merged, store.root / "runs", "runs", b"runs", _merged_name(used))
            _index_merged(store, out, merged)
            for path in used:
                path.unlink(missing_ok=True)
            report["runs"] = (len(used), merged.num_rows)
        from .store_index import refresh

        refresh(store)
        run_ids = set(store._latest)
        report["curves"], report["orphans"] = _compact_curves(store, run_ids, full, damaged or bool(store.problems))
        return report
    finally:
        lock.release()


def _index_merged(store, path: Path, table: pa.Table) -> None:
    from . import store_index

    if table.num_rows <= store_index.INDEX_ROWS:  # small files are cheap to validate directly
        return
    index = store_index.load(store.root / "runs")
    index[path.name] = (store_index.stat(path), store_index.entry_rows(table))
    store_index.save(store.root / "runs", index)


def _compact_curves(store, run_ids: set, full: bool, runs_unsure: bool) -> tuple[tuple[int, int], int]:
    now = time.time()
    tables, used, orphans = [], [], 0
    for path in list_files(store.root / "curves", store._problem):
        if not full and not _small(path):
            continue
        table, problem = read_curves_file(path)
        if problem:
            if problem != "vanished":
                store._problem(f"{path} {problem}")
            continue
        ids = set(table.column("run_id").to_pylist())
        old = now - _mtime(path) > store.stale_s
        if ids & run_ids or (not ids):
            tables.append(table)
            used.append(path)
        elif old and not runs_unsure:  # every run it belongs to is missing, long after it was written
            path.unlink(missing_ok=True)
            orphans += 1
        # else: a run row may still be on its way (a bench writes curves first); leave it for now
    if len(used) > 1:
        merged = pa.concat_tables(tables)
        atomic_write(merged, store.root / "curves", "curves", b"curves", _merged_name(used))
        for path in used:
            path.unlink(missing_ok=True)
        return (len(used), merged.num_rows), orphans
    return (0, 0), orphans


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return time.time()


def _writer_gone(name: str) -> bool:
    """``.<file>.<host>.<pid>.tmp`` written on this host by a process that no longer exists."""
    parts = name.split(".")
    if len(parts) < 4 or not parts[-2].isdigit() or parts[-3] != HOST:
        return False
    try:
        os.kill(int(parts[-2]), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def remove_leftovers(store) -> None:
    """Temporary files of killed writers (stale, or their writer is dead); orphan curves files (stale)."""
    now = time.time()
    dirs = [store.root / "runs", store.root / "curves"]
    ckpt = store.root / "checkpoints"
    if ckpt.is_dir():
        try:
            dirs += [d for d in ckpt.iterdir() if d.is_dir()]
        except OSError:
            pass
    for d in dirs:
        try:
            entries = list(os.scandir(d))
        except OSError:
            continue
        for e in entries:
            if not (e.name.startswith(".") and e.name.endswith(".tmp")):
                continue
            try:
                if now - e.stat().st_mtime > store.stale_s or _writer_gone(e.name):
                    os.unlink(e.path)
            except OSError:
                pass
    curves = store.root / "curves"
    if not curves.is_dir():
        return
    old = {p: _file_key(p) for p in list_files(curves) if now - _mtime(p) > store.stale_s}
    cleared = _cleared(curves)
    # A curves file once found to belong to a run (or too large to be a single run's) stays so:
    # runs are never deleted, and a rewritten file has another size or mtime, so it is checked again.
    stale = [p for p, key in old.items() if key not in cleared and _small(p)]
    now_cleared = {key for p, key in old.items() if key in cleared or p not in stale}
    if stale:
        from .store_index import refresh

        refresh(store)
        if store.problems:  # some runs files are unreadable: their curves are not orphans, leave everything
            return
        for path in stale:
            table, problem = read_curves_file(path)
            if problem is not None:
                continue
            if table.num_rows and not set(table.column("run_id").to_pylist()) & set(store._latest):
                path.unlink(missing_ok=True)
            else:
                now_cleared.add(old[path])
    if now_cleared != cleared:
        _record_cleared(curves, now_cleared)


CLEARED = ".cleared-curves"  # in curves/: "name size mtime_ns" of stale curves files that are no orphans


def _file_key(path: Path) -> str:
    try:
        st = path.stat()
    except OSError:
        return ""
    return f"{path.name} {st.st_size} {st.st_mtime_ns}"


def _cleared(curves: Path) -> set[str]:
    try:
        return {line for line in (curves / CLEARED).read_text().splitlines() if line}
    except (OSError, UnicodeDecodeError):
        return set()  # none yet, or damaged: every stale file is checked again, as before


def _record_cleared(curves: Path, keys: set[str]) -> None:
    """Atomically; two benches racing only lose a record, which costs one more check next time."""
    tmp = curves / f"{CLEARED}.{HOST}.{os.getpid()}.tmp"
    try:
        tmp.write_text("".join(f"{k}\n" for k in sorted(keys) if k))
        os.replace(tmp, curves / CLEARED)
    except OSError:
        tmp.unlink(missing_ok=True)
