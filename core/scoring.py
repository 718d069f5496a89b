"""Per-task scoring: mean and 95% CI over seeds, tests against the baseline, tie-grouped ranks, cost.

Statistics (see :mod:`regsuite.stats` for each formula):

* each method's mean and two-sided 95% Student-t interval over its ``ok`` seeds;
* each method against the task's baseline: Welch's t-test, Holm-corrected across the task's
  non-reference methods (``p_holm``), ``vs_baseline`` is ``better``/``worse`` when significant at
  :data:`regsuite.stats.ALPHA`, ``same`` when not, empty when untestable;
* ``rank``: 1 + the number of methods significantly better (pairwise Welch, Holm over all pairs),
  so methods no test separates share a rank (a tie group); reference rows (upper bounds, oracles,
  closed-form maps, declared with ``Method.reference``) are scored but never ranked;
* relative improvement over the baseline in the metric's direction, and cost ratios to it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .stats import ALPHA, dominance_ranks, holm, t_interval, welch_p

if TYPE_CHECKING:  # pandas is imported where a frame is built: a cached bench's table never needs it
    import pandas as pd

GROUP = ["suite", "suite_version", "task", "tier", "protocol", "method"]
TASK_GROUP = ["suite", "suite_version", "task", "tier", "protocol"]
COLUMNS = GROUP + [
    "metric", "direction", "n", "failed", "censored", "mean", "ci95", "reference", "rank", "p_vs_baseline", "p_holm",
    "vs_baseline", "delta_pct", "step_time_ratio", "wall_time_ratio", "state_mem_ratio",
]

# The run columns aggregate, aggregate_metrics and the printed tables read (``Store.runs(columns=...)``).
INPUT_COLUMNS = (*GROUP, "method_versions", "finished_at", "status", "primary_metric", "primary_direction",
                 "primary_value", "metrics", "step_time_ms", "wall_s", "state_mem_mb")

__all__ = ["COLUMNS", "GROUP", "INPUT_COLUMNS", "aggregate", "aggregate_metrics", "format_table", "t_interval"]


def aggregate(runs: pd.DataFrame, baselines: dict[str, str] | None = None,
              references: set[str] | frozenset[str] | None = None, alpha: float = ALPHA) -> pd.DataFrame:
    """One row per (suite, task, tier, protocol, method); see the module docstring.

    ``baselines`` maps a task key to its baseline method; ``references`` names the methods shown
    unranked. The delta is the relative improvement of the mean over the baseline's, in %.
    """
    import pandas as pd

    if runs is None or not len(runs):
        return pd.DataFrame(columns=COLUMNS)
    baselines = baselines or {}
    references = set(references or ())
    from .scoring_small import SMALL_ROWS, aggregate_small

    if len(runs) <= SMALL_ROWS:  # the same frame on plain lists: pandas costs milliseconds per operation
        small = aggregate_small(runs, baselines, references, alpha)
        if small is not None:
            return small
    return _aggregate_frame(runs, baselines, references, alpha)


def _aggregate_frame(runs: pd.DataFrame, baselines: dict, references: set, alpha: float) -> pd.DataFrame:
    """:func:`aggregate` with pandas' group-by, for any size (the reference for :mod:`regsuite.scoring_small`)."""
    import pandas as pd

    runs = current_versions(runs)
    ok = runs["status"] == "ok"
    frame = runs[GROUP + ["primary_metric", "primary_direction"]].copy()
    frame["_value"] = pd.to_numeric(runs["primary_value"], errors="coerce").where(ok)
    frame["_censored"] = 0
    lost = ok & frame["_value"].isna()
    if lost.any():  # censored time-to-target runs enter at their budget, a lower bound of their time
        bound = [censored_bound(r) for r in runs[lost].to_dict("records")]
        frame.loc[lost, "_value"] = bound
        frame.loc[lost, "_censored"] = [int(b == b) for b in bound]
    frame["_step"] = pd.to_numeric(runs["step_time_ms"], errors="coerce").where(ok)
    frame["_wall"] = pd.to_numeric(runs["wall_s"], errors="coerce").where(ok) if "wall_s" in runs else math.nan
    frame["_mem"] = pd.to_numeric(runs["state_mem_mb"], errors="coerce").where(ok)
    frame["_failed"] = (~ok).astype(int)
    grouped = frame.groupby(GROUP, sort=True, dropna=False)
    out = (
        grouped
        .agg(
            metric=("primary_metric", "first"),
            direction=("primary_direction", "first"),
            n=("_value", "count"),
            failed=("_failed", "sum"),
            censored=("_censored", "sum"),
            mean=("_value", "mean"),
            sd=("_value", "std"),
            step_time=("_step", "mean"),
            wall_time=("_wall", "mean"),
            state_mem=("_mem", "mean"),
        )
        .reset_index()
    )
    from .t_quantiles import t975  # scipy.stats would cost a CPU second to import

    n = out["n"].astype(float)
    half = t975((n - 1).clip(lower=1).to_numpy()) * out["sd"] / n.pow(0.5)
    out["ci95"] = half.where(n >= 2)
    out["n"] = out["n"].astype(int)
    out["failed"] = out["failed"].astype(int)
    out["censored"] = out["censored"].astype(int)
    out["reference"] = out["method"].isin(references)
    for col in ("rank", "p_vs_baseline", "p_holm", "delta_pct", "step_time_ratio", "wall_time_ratio",
                "state_mem_ratio"):
        out[col] = math.nan
    out["vs_baseline"] = ""
    values = _values_by_group(frame["_value"], grouped.ngroup(), len(out))
    # Plain lists, and the ranks written once: per-task .loc reads and writes cost more than the ranking.
    columns = {c: out[c].tolist() for c in ("task", "method", "direction", "reference")}
    rank = [math.nan] * len(out)
    for _, idx in out.groupby(TASK_GROUP, dropna=False).groups.items():
        _score_task(out, idx, values, baselines, alpha, columns, rank)
    out["rank"] = pd.Series(rank, index=out.index, dtype=float)
    out = out.drop(columns=["sd", "step_time", "wall_time", "state_mem"])
    out["rank"] = out["rank"].astype("Int64")
    return out.sort_values(["suite", "task", "tier", "protocol", "reference", "rank", "method"]).reset_index(
        drop=True)[COLUMNS]


def censored_bound(row: dict) -> float:
    """The budget of an ok run whose time-to-target primary was not reached (NaN otherwise)."""
    from .store import metrics_of

    metrics = metrics_of(row)
    name = str(row.get("primary_metric") or "")
    if metrics.get("target_censored") != 1.0 or not name.endswith("_to_target"):
        return math.nan
    return float(metrics.get(f"target_budget_{name.removesuffix('_to_target')}", math.nan))


def current_versions(runs: pd.DataFrame) -> pd.DataFrame:
    """Only the rows of each method's newest version (by the last finished run of that row group).

    After a method's rule is fixed (its version bumped), a results directory holds rows of both
    versions under one name; averaging them would report neither.
    """
    import pandas as pd

    if "method_versions" not in runs or not len(runs):
        return runs
    versions = runs["method_versions"].astype("string").fillna("")
    names = runs["method"].astype("string").fillna("")
    if pd.DataFrame({"m": names, "v": versions}).drop_duplicates()["m"].is_unique:
        return runs  # one version per method name: every row is its group's newest (the usual case, cheap)
    order = runs["finished_at"].astype("string").fillna("") if "finished_at" in runs else pd.Series("", index=runs.index)
    frame = pd.DataFrame({"_v": versions, "_t": order}, index=runs.index)
    keys = [runs[c].astype("string").fillna("") for c in GROUP]
    latest = frame.sort_values("_t", kind="stable").groupby(keys, sort=False)["_v"].transform("last")
    return runs[versions == latest.reindex(runs.index)]


def _values_by_group(values: pd.Series, group: pd.Series, groups: int) -> list[list[float]]:
    """Each group's values in row order (group numbers as ``groupby(..., sort=True).ngroup()`` gives them).

    One stable sort and a split instead of ``groupby().apply(list)``, which costs a Python call per group.
    """
    import numpy as np

    codes = group.to_numpy()
    order = np.argsort(codes, kind="stable")  # stable: within a group, the rows keep their order
    flat = values.to_numpy(dtype=float, na_value=np.nan)[order].tolist()
    bounds = np.searchsorted(codes[order], np.arange(groups + 1)).tolist()
    return [flat[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def _score_task(out: pd.DataFrame, idx, values: list, baselines: dict, alpha: float, columns: dict,
                rank: list) -> None:
    """Ranks into ``rank`` (by row position; ``out`` has a RangeIndex), comparisons with the baseline into ``out``."""
    rows = list(idx)
    direction = columns["direction"][rows[0]]
    sign = 1.0 if direction == "max" else -1.0
    methods = [columns["method"][r] for r in rows]
    samples = {m: values[r] for m, r in zip(methods, rows)}
    is_ref = {m: columns["reference"][r] for m, r in zip(methods, rows)}
    ranked = {m: v for m, v in samples.items() if not is_ref.get(m, False)}
    ranks = dominance_ranks(ranked, direction, alpha)
    for m, r in zip(methods, rows):
        rank[r] = ranks.get(m, math.nan)
    base = baselines.get(columns["task"][rows[0]])
    if base not in samples:
        return
    part = out.loc[idx]
    base_rows = part[part["method"] == base]
    b = base_rows.iloc[0]
    if b["mean"] and not math.isnan(b["mean"]):
        out.loc[idx, "delta_pct"] = sign * (part["mean"] - b["mean"]) / abs(b["mean"]) * 100
    for col, ratio in (("step_time", "step_time_ratio"), ("wall_time", "wall_time_ratio"),
                       ("state_mem", "state_mem_ratio")):
        if b[col] and not math.isnan(b[col]):
            out.loc[idx, ratio] = part[col] / b[col]
    others = [m for m in ranked if m != base]
    raw = [welch_p(samples[m], samples[base]) for m in others]
    adjusted = holm(raw)
    # Collected per task and written once per column: one .loc write per method costs more than its test.
    row_of = dict(zip(methods, idx))
    mean_of = dict(zip(methods, part["mean"]))
    p_col, q_col, verdict = {}, {}, {}
    for m, p, q in zip(others, raw, adjusted):
        row = row_of[m]
        p_col[row], q_col[row] = p, q
        if math.isnan(q):
            continue
        diff = sign * (mean_of[m] - b["mean"])
        verdict[row] = ("better" if diff > 0 else "worse") if q < alpha and diff != 0 else "same"
    # References are compared too (an upper bound should be better), but outside the Holm family.
    for m in part.loc[part["reference"], "method"]:
        if m == base:
            continue
        p_col[row_of[m]] = welch_p(samples[m], samples[base])
    for col, got in (("p_vs_baseline", p_col), ("p_holm", q_col), ("vs_baseline", verdict)):
        if got:
            out.loc[list(got), col] = list(got.values())


def aggregate_metrics(runs: pd.DataFrame, metrics) -> pd.DataFrame:
    """Mean ± 95% CI over seeds of each named metric, one row per (task, tier, protocol, method)."""
    import pandas as pd

    from .store import metrics_of

    rows = []
    ok = runs[runs["status"] == "ok"]
    for key, grp in ok.groupby(["task", "tier", "protocol", "method"], sort=True):
        values = [metrics_of(r) for r in grp.to_dict("records")]
        row = dict(zip(["task", "tier", "protocol", "method"], key))
        for name in metrics:
            got = [v[name] for v in values if name in v]
            mean, ci, _ = t_interval(got)
            row[name] = _pm(mean, ci, _integral(got))
        rows.append(row)
    return pd.DataFrame(rows, columns=["task", "tier", "protocol", "method", *metrics])


SIGNIFICANCE_MARKS = {"better": "▲", "worse": "▼", "same": "≈"}


def significance_text(row) -> str:
    """'▲ p=0.003' (better than the baseline after Holm), '▼ ...' (worse), '≈ p=0.41' (not separated)."""
    mark = SIGNIFICANCE_MARKS.get(getattr(row, "vs_baseline", "") or "", "")
    p = getattr(row, "p_holm", math.nan)
    if not mark:
        return "—"
    return f"{mark} p={p:.2g}" if p is not None and not math.isnan(p) else mark


def rank_text(row) -> str:
    if getattr(row, "reference", False):
        return "ref"
    r = row.rank
    return "—" if missing(r) else str(int(r))


def format_table(agg: pd.DataFrame, fmt: str = "table") -> str:
    """Render an aggregate as a text table, CSV, Markdown or JSON."""
    if fmt == "json":
        return agg.to_json(orient="records", indent=2)
    if fmt == "csv":
        return agg.to_csv(index=False)
    shown = _shown(agg)
    notes = table_notes(agg["tier"].tolist(), agg["censored"].tolist() if "censored" in agg else [])
    if fmt == "markdown":
        header = "| " + " | ".join(shown.columns) + " |"
        sep = "|" + "|".join("---" for _ in shown.columns) + "|"
        body = ["| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |" for row in shown.itertuples(index=False)]
        return "\n".join([header, sep, *body, "", *notes])
    return "\n".join([text_table(shown), *notes])


def format_columns_table(agg: dict[str, list]) -> str | None:
    """:func:`format_table`'s text table from the aggregate's columns as lists (no pandas), or None
    where a cell is not a plain one-line string (pandas' formatter decides then)."""
    shown = shown_columns(agg)
    text = text_lines(list(shown), list(shown.values()))
    if text is None:
        return None
    return "\n".join([text, *table_notes(agg["tier"], agg.get("censored", []))])


def table_notes(tiers: list, censored: list) -> list[str]:
    """The lines under a table: what its tier means, what '≥' means, how ranks read."""
    notes = []
    if any(t == "smoke" for t in tiers):
        notes.append("smoke tier: a pipeline check on tiny data, not a ranking of methods.")
    if any(c > 0 for c in censored):
        notes.append("≥: some seeds never reached the target; they enter at the budget (a lower bound of their time).")
    notes.append("rank: 1 + methods significantly better (Welch, Holm over all pairs, alpha 0.05); "
                 "equal ranks form a tie group. ref: reference row, not ranked.")
    return notes


def text_table(shown: pd.DataFrame) -> str:
    """``shown.to_string(index=False)`` for a table of plain strings, in a fraction of the time."""
    text = text_lines([str(c) for c in shown.columns], [shown[c].tolist() for c in shown.columns])
    return shown.to_string(index=False) if text is None else text


def text_lines(names: list[str], columns: list[list]) -> str | None:
    """What ``to_string(index=False)`` prints for a table of plain strings; None for anything else.

    pandas formats cell by cell through its generic formatters (seconds for 20,000 rows); a column
    of strings only needs right-justifying to its widest cell (header included), one space between
    columns. Missing cells, line breaks, non-strings and an empty table are left to pandas.
    """
    if not columns or not columns[0] or not all(isinstance(v, str) and "\n" not in v and "\t" not in v
                                                for col in columns for v in col):
        return None
    widths = [max(len(name), max(map(len, col), default=0)) for name, col in zip(names, columns)]
    lines = [" ".join(name.rjust(w) for name, w in zip(names, widths))]
    lines += [" ".join(v.rjust(w) for v, w in zip(row, widths)) for row in zip(*columns)]
    return "\n".join(lines)


def _shown(agg: pd.DataFrame) -> pd.DataFrame:
    """The columns of the text and Markdown tables, as strings."""
    import pandas as pd

    # Plain Python values: itertuples() would walk every column, and Arrow-backed string columns one
    # element at a time (half of this function).
    return pd.DataFrame(shown_columns({c: agg[c].tolist() for c in SHOWN_INPUTS if c in agg}))


SHOWN_INPUTS = ("task", "tier", "protocol", "method", "metric", "mean", "ci95", "censored", "n", "failed", "reference",
                "rank", "vs_baseline", "p_holm", "delta_pct", "step_time_ratio")


def shown_columns(agg: dict[str, list]) -> dict[str, list]:
    """Header -> cells of the text and Markdown tables, from the aggregate's columns as lists."""
    from collections import namedtuple

    used = [c for c in ("mean", "ci95", "censored", "n", "reference", "rank", "vs_baseline", "p_holm") if c in agg]
    Row = namedtuple("Row", used)
    rows = [Row._make(values) for values in zip(*(agg[c] for c in used))]
    shown = {"task": agg["task"], "tier": agg["tier"]}
    if any(p != "default" for p in agg["protocol"]):
        shown["protocol"] = agg["protocol"]
    shown.update({
        "method": agg["method"],
        "metric": agg["metric"],
        "mean ± 95% CI": [_pm_censored(r) for r in rows],
        "n": [f"{n}" + (f" ({f} failed)" if f else "") for n, f in zip(agg["n"], agg["failed"])],
        "rank": [rank_text(r) for r in rows],
        "vs baseline (Holm)": [significance_text(r) for r in rows],
        "Δ vs baseline": [_pct(d) for d in agg["delta_pct"]],
        "step time ×": [_ratio(r) for r in agg["step_time_ratio"]],
    })
    return shown


def _pm_censored(row) -> str:
    """Mean ± CI; with censored seeds a lower bound ('≥'), and how many reached the target."""
    c = int(getattr(row, "censored", 0) or 0)
    text = _pm(row.mean, row.ci95)
    if not c:
        return text
    if c >= row.n:
        return f"not reached in {_num(row.mean, True)} (0/{row.n})"
    return f"≥ {text} ({row.n - c}/{row.n} reached)"


def missing(value) -> bool:
    """None, NaN or pandas' NA (recognised without importing pandas)."""
    return value is None or (isinstance(value, float) and value != value) or type(value).__name__ == "NAType"


def _integral(values) -> bool:
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return bool(vals) and all(v.is_integer() for v in vals)


def _num(v: float, integer: bool = False) -> str:
    if integer or (abs(v) >= 1000 and float(v).is_integer()):
        return f"{v:,.0f}"
    if abs(v) >= 1000:
        return f"{v:,.1f}"
    return f"{v:.4f}"


def _pm(mean: float, ci: float, integer: bool = False) -> str:
    if mean is None or math.isnan(mean):
        return "—"
    if ci is None or math.isnan(ci):
        return _num(mean, integer)
    text = _num(mean, integer)
    # The interval at the mean's precision: '1,015 ± 21', never '1,015 ± 20.5426'.
    whole = "." not in text
    return f"{text} ± {_num(ci, True) if whole else _num(ci, integer)}"


def _pct(d) -> str:
    return "—" if d is None or (isinstance(d, float) and math.isnan(d)) else f"{d:+.2f}%"


def _ratio(r) -> str:
    return "—" if r is None or (isinstance(r, float) and math.isnan(r)) else f"{r:.2f}"
