"""The Parquet results store.

Layout of a results directory::

    DIR/runs/runs-<time>-<uuid>.parquet      one or more run rows
    DIR/curves/curves-<time>-<uuid>.parquet  their per-step curves
    DIR/runs/.index.parquet                  which files were validated, and their finished run ids

Writes are append-only and atomic: a file is written under a temporary name
in the same directory, flushed, then renamed, so a reader (or a process
killed mid-write) never sees a partial file. Curves are written before their
run rows, so a run row implies its curves exist. Readers deduplicate by
``run_id``, keeping the row that finished last. Every file carries the schema
version and table name in its Parquet metadata.

Every runs file goes through one validating reader (:func:`regsuite.store_files.read_runs_file`):
it must decode whole, cast to the schema (no text in a float column), name a
known status and hold parseable JSON. A file that fails is reported by name
and none of its rows count, neither for ``results`` nor as "finished" for
``bench``, which therefore runs them again. The other files are still read.

Schema version 2 stores ``metrics`` typed, as a ``MAP<string, double>``
(``SELECT metrics['test_accuracy'] FROM 'DIR/runs/*.parquet'`` in DuckDB);
version 1 files (a JSON string) are still read. In memory,
:meth:`Store.runs` gives ``metrics`` as canonical JSON text for both.

Small files are merged (:mod:`regsuite.store_compact`) automatically once a
directory holds more than :data:`COMPACT_AT` of them, or by
``regsuite results compact``. Several processes may write to one directory
at once: file names are unique, so nothing is overwritten. While a run
executes, its driver holds an advisory lock ``DIR/.claims/<run_id>.lock``
(``flock``; released by the kernel if the process dies, even by SIGKILL), so
a second bench on the same directory waits for that run instead of repeating
it.
"""

from __future__ import annotations

import json
import os

try:
    import fcntl
except ImportError:  # not POSIX: no claims, concurrent drivers may repeat a run
    fcntl = None
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq  # noqa: F401  (tests patch pq.write_table through this module)

from .errors import StoreError
from .store_files import (  # noqa: F401  (re-exported: the schema is part of this module's interface)
    CURVES_SCHEMA, FINISHED, META_TABLE, META_VERSION, READABLE_VERSIONS, RUNS_SCHEMA, SCHEMA_VERSION, STATUSES,
    atomic_write, curves_table, list_files, metrics_json, read_curves_file, read_runs_file, runs_table,
)

COMPACT_AT = 32  # small files per table before an append merges them (a fresh reader validates each)
STALE_S = 600.0  # a temporary or orphan file this old (or whose writer died) is a leftover of a killed process


@dataclass
class Store:
    root: Path
    problems: list[str] = field(default_factory=list)
    compact_at: int = COMPACT_AT
    stale_s: float = STALE_S
    _latest: dict = field(default_factory=dict, repr=False)  # run_id -> (finished_at, status)
    _finished: set = field(default_factory=set, repr=False)  # run ids whose latest status is finished
    _known: dict = field(default_factory=dict, repr=False)  # file name -> (size, mtime_ns) already noted
    # None: _latest and _finished cover every run; a set: only these run ids were noted (finished_ids(among=))
    _scope: frozenset | None = field(default=None, repr=False)
    _tidied: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        self.root = Path(self.root)

    # ---------------------------------------------------------------- write

    def append(self, runs: list[dict], curves: list[dict] | None = None) -> None:
        """Append run rows (and their curve points) atomically.

        If the run rows cannot be written (a full disk), their curves file is
        removed again, so a failed append leaves the directory as it was.
        """
        self.tidy()
        curves_file = None
        if curves:
            curves_file = atomic_write(curves_table(curves), self.root / "curves", "curves", b"curves")
        if runs:
            try:
                path = atomic_write(runs_table(runs), self.root / "runs", "runs", b"runs")
            except BaseException:
                if curves_file is not None:
                    curves_file.unlink(missing_ok=True)
                raise
            try:  # finished_ids() need not read back what this process wrote
                st = path.stat()
                self._known[path.name] = (st.st_size, st.st_mtime_ns)
            except OSError:
                pass
            for row in runs:
                self._note(row.get("run_id"), row.get("status"), row.get("finished_at"))
        if self.compact_at and (runs or curves):
            from .store_compact import maybe_compact

            try:
                maybe_compact(self)
            except StoreError:  # e.g. no space for the merged file: this append's rows are stored, and
                pass  # merging is housekeeping that the next append tries again

    def try_claim(self, run_id: str) -> "Claim | None":
        """Lock ``run_id`` for this process, or None when another process holds it."""
        if fcntl is None:
            return Claim(None, None)
        d = self.root / ".claims"
        try:
            d.mkdir(parents=True, exist_ok=True)
            fd = os.open(d / f"{run_id}.lock", os.O_CREAT | os.O_RDWR, 0o644)
        except OSError as exc:
            raise StoreError(f"could not lock runs in {d}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return None
        return Claim(d / f"{run_id}.lock", fd)

    def tidy(self) -> None:
        """Once per Store: remove what killed writers left (stale temporary files, orphan curves)."""
        if self._tidied:
            return
        self._tidied = True
        from .store_compact import remove_leftovers

        remove_leftovers(self)

    # ---------------------------------------------------------------- read

    def _runs_tables(self, run_ids=None, columns=None, whole=True) -> list[pa.Table]:
        """Every valid runs file as a table (problems noted); re-listed if a compaction removed a file meanwhile.

        ``columns``: only these; a file the index vouches for (validated whole before, unchanged since) is
        then read for them alone, any other file is validated whole first, so the same files count as for
        :meth:`finished_ids`. ``whole=False`` reads every file for ``columns`` alone, each checked in those
        columns only: for a store read as a source of rows (the committed baselines a table borrows),
        whose runs never count as finished anywhere.
        """
        from .store_files import read_runs_columns, string_array
        from .store_index import stat, validated

        vouched = validated(self.root / "runs") if columns is not None and whole else {}
        for _ in range(5):
            tables, vanished = [], False
            for path in list_files(self.root / "runs", self._problem):
                if not whole or (path.name in vouched and vouched[path.name] == stat(path)):
                    table, problem = read_runs_columns(path, columns)
                    if table is not None and table.column("run_id").null_count:
                        table, problem = None, "has a row without a run_id"
                else:
                    table, problem = read_runs_file(path)
                    if table is not None and columns is not None:
                        table = table.select(columns)
                if problem == "vanished":
                    vanished = True
                    break
                if problem:
                    self._problem(f"{path} {problem}")
                    continue
                if run_ids is not None:
                    import pyarrow.compute as pc

                    table = table.filter(pc.is_in(table.column("run_id"), value_set=string_array(sorted(run_ids))))
                tables.append(table)
            if not vanished:
                return tables
        raise StoreError(f"{self.root / 'runs'} kept changing while it was read; try again")

    def _read_table(self, run_ids, columns, whole=True) -> tuple[pa.Table, bool]:
        """The runs' rows as one Arrow table, and whether some run has several of them."""
        if columns is not None:
            wanted = set(columns) | {"run_id", "finished_at"}
            unknown = wanted - set(RUNS_SCHEMA.names)
            if unknown:
                raise ValueError(f"no such runs column: {', '.join(sorted(unknown))}")
            columns = [name for name in RUNS_SCHEMA.names if name in wanted]
        tables = self._runs_tables(set(run_ids) if run_ids is not None else None, columns, whole)
        schema = RUNS_SCHEMA if columns is None else pa.schema([RUNS_SCHEMA.field(c) for c in columns])
        table = pa.concat_tables(tables) if tables else schema.empty_table()
        import pyarrow.compute as pc

        return table, bool(table.num_rows) and pc.count_distinct(table.column("run_id")).as_py() < table.num_rows

    def run_columns(self, run_ids, columns, whole=True) -> dict[str, list] | None:
        """The rows of ``run_ids`` as one plain list per column (``runs``' columns, without pandas), or
        None when some run has several rows (their deduplication is :meth:`runs`'). ``whole=False``: each
        file checked in ``columns`` only (:meth:`_runs_tables`)."""
        table, repeated = self._read_table(run_ids, columns, whole)
        return None if repeated else {c: table.column(c).to_pylist() for c in table.column_names}

    def runs(self, run_ids=None, columns=None):
        """All run rows as a pandas DataFrame, deduplicated by run_id (latest finish wins).

        ``run_ids``: only these runs (filtered before conversion: cheap on a large store).
        ``columns``: only these columns (``run_id`` and ``finished_at`` always, for the deduplication);
        ``regsuite results`` reads the third of them that scoring uses.
        """
        table, repeated = self._read_table(run_ids, columns)
        if repeated:
            table = _latest_rows(table)  # only when some run has several rows (compaction removes them)
        df = table.to_pandas()
        if "metrics" in table.column_names:
            df["metrics"] = metrics_json(table.column("metrics"))
        return df

    def curves(self, run_ids=None):
        for _ in range(5):
            tables, vanished = [], False
            for path in list_files(self.root / "curves", self._problem):
                table, problem = read_curves_file(path)
                if problem == "vanished":
                    vanished = True
                    break
                if problem:
                    self._problem(f"{path} {problem}")
                else:
                    tables.append(table)
            if not vanished:
                break
        df = (pa.concat_tables(tables) if tables else CURVES_SCHEMA.empty_table()).to_pandas()
        if run_ids is not None:
            df = df[df["run_id"].isin(set(run_ids))]
        return df.drop_duplicates(["run_id", "step", "split", "metric"], keep="last").reset_index(drop=True)

    def finished_ids(self, among=None) -> set[str]:
        """Runs whose latest valid row is ``ok`` or ``diverged`` (of ``among`` only, when given).

        Decided through the same validating reader as :meth:`runs` (a damaged
        file's runs are not finished: bench runs them again), with an index
        (``runs/.index.parquet``) so a file is validated once, and each call
        reads only files that are new or changed since the last one.
        ``among`` (a plan's run ids) keeps the other runs' rows out of memory: a
        bench asking about 1,000 runs of a 100,000-run store converts 1,000 index
        rows, not 100,000. The answer for those runs is the same either way.
        """
        from .store_index import refresh

        self.tidy()
        refresh(self, among)
        return set(self._finished) if among is None else self._finished.intersection(among)

    def _note(self, run_id, status, finished_at) -> None:
        if run_id not in self._latest or (finished_at or "") >= (self._latest[run_id][0] or ""):
            self._latest[run_id] = (finished_at, status)
            if status in FINISHED:
                self._finished.add(run_id)
            else:
                self._finished.discard(run_id)

    def _problem(self, text: str) -> None:
        if text not in self.problems:
            self.problems.append(text)


def _latest_rows(table: pa.Table) -> pa.Table:
    """One row per run_id: the one that finished last (ties: the later file), in finishing order."""
    import pandas as pd

    keys = pd.DataFrame({"run_id": table.column("run_id").to_pylist(),
                         "finished_at": table.column("finished_at").to_pylist()})
    keep = keys.sort_values("finished_at", kind="stable").drop_duplicates("run_id", keep="last").index
    return table.take(pa.array(keep, pa.int64()))


class Claim:
    """A held run lock; :meth:`release` drops it (and its file, once the run is stored as finished)."""

    def __init__(self, path: Path | None, fd: int | None) -> None:
        self.path, self.fd = path, fd

    def release(self, finished: bool = False) -> None:
        if self.fd is None:
            return
        # Unlinking while still holding the lock is safe because whoever locks
        # this run next checks the store first and finds it finished.
        if finished and self.path is not None:
            self.path.unlink(missing_ok=True)
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        self.fd = None


def metrics_of(row) -> dict:
    return json.loads(row["metrics"]) if row["metrics"] else {}


def expand_metrics(df):
    """Add one column per metric from the ``metrics`` column (prefixed ``m.``)."""
    import pandas as pd

    if not len(df):
        return df
    wide = pd.DataFrame([json.loads(m) if m else {} for m in df["metrics"]], index=df.index)
    wide.columns = [f"m.{c}" for c in wide.columns]
    return pd.concat([df, wide], axis=1)
