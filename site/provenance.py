"""Per-row provenance for the boards: the command that reproduces a row, its machine, a dirty-tree flag.

A leaderboard row is a group of runs (one task, tier, suite version, protocol and method, several
seeds). What a reader needs to reproduce or distrust it:

* ``regsuite bench --tier T --task SUITE/TASK --method M --seeds N --hp C.K=V ...``: every
  hyperparameter of the row's configuration that differs from the same method's defaults track
  on that task (all of them when no defaults run exists to compare with), so a tuned row is
  re-run at its selected configuration. Arguments are shell-quoted, so a hostile method name is
  one argument and never a second command;
* the machines (device and CPU) its runs were measured on, since cost ratios only mean something
  on one machine;
* whether any run came from a git tree with uncommitted changes (``git_sha`` ends in ``-dirty``):
  its code is not the commit it names.
"""

from __future__ import annotations

import json
import shlex

import pandas as pd

ROW_KEY = ["task", "tier", "suite_version", "protocol", "method"]


def _hparams(blob) -> dict:
    try:
        hp = json.loads(blob) if blob else {}
    except ValueError:
        return {}
    return hp if isinstance(hp, dict) else {}


def hp_text(value) -> str:
    """A value as ``--hp`` parses it back: booleans as true/false, floats exactly (repr)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def hp_overrides(chosen: dict, defaults: dict | None) -> list[str]:
    """``component.key=value`` for each hyperparameter of ``chosen`` not equal to ``defaults``'s."""
    out = []
    for comp in sorted(chosen):
        values = chosen[comp] if isinstance(chosen[comp], dict) else {}
        base = (defaults or {}).get(comp, {}) if defaults is not None else {}
        for key in sorted(values):
            if defaults is not None and isinstance(base, dict) and key in base and base[key] == values[key]:
                continue
            out.append(f"{comp}.{key}={hp_text(values[key])}")
    return out


def bench_command(task: str, tier: str, method: str, seeds: int, overrides: list[str]) -> str:
    parts = ["regsuite", "bench", "--tier", tier, "--task", task, "--method", method, "--seeds", str(seeds)]
    for item in overrides:
        parts += ["--hp", item]
    return " ".join(shlex.quote(p) for p in parts)


def row_provenance(runs: pd.DataFrame) -> dict[tuple, dict]:
    """``{(task, tier, suite_version, protocol, method): {command, machines, dirty, seeds, hparams}}``."""
    if not len(runs):
        return {}
    defaults: dict[tuple, dict] = {}
    for r in runs[runs["protocol"] == "default"].itertuples(index=False):
        defaults.setdefault((r.task, r.tier, r.method), _hparams(r.hparams))
    out = {}
    for key, grp in runs.groupby(ROW_KEY, sort=False, dropna=False):
        task, tier, _version, protocol, method = key
        configs = {h for h in grp["hparams"].fillna("")}
        chosen = _hparams(sorted(configs)[0]) if configs else {}
        base = None if protocol == "default" else defaults.get((task, tier, method))
        if protocol == "default":
            base = chosen  # the defaults track is reproduced by the defaults: nothing to override
        seeds = sorted(int(s) for s in grp["seed"].unique())
        machines = sorted({f"{d} · {c}" if c else str(d) for d, c in zip(grp["device"].fillna("unknown"),
                                                                           grp["cpu"].fillna(""))})
        shas = sorted({str(s) for s in grp["git_sha"].dropna()})
        note = ""
        if seeds != list(range(len(seeds))):
            note = f"seeds {', '.join(map(str, seeds))} (bench --seeds N runs 0..N-1)"
        if len(configs) > 1:
            note = (note + "; " if note else "") + f"{len(configs)} configurations among its runs; the first shown"
        out[key] = {
            "command": bench_command(task, tier, method, len(seeds), hp_overrides(chosen, base)),
            "machines": machines,
            "dirty": any(s.endswith("-dirty") for s in shas),
            "shas": [s[:12] + ("-dirty" if s.endswith("-dirty") else "") for s in shas],
            "note": note,
        }
    return out
