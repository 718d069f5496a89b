"""Selection records: which configuration the tuning protocol chose for a (task, method, protocol).

``regsuite tune`` (and so ``regsuite leaderboard``) writes one JSON record per tuned method and
task, ``<results>/tuning/selections/<task>__<method>__<protocol>.json``::

    {"task": "vision/mnist1d-mlp", "method": "sam", "protocol": "tuned:sobol-6+default",
     "trial_runs": [{"run_id": ..., "status": "ok", "hparams": {...}, "<metric>": ...}, ...],
     "selected": {"run_id": ..., "hparams": {...}, "<validation metric>": ...} | null,
     "final_seeds": 5, ...}

Three readers depend on the format: the site (the method pages' tuning tables), ``results retire``
(which finals no longer match their selection) and the leaderboard's never-acted check (the
defaults trials). They all read through :func:`read_selections`, so a damaged record is reported
the same way everywhere: by name, never with a traceback.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .errors import UsageError

SELECTIONS = Path("tuning") / "selections"


def selection_path(out: Path, task: str, method: str, protocol: str) -> Path:
    """Where the record of (task, method, protocol) lives under the results directory ``out``."""
    safe = f"{task}__{method}__{protocol}".replace("/", "_").replace(":", "_")
    return Path(out) / SELECTIONS / f"{safe}.json"


def write_selection(path: Path, record: dict) -> None:
    """Write ``record`` atomically (a temporary file, then a rename): readers never see half a record."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(record, indent=2, sort_keys=True, default=str), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"could not write the tuning record {path}: {exc.strerror or exc}") from None


def _problem(record) -> str | None:
    """Why ``record`` is not a selection record, or None when it is one."""
    if not isinstance(record, dict):
        return "not a JSON object"
    missing = [k for k in ("task", "method", "protocol") if not isinstance(record.get(k), str)]
    if missing:
        return f"no {' / '.join(missing)}"
    selected = record.get("selected")
    if selected is not None and not (isinstance(selected, dict) and isinstance(selected.get("hparams", {}), dict)):
        return "'selected' is not an object with hparams"
    trials = record.get("trial_runs", [])
    if not isinstance(trials, list) or not all(isinstance(t, dict) for t in trials):
        return "'trial_runs' is not a list of objects"
    return None


def read_selections(root: Path) -> tuple[list[dict], list[str]]:
    """The valid records under ``root/tuning/selections`` (sorted by file name), and one line per
    file that could not be read or is not a record. ``root`` is a results directory."""
    folder = Path(root) / SELECTIONS
    records, problems = [], []
    if not folder.is_dir():
        return records, problems
    for path in sorted(folder.glob("*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
            problems.append(f"{path}: unreadable tuning record ({exc})")
            continue
        why = _problem(record)
        if why is None:
            records.append(record)
        else:
            problems.append(f"{path}: not a tuning record ({why})")
    return records, problems
