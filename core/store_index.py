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

from .store_files import FINISHED, list_files, read_parquet, read_runs_file, tmp_name

INDEX = ".index.parquet"
INDEX_ROWS = 1000  # files with more rows than this get an index entry
SCHEMA = pa.schema([("file", pa.string()), ("size", pa.int64()), ("mtime_ns", pa.int64()), ("run_id", pa.string()),
                    ("status", pa.string()), ("finished_at", pa.string())])


ROWS = ("run_id", "status", "finished_at")


def load(runs_dir: Path) -> dict:
    """file name -> ((size, mtime_ns), table of run_id, status, finished_at); empty if absent or unreadable."""
    import pyarrow.compute as pc

    try:
        table = read_parquet(runs_dir / INDEX)
        if table.schema.names != SCHEMA.names:
            return {}
    except (OSError, pa.ArrowException):
        return {}
    out: dict = {}
    files = table.column("file")
    for name in pc.unique(files).to_pylist():
        part = table.filter(pc.equal(files, name))
        out[name] = ((part.column("size")[0].as_py(), part.column("mtime_ns")[0].as_py()), part.select(list(ROWS)))
    return out


def validated(runs_dir: Path) -> dict:
    """file name -> (size, mtime_ns) of every file the index vouches for (three short columns read)."""
    try:
        with pq.ParquetFile(runs_dir / INDEX, pre_buffer=False) as pf:
            if pf.schema_arrow.names != SCHEMA.names:
                return {}
            table = pf.read(columns=["file", "size", "mtime_ns"], use_threads=False)
    except (OSError, pa.ArrowException):
        return {}
    part = table.group_by("file").aggregate([("size", "min"), ("size", "max"), ("mtime_ns", "min"),
                                             ("mtime_ns", "max")])
    cols = [part.column(c).to_pylist() for c in ("file", "size_min", "size_max", "mtime_ns_min", "mtime_ns_max")]
    # A file's rows all carry one size and mtime (save writes them so); one that does not is not vouched for.
    return {name: (size, mtime) for name, size, size_max, mtime, mtime_max in zip(*cols)
            if size == size_max and mtime == mtime_max}


def save(runs_dir: Path, index: dict) -> None:
    """Write the index atomically; a read-only or full directory just goes without one."""
    parts = []
    for name, ((size, mtime), rows) in sorted(index.items()):
        n = rows.num_rows
        parts.append(pa.table({"file": pa.array([name] * n, pa.string()), "size": pa.array([size] * n, pa.int64()),
                               "mtime_ns": pa.array([mtime] * n, pa.int64()),
                               **{c: rows.column(c) for c in ROWS}}, schema=SCHEMA))
    final = runs_dir / INDEX
    tmp = tmp_name(final)
    try:
        pq.write_table(pa.concat_tables(parts) if parts else SCHEMA.empty_table(), tmp)
        tmp.replace(final)
    except OSError:
        tmp.unlink(missing_ok=True)


def stat(path: Path):
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)


def entry_rows(table: pa.Table) -> pa.Table:
    return table.select(list(ROWS))


def note_all(store, tables: list) -> None:
    """Note the rows of ``tables`` (run_id, status, finished_at) in ``store``: in bulk for a fresh store."""
    if not tables:
        return
    table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    if store._latest or table.num_rows < 1000:
        for run_id, status, finished in zip(*(table.column(c).to_pylist() for c in ROWS)):
            store._note(run_id, status, finished)
        return
    import pyarrow.compute as pc

    if pc.count_distinct(table.column("run_id")).as_py() < table.num_rows:
        from .store import _latest_rows

        table = _latest_rows(table)  # the rule of _note: the row that finished last
    ids = table.column("run_id")
    store._latest = dict(zip(ids.to_pylist(), zip(table.column("finished_at").to_pylist(),
                                                  table.column("status").to_pylist())))
    done = pc.is_in(table.column("status"), value_set=pa.array(list(FINISHED), pa.string()))
    store._finished = set(pc.filter(ids, done).to_pylist())


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
    found = []
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
            if rows.num_rows > INDEX_ROWS:
                index[path.name] = (stats[path.name], rows)
                changed = True
        found.append(rows)
        store._known[path.name] = stats[path.name]
    note_all(store, found)
    gone = [name for name in index if name not in stats]
    for name in gone:
        del index[name]
    if changed or gone:
        save(runs_dir, index)
    return vanished
