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
    out: dict[str, list[dict]] = {}
    keys = ["task", "tier", "suite_version", "protocol"]
    for (task, tier, version, protocol), part in merged.groupby(keys, sort=True):
        boards = out.setdefault(task, [])
        methods = sorted(set(part["method"]))
        styles = {m: style(i) for i, m in enumerate(methods)}
        has_tokens = bool(part["tps"].notna().all())
        series = []
        for (split, metric), sp in part.groupby(["split", "metric"], sort=True):
            per_run = sp.groupby("run_id")["step"].nunique()
            single = bool(per_run.max() == 1)
            traces = []
            for method, line in sp.groupby("method", sort=True):
                if single:  # one value per run: its last logged value
                    line = line.sort_values("step").groupby("run_id").tail(1).assign(step=0)
                g = line.groupby("step", sort=True)
                stats = g["value"].agg(["mean", "min", "max"]).assign(wall=g["wall_s"].mean(),
                                                                      tokens=g["tokens_at"].mean())
                stats = stats.iloc[thin(list(stats.index))]
                traces.append({
                    "name": label_text(method),  # for plotly (entity-escaped)
                    "label": method,  # for the table alternative (set as text, never markup)
                    "n": int(line["run_id"].nunique()),
                    "step": [int(s) for s in stats.index],
                    "wall": [_r(v) for v in stats["wall"]],
                    "tokens": [_r(v) for v in stats["tokens"]] if has_tokens else None,
                    "mean": [_r(v) for v in stats["mean"]],
                    "lo": [_r(v) for v in stats["min"]],
                    "hi": [_r(v) for v in stats["max"]],
                    **styles[method],
                })
            series.append({"key": f"{split} {metric}", "title": label_text(f"{split} {metric}"),
                           "label": f"{split} {metric}",
                           "metric": label_text(metric), "single": single, "traces": traces})
        boards.append({
            "id": f"b{len(boards)}",
            "label": board_label(tier, version, protocol),
            "tier": tier, "version": version, "protocol": protocol,
            "axes": ["steps", "seconds"] + (["tokens"] if has_tokens else []),
            "series": series,
        })
    return out
