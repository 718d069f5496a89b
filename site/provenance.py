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
    """``{(task, tier, suite_version, protocol, method): {command, machines, dirty, shas, note}}``."""
    if not len(runs):
        return {}
    # One pass over the rows in plain Python: a pandas group per row costs more than the rows.
    cols = ROW_KEY + ["hparams", "seed", "device", "cpu", "git_sha"]
    groups: dict[tuple, dict] = {}
    defaults: dict[tuple, dict] = {}
    for rec in zip(*(runs[c].tolist() for c in cols)):
        key, (hparams, seed, device, cpu, sha) = rec[:5], rec[5:]
        task, tier, _version, protocol, method = key
        g = groups.setdefault(key, {"configs": set(), "seeds": set(), "machines": set(), "shas": set()})
        g["configs"].add(hparams if isinstance(hparams, str) else "")
        g["seeds"].add(int(seed))
        device = device if isinstance(device, str) else "unknown"
        g["machines"].add(f"{device} · {cpu}" if isinstance(cpu, str) and cpu else device)
        if isinstance(sha, str):
            g["shas"].add(sha)
        if protocol == "default":
            defaults.setdefault((task, tier, method), _hparams(hparams))
    out = {}
    for key, g in groups.items():
        task, tier, _version, protocol, method = key
        chosen = _hparams(sorted(g["configs"])[0])
        # The defaults track is reproduced by the defaults; a tuned row by what differs from them.
        base = chosen if protocol == "default" else defaults.get((task, tier, method))
        seeds = sorted(g["seeds"])
        note = ""
        if seeds != list(range(len(seeds))):
            note = f"seeds {', '.join(map(str, seeds))} (bench --seeds N runs 0..N-1)"
        if len(g["configs"]) > 1:
            note = (note + "; " if note else "") + f"{len(g['configs'])} configurations among its runs; the first shown"
        shas = sorted(g["shas"])
        out[key] = {
            "command": bench_command(task, tier, method, len(seeds), hp_overrides(chosen, base)),
            "machines": sorted(g["machines"]),
            "dirty": any(s.endswith("-dirty") for s in shas),
            "shas": [s[:12] + ("-dirty" if s.endswith("-dirty") else "") for s in shas],
            "note": note,
        }
    return out
