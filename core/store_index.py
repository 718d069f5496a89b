"""The index of finished run ids: ``DIR/runs/.index.parquet``.

One row per run in each large runs file that was validated (by
:func:`regsuite.store_files.read_runs_file`), with the file's name, size and
modification time. A file whose name, size and mtime match its entry is not
read again: asking a 100,000-run store "which of these 1,000 runs are done?"
reads the index (three short columns) instead of validating every row again.
A file that changed (damaged, rewritten) no longer matches and is validated
afresh. Small files are validated directly; compaction folds them into large
files and writes their entries. The index is written atomically and only ever
describes files as they were validated, so a stale or missing index costs
time, never correctness.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .store_files import list_files, read_runs_file, tmp_name

INDEX = ".index.parquet"
INDEX_ROWS = 1000  # files with more rows than this get an index entry
SCHEMA = pa.schema([("file", pa.string()), ("size", pa.int64()), ("mtime_ns", pa.int64()), ("run_id", pa.string()),
                    ("status", pa.string()), ("finished_at", pa.string())])


def load(runs_dir: Path) -> dict:
    """file name -> ((size, mtime_ns), [(run_id, status, finished_at), ...]); empty if absent or unreadable."""
    try:
        table = pq.read_table(runs_dir / INDEX)
        if table.schema.names != SCHEMA.names:
            return {}
    except (OSError, pa.ArrowException):
        return {}
    out: dict = {}
    cols = [table.column(n).to_pylist() for n in SCHEMA.names]
    for name, size, mtime, run_id, status, finished in zip(*cols):
        entry = out.setdefault(name, ((size, mtime), []))
        entry[1].append((run_id, status, finished))
    return out


def save(runs_dir: Path, index: dict) -> None:
    """Write the index atomically; a read-only or full directory just goes without one."""
    cols = {n: [] for n in SCHEMA.names}
    for name, ((size, mtime), rows) in sorted(index.items()):
        for run_id, status, finished in rows:
            for key, value in zip(SCHEMA.names, (name, size, mtime, run_id, status, finished)):
                cols[key].append(value)
    final = runs_dir / INDEX
    tmp = tmp_name(final)
    try:
        pq.write_table(pa.Table.from_pydict(cols, schema=SCHEMA), tmp)
        tmp.replace(final)
    except OSError:
        tmp.unlink(missing_ok=True)


def stat(path: Path):
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)


def entry_rows(table: pa.Table) -> list:
    return list(zip(*(table.column(c).to_pylist() for c in ("run_id", "status", "finished_at"))))


def refresh(store) -> None:
    """Note in ``store`` the latest status of every run in files it has not seen (or that changed).

    A file that vanishes between listing and reading was merged by a compaction, whose output is already in
    place: the directory is listed again, so its rows are found there.
    """
    for _ in range(20):
        if not _refresh_once(store):
            return
    from .errors import StoreError

    raise StoreError(f"{store.root / 'runs'} kept changing while it was read; try again")


def _refresh_once(store) -> bool:
    """One pass; True if some file vanished meanwhile (list again)."""
    runs_dir = store.root / "runs"
    files = list_files(runs_dir, store._problem)
    stats = {p.name: stat(p) for p in files}
    vanished = any(v is None for v in stats.values())
    new = [p for p in files if stats[p.name] is not None and store._known.get(p.name) != stats[p.name]]
    if not new:
        return vanished
    index = load(runs_dir)
    changed = False
    for path in new:
        entry = index.get(path.name)
        if entry is not None and tuple(entry[0]) == stats[path.name]:
            rows = entry[1]
        else:
            table, problem = read_runs_file(path)
            if problem == "vanished":
                vanished = True
                continue
            if problem:  # none of its rows count; known, so it is not re-read until it changes
                store._problem(f"{path} {problem}")
                store._known[path.name] = stats[path.name]
                continue
            rows = entry_rows(table)
            if len(rows) > INDEX_ROWS:
                index[path.name] = (stats[path.name], rows)
                changed = True
        for run_id, status, finished in rows:
            store._note(run_id, status, finished)
        store._known[path.name] = stats[path.name]
    gone = [name for name in index if name not in stats]
    for name in gone:
        del index[name]
    if changed or gone:
        save(runs_dir, index)
    return vanished
