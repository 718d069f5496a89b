"""``regsuite results retire``: move tuned final runs that their selection no longer names out of a store.

A tuned board's rows are the selected configuration re-run on the final seeds, under the protocol's
name (``tuned:sobol-6+default``). When a selection changes after its finals were stored (the
protocol's search space or its selection rule was revised, or the trials were re-run), the old
finals keep the protocol's name and the method's version, so a board would average two
configurations as if they were one. The selection record (``tuning/selections/*.json``) says which
configuration is current; a final row of the same task, method and protocol with other
hyperparameters is *stale*.

Stale rows are moved, never deleted: with their curves, into ``DIR/superseded/`` (a store of its
own, which ``regsuite results --results DIR/superseded`` reads). The move runs under the store's
compaction lock, so no merge can fold a file back while it is rewritten; each rewritten file is
written atomically before its original is removed (a kill leaves at worst a duplicate, which readers
deduplicate), and the copy in ``superseded/`` is written first, so a row is always somewhere.
"""

from __future__ import annotations

import json
from pathlib import Path

from .errors import UsageError

SUPERSEDED = "superseded"


def _canonical(hparams) -> str:
    return json.dumps(json.loads(hparams) if isinstance(hparams, str) else hparams, sort_keys=True)


def selections(root: Path) -> dict[tuple[str, str, str], str]:
    """(task, method, protocol) -> canonical JSON of the selected hyperparameters."""
    from .selections import read_selections

    records, problems = read_selections(root)
    if problems:  # moving finals on a partial view of the selections could retire the wrong rows
        raise UsageError(f"{problems[0]}; nothing was moved")
    return {(r["task"], r["method"], r["protocol"]): _canonical(r["selected"]["hparams"])
            for r in records if r.get("selected") and "hparams" in r["selected"]}


def current_versions(reg) -> dict[str, str]:
    """{task key: the version its runs carry now} for every registered task."""
    return {key: task.board_version(reg.suite(task.suite).version) for key, task in reg.tasks.items()}


def stale_ids(runs, chosen: dict, off_board=frozenset(), current=None,
              off_tasks=frozenset()) -> dict[str, tuple[str, str, str]]:
    """run_id -> (task, method, protocol) of every row whose selection names other hyperparameters,
    of every tuned row whose (task, method) is in ``off_board`` (a board that no longer ranks it),
    of every row of a task in ``current`` ({task: version}) run under another version of it
    (``Task.board_version``: the task or its suite was revised since), and of every row, whatever
    its protocol, of a task in ``off_tasks`` (taken off the leaderboard: ``Task.on_leaderboard``)."""
    stale = {}
    current = current or {}
    for run_id, task, method, protocol, hparams, version in zip(
            runs["run_id"], runs["task"], runs["method"], runs["protocol"], runs["hparams"], runs["suite_version"]):
        want = chosen.get((task, method, protocol))
        if task in off_tasks or (task in current and str(version) != current[task]):
            stale[run_id] = (task, method, protocol)
        elif (task, method) in off_board and str(protocol).startswith("tuned"):
            stale[run_id] = (task, method, protocol)
        elif want is not None and _canonical(hparams) != want:
            stale[run_id] = (task, method, protocol)
    return stale


def _move(directory: Path, dest: Path, ids, reader, prefix: str, name: bytes) -> int:
    import pyarrow.compute as pc

    from .store_compact import _merged_name
    from .store_files import atomic_write, list_files

    moved = 0
    for path in list_files(directory):
        table, problem = reader(path)
        if problem:
            continue  # damaged or vanished: left as it is (the readers report it)
        hit = pc.is_in(table["run_id"], value_set=ids)
        n = pc.sum(hit).as_py() or 0
        if not n:
            continue
        atomic_write(table.filter(hit), dest, prefix, name)
        kept = table.filter(pc.invert(hit))
        if kept.num_rows:  # sorts right after the original, so later files still win over it
            atomic_write(kept, directory, prefix, name, _merged_name([path]))
        path.unlink(missing_ok=True)
        moved += n
    return moved


def _move_records(root: Path, dest: Path, off_board, off_tasks=frozenset()) -> None:
    """The selection records of the ``off_board`` (task, method) pairs and of the ``off_tasks``, into
    ``dest/tuning/selections/``."""
    import os

    from .selections import SELECTIONS, read_selections, selection_path

    if not (off_board or off_tasks):
        return
    records, _ = read_selections(root)
    for record in records:
        if record["task"] in off_tasks or (record["task"], record["method"]) in off_board:
            source = selection_path(root, record["task"], record["method"], record["protocol"])
            if source.exists():
                (dest / SELECTIONS).mkdir(parents=True, exist_ok=True)
                os.replace(source, dest / SELECTIONS / source.name)


def retire(root: Path, dry_run: bool = False, off_board=frozenset(), current=None, off_tasks=frozenset()) -> dict:
    """Move the stale finals of ``root``; returns ``{"stale": {(task, method, protocol): n}, "runs": n, "curves": n}``.

    ``off_board``: (task, method) pairs whose board no longer ranks the method (the leaderboard
    passes them): their tuned finals move too, and their selection records to
    ``superseded/tuning/selections/``, so neither ``results`` nor the site shows them under the board.
    ``off_tasks``: tasks taken off the leaderboard (the leaderboard passes them for its own store
    only: elsewhere their runs are a bench's): all their rows and selection records move."""
    import pyarrow as pa

    from .store import Store
    from .store_compact import _Lock, fcntl
    from .store_files import read_curves_file, read_runs_file
    from .store_index import refresh

    root = Path(root)
    if not (root / "runs").is_dir():
        raise UsageError(f"{root} holds no results (no runs/ folder)")
    store = Store(root, compact_at=0)
    store.tidy()
    stale = stale_ids(store.runs(), selections(root), off_board, current, off_tasks)
    counts: dict = {}
    for key in stale.values():
        counts[key] = counts.get(key, 0) + 1
    report = {"stale": counts, "runs": 0, "curves": 0}
    if dry_run or not stale:
        return report
    lock = _Lock(root)
    if fcntl is not None and lock.fd is None:
        raise UsageError(f"another process is compacting {root}; try again when it is done")
    try:
        ids = pa.array(sorted(stale))
        dest = root / SUPERSEDED
        # Curves first: a run row in superseded/ then always has its curves there too.
        report["curves"] = _move(root / "curves", dest / "curves", ids, read_curves_file, "curves", b"curves")
        report["runs"] = _move(root / "runs", dest / "runs", ids, read_runs_file, "runs", b"runs")
        refresh(Store(root, compact_at=0))
        _move_records(root, dest, off_board, off_tasks)
    finally:
        lock.release()
    return report
