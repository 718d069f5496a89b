"""Learning-curve data for the task pages: compact JSON that site.js draws one plot at a time.

What a task page gets, per board (tier, suite version, protocol: curves of different tiers or
versions are never averaged together), per logged series (split and metric), per method:

* the mean over seeds at each logged step and a seed band (the lowest and highest seed there);
* the same points on three x axes: steps, seconds (mean wall time at that step) and tokens
  (steps x the run's tokens per step, where the task counts tokens);
* only runs that finished ``ok``: diverged and failed runs are left out, as in the tables.

A series logged once per run (a final diagnostic) is marked ``single`` and drawn as bars with
the seed range, not as a line. Past ten methods, colours repeat with a new marker and dash, so
every trace stays distinguishable. Values are rounded to 5 significant digits: the page carries
what the eye can read, and a trace keeps at most :data:`MAX_POINTS` evenly spread steps (the last
always among them); the Parquet download carries the rest.

The selectors (board, series, x axis) replace one plot per series: one domain-generalization
page used to carry 93 plots and 2.4 MB.
"""

from __future__ import annotations

import html
import math

import pandas as pd

# Plotly reads trace names and titles as a small HTML subset; entity-escaping makes
# it print them literally (a method named "<b>x</b>" shows its tags, not bold text).
label_text = html.escape

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf"]
SYMBOLS = ["circle", "square", "diamond", "triangle-up", "x", "cross", "star", "hexagon"]
DASHES = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot", "solid", "dash"]


def style(i: int) -> dict:
    """Colour, marker and dash of the i-th trace: ten colours, then a new marker and dash per ten."""
    cycle = i // len(PALETTE)
    return {"color": PALETTE[i % len(PALETTE)], "symbol": SYMBOLS[cycle % len(SYMBOLS)],
            "dash": DASHES[cycle % len(DASHES)]}


MAX_POINTS = 120  # per trace: more than a plot's width can show on a phone


def thin(steps: list, max_points: int = MAX_POINTS) -> list[int]:
    """Indices of at most ``max_points`` evenly spread points of ``steps``, always keeping the last."""
    n = len(steps)
    if n <= max_points:
        return list(range(n))
    picked = sorted({round(i * (n - 1) / (max_points - 1)) for i in range(max_points)})
    return picked


def _r(x) -> float | None:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return None
    return float(f"{float(x):.5g}")


def board_label(tier: str, version: str, protocol: str) -> str:
    text = f"tier {tier} · version {version}"
    if tier == "smoke":
        text += " (pipeline check)"
    return text if protocol == "default" else f"{text} · protocol {protocol}"


def task_curves(runs: pd.DataFrame, curves: pd.DataFrame) -> dict[str, list[dict]]:
    """``{task: [board, ...]}``; a board is ``{id, label, tier, version, protocol, axes, series}``."""
    if not len(curves) or not len(runs):
        return {}
    ok = runs[runs["status"] == "ok"]
    meta = ok[["run_id", "task", "tier", "suite_version", "protocol", "method", "steps", "tokens"]].copy()
    steps = pd.to_numeric(meta["steps"], errors="coerce")
    tokens = pd.to_numeric(meta["tokens"], errors="coerce")
    meta["tps"] = (tokens / steps).where((tokens > 0) & (steps > 0))
    merged = curves.merge(meta, on="run_id", how="inner")
    merged = merged[pd.to_numeric(merged["value"], errors="coerce").notna()]
    if not len(merged):
        return {}
    merged = merged.assign(tokens_at=merged["step"] * merged["tps"])
    keys = ["task", "tier", "suite_version", "protocol"]
    series_keys = keys + ["split", "metric"]
    # A series is "single" when every run logged it at one step only (a final diagnostic): its
    # last value per run is kept, at step 0, and drawn as a bar.
    per_run = merged.groupby(series_keys + ["run_id"], sort=False)["step"].transform("nunique")
    single_series = (per_run.groupby([merged[k] for k in series_keys], sort=False).transform("max") == 1)
    last = merged["step"] == merged.groupby(series_keys + ["run_id"], sort=False)["step"].transform("max")
    merged = merged[~single_series | last].copy()
    merged.loc[single_series[merged.index], "step"] = 0
    merged["single"] = single_series[merged.index]
    trace_keys = series_keys + ["method"]
    # One vectorised pass for every trace; the Python loop below only slices the result.
    stats = (merged.groupby(trace_keys + ["step"], sort=True)
             .agg(mean=("value", "mean"), lo=("value", "min"), hi=("value", "max"), wall=("wall_s", "mean"),
                  tokens=("tokens_at", "mean"), single=("single", "first"))
             .reset_index())
    runs_n = merged.groupby(trace_keys, sort=True)["run_id"].nunique().to_dict()
    has_tokens = merged.groupby(keys, sort=True)["tps"].apply(lambda x: bool(x.notna().all())).to_dict()
    cols = {c: stats[c].tolist() for c in stats.columns}
    ids = list(zip(*(cols[c] for c in trace_keys)))
    bounds = [i for i in range(1, len(ids)) if ids[i] != ids[i - 1]]
    out: dict[str, list[dict]] = {}
    board = None
    for a, b in zip([0] + bounds, bounds + [len(ids)]):
        task, tier, version, protocol, split, metric, method = ids[a]
        if board is None or board["_key"] != ids[a][:4]:
            boards = out.setdefault(task, [])
            tokens_ok = has_tokens[ids[a][:4]]
            board = {"_key": ids[a][:4], "id": f"b{len(boards)}", "label": board_label(tier, version, protocol),
                     "tier": tier, "version": version, "protocol": protocol,
                     "axes": ["steps", "seconds"] + (["tokens"] if tokens_ok else []), "series": [], "_methods": {}}
            boards.append(board)
        if not board["series"] or board["series"][-1]["key"] != f"{split} {metric}":
            board["series"].append({"key": f"{split} {metric}", "title": label_text(f"{split} {metric}"),
                                    "label": f"{split} {metric}", "metric": label_text(metric),
                                    "single": bool(cols["single"][a]), "traces": []})
        methods = board["_methods"]
        if method not in methods:
            methods[method] = len(methods)
        keep = [a + i for i in thin(list(range(b - a)))]
        board["series"][-1]["traces"].append({
            "name": label_text(method),  # for plotly (entity-escaped)
            "label": method,  # for the table alternative (set as text, never markup)
            "n": int(runs_n[ids[a]]),
            "step": [int(cols["step"][i]) for i in keep],
            "wall": [_r(cols["wall"][i]) for i in keep],
            "tokens": [_r(cols["tokens"][i]) for i in keep] if board["axes"][-1] == "tokens" else None,
            "mean": [_r(cols["mean"][i]) for i in keep],
            "lo": [_r(cols["lo"][i]) for i in keep],
            "hi": [_r(cols["hi"][i]) for i in keep],
            "_method": method,
        })
    from .overview import board_key

    primary = dict(zip(ok["task"], ok["primary_metric"]))
    for task, boards in out.items():
        boards.sort(key=lambda b: board_key(b["version"], b["tier"], b["protocol"]))  # most telling first
        for i, board in enumerate(boards):
            board["id"] = f"b{i}"
        for board in boards:
            # The series shown first: the task's primary metric where logged, else a loss, else the first.
            keys = [sr["key"] for sr in board["series"]]
            board["default"] = next((i for i, k in enumerate(keys) if k.split(" ", 1)[-1] == primary.get(task)),
                                    next((i for i, k in enumerate(keys) if k.endswith(" loss")), 0))
            # Colours follow the board's methods in name order, the same in every series.
            order = {m: i for i, m in enumerate(sorted(board.pop("_methods")))}
            board.pop("_key")
            for series in board["series"]:
                for trace in series["traces"]:
                    trace.update(style(order[trace.pop("_method")]))
    return out
