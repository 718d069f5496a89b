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

from .store_files import FINISHED, list_files, read_parquet, read_runs_file, string_array, tmp_name

INDEX = ".index.parquet"
INDEX_ROWS = 1000  # files with more rows than this get an index entry
SCHEMA = pa.schema([("file", pa.string()), ("size", pa.int64()), ("mtime_ns", pa.int64()), ("run_id", pa.string()),
                    ("status", pa.string()), ("finished_at", pa.string())])


ROWS = ("run_id", "status", "finished_at")


def load(runs_dir: Path, among: frozenset | None = None) -> dict:
    """file name -> ((size, mtime_ns), table of run_id, status, finished_at); empty if absent or unreadable.

    ``among``: each file's rows only for these run ids (its size and mtime as always). Such a partial
    index answers for those runs but must never be saved.
    """
    import pyarrow.compute as pc

    try:
        table = read_parquet(runs_dir / INDEX)
        if table.schema.names != SCHEMA.names:
            return {}
    except (OSError, pa.ArrowException):
        return {}
    stats = _file_stats(table)
    if among is not None:
        table = table.filter(pc.is_in(table.column("run_id"), value_set=string_array(sorted(among))))
    files = table.column("file")
    empty = table.slice(0, 0).select(list(ROWS))
    out = {name: (stat, empty) for name, stat in stats.items()}
    for name in pc.unique(files).to_pylist():
        if name in out:
            out[name] = (stats[name], table.filter(pc.equal(files, string_array([name])[0])).select(list(ROWS)))
    return out


def _file_stats(table: pa.Table) -> dict:
    """file name -> (size, mtime_ns) for the files whose rows all carry one size and mtime (save writes them so).

    With numpy over the dictionary codes of ``file``: ``Table.group_by`` would import pyarrow's
    dataset engine, and with it pandas, on every bench's first look at the store.
    """
    import numpy as np
    import pyarrow.compute as pc

    if not table.num_rows:
        return {}
    files = pc.dictionary_encode(table.column("file")).combine_chunks()
    codes = _integers(files.indices)
    names = files.dictionary.to_pylist()
    out = {}
    for column in ("size", "mtime_ns"):
        values = _integers(table.column(column).combine_chunks())
        if codes is None or values is None:
            return {}  # nulls in an index column: a damaged index vouches for nothing
        low = np.full(len(names), np.iinfo(np.int64).max)
        high = np.full(len(names), np.iinfo(np.int64).min)
        np.minimum.at(low, codes, values)
        np.maximum.at(high, codes, values)
        out[column] = (low.tolist(), high.tolist())
    (size, size_max), (mtime, mtime_max) = out["size"], out["mtime_ns"]
    return {name: (size[i], mtime[i]) for i, name in enumerate(names)
            if size[i] == size_max[i] and mtime[i] == mtime_max[i]}


def _integers(array: pa.Array):
    """A null-free integer Arrow array as a numpy view of its buffer (``Array.to_numpy`` imports pandas)."""
    import numpy as np

    if array.null_count:
        return None
    dtype = np.dtype({pa.int8(): np.int8, pa.int16(): np.int16, pa.int32(): np.int32, pa.int64(): np.int64}[array.type])
    return np.frombuffer(array.buffers()[1], dtype=dtype, count=len(array), offset=array.offset * dtype.itemsize)


def validated(runs_dir: Path) -> dict:
    """file name -> (size, mtime_ns) of every file the index vouches for (three short columns read)."""
    try:
        with pq.ParquetFile(runs_dir / INDEX, pre_buffer=False) as pf:
            if pf.schema_arrow.names != SCHEMA.names:
                return {}
            table = pf.read(columns=["file", "size", "mtime_ns"], use_threads=False)
    except (OSError, pa.ArrowException):
        return {}
    return _file_stats(table)


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
    if store._scope is not None:
        import pyarrow.compute as pc

        table = table.filter(pc.is_in(table.column("run_id"), value_set=string_array(sorted(store._scope))))
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
    done = pc.is_in(table.column("status"), value_set=string_array(sorted(FINISHED)))
    store._finished = set(pc.filter(ids, done).to_pylist())


def refresh(store, among=None) -> None:
    """Note in ``store`` the latest status of every run in files it has not seen (or that changed).

    ``among``: the caller asks about these run ids only. A store that has noted nothing yet then notes
    only them (``store._scope``); one that noted all runs answers from those; a scoped store asked about
    runs outside its scope, or about all, forgets what it noted and reads again for the wider question.
    A file that vanishes between listing and reading was merged by a compaction, whose output is already in
    place: the directory is listed again, so its rows are found there.
    """
    wanted = None if among is None else frozenset(among)
    if store._scope is not None and (wanted is None or not wanted <= store._scope):
        store._known.clear()
        store._latest.clear()
        store._finished.clear()
        store._scope = wanted
    elif not store._known and not store._latest:
        store._scope = wanted
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
    index = load(runs_dir, store._scope)
    changed, added = False, {}
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
                index[path.name] = added[path.name] = (stats[path.name], rows)
                changed = True
        found.append(rows)
        store._known[path.name] = stats[path.name]
    note_all(store, found)
    gone = [name for name in index if name not in stats]
    if changed or gone:
        if store._scope is not None:  # the loaded index holds some runs' rows only: update the whole one
            index = load(runs_dir)
            index.update(added)
        for name in gone:
            index.pop(name, None)
        save(runs_dir, index)
    return vanished
