"""``scoring.aggregate`` for a small table (a bench's plan, a small results directory) without pandas' group-by.

pandas costs a few milliseconds per operation whatever the size: a one-run bench spent 0.04-0.05 s CPU in
``aggregate`` for a table of two rows. This module computes the same frame on plain lists and builds the
DataFrame once. "The same" is to the last bit, so the reductions follow pandas 3's group-by kernels:

* a group mean is ``np.add.reduceat`` over the group's segment divided by its size when the rows come in
  group order and the column has no NaN (pandas' ``_reduceat_aggregate``), else a Kahan sum in row order
  divided by the count of non-NaN values (its Cython ``group_mean``);
* a group standard deviation is Welford's running update with ``ddof=1`` (its ``group_var``), then sqrt;
* ``first`` is the group's first non-missing value, ``count`` its non-NaN values.

The list arithmetic (:func:`aggregate_columns`) needs no DataFrame: a bench prints its plan's table
straight from the store's columns (:func:`table_of_columns`) without importing pandas.

tests/test_scoring_small.py compares the two paths on hand-built tables (NaN, censored, failed and error
rows, several versions, references, row orders that take either mean kernel) and on random ones, with
``check_exact``; a pandas upgrade that changes a kernel fails there. Anything this module does not expect
(an unusual column dtype, keys that do not sort) returns None, and ``aggregate`` takes the pandas path.
"""

from __future__ import annotations

import math

from .scoring import missing as _missing

# Above this many rows pandas' vectorised group-by is the cheaper one.
SMALL_ROWS = 1000


def _floats(series) -> list[float] | None:
    """``pd.to_numeric(series, errors="coerce")`` as floats; None for a dtype left to pandas."""
    import numpy as np
    import pandas as pd

    num = pd.to_numeric(series, errors="coerce")
    if not isinstance(num.dtype, np.dtype) or num.dtype.kind not in "fi":
        return None  # nullable and other extension dtypes: pandas' own kernels
    return [float(v) for v in num.tolist()]


def _group_mean(column: list[float], groups: list[list[int]], monotonic: bool) -> list[float]:
    import numpy as np

    if monotonic and not any(v != v for v in column):
        starts = [g[0] for g in groups]
        sums = np.add.reduceat(np.asarray(column, dtype=np.float64), starts)
        sizes = np.asarray([len(g) for g in groups], dtype=np.float64)
        return (sums / sizes).tolist()
    out = []
    for rows in groups:
        total = compensation = 0.0
        count = 0
        for r in rows:
            value = column[r]
            if value != value:
                continue
            count += 1
            y = value - compensation
            t = total + y
            compensation = t - total - y
            if compensation != compensation:  # an infinite value: pandas resets the compensation
                compensation = 0.0
            total = t
        out.append(total / count if count else math.nan)
    return out


def _group_std(column: list[float], groups: list[list[int]]) -> list[float]:
    out = []
    for rows in groups:
        count, mean, m2 = 0, 0.0, 0.0
        for r in rows:
            value = column[r]
            if value != value:
                continue
            count += 1
            old = mean
            mean += (value - old) / count
            m2 += (value - mean) * (value - old)
        out.append(math.sqrt(m2 / (count - 1)) if count > 1 else math.nan)
    return out


def _first(column: list, rows: list[int]):
    return next((column[r] for r in rows if not _missing(column[r])), math.nan)


def _sort_key(value):
    return (1, 0) if _missing(value) else (0, value)


FLOAT_INPUTS = ("primary_value", "step_time_ms", "state_mem_mb", "wall_s")


def one_version_each(names: list[str], versions: list[str]) -> bool:
    """Whether every method name comes with one version string only."""
    seen: dict = {}
    return all(seen.setdefault(n, v) == v for n, v in zip(names, versions))


def aggregate_small(runs, baselines: dict, references: set, alpha: float):
    """The frame ``scoring.aggregate`` returns, or None when this input is left to the pandas path."""
    import pandas as pd

    from .scoring import COLUMNS, GROUP, current_versions

    text_columns = [*GROUP, "primary_metric", "primary_direction"]
    if any(not (runs[c].dtype == object or isinstance(runs[c].dtype, pd.StringDtype)) for c in text_columns):
        return None
    if "method_versions" in runs and len(runs):
        names = runs["method"].astype("string").fillna("").tolist()
        versions = runs["method_versions"].astype("string").fillna("").tolist()
        if not one_version_each(names, versions):
            runs = current_versions(runs)  # several versions of a method: the pandas rule, kept as it is
    wanted = [*GROUP, "status", "primary_metric", "primary_direction", "metrics"]  # metrics: censored runs
    columns = {c: runs[c].tolist() for c in wanted if c in runs}
    for c in FLOAT_INPUTS:
        if c in runs:
            columns[c] = _floats(runs[c])
            if columns[c] is None:
                return None
    values = aggregate_columns(columns, baselines, references, alpha)
    if values is None:
        return None
    dtypes = {c: runs[c].dtype for c in GROUP}
    dtypes.update(metric=runs["primary_metric"].dtype, direction=runs["primary_direction"].dtype,
                  n="int64", failed="int64", censored="int64", reference=bool, rank="Int64", vs_baseline="str")
    frame = {}
    for c in COLUMNS:
        column = values[c]
        if c == "rank":
            column = [None if v != v else int(v) for v in column]
        frame[c] = pd.Series(column, dtype=dtypes.get(c, "float64"))
    return pd.DataFrame(frame)


def aggregate_columns(columns: dict[str, list], baselines: dict, references: set, alpha: float):
    """The aggregate's columns (``scoring.COLUMNS``, rows in its order) from the runs' columns as lists.

    ``columns``: every scoring input (``scoring.INPUT_COLUMNS``; ``wall_s`` and ``metrics`` may be absent)
    as a list per column, the numeric ones (:data:`FLOAT_INPUTS`) as floats with NaN for missing values,
    one version per method name. Needs neither pandas nor a DataFrame, so a bench's table of a cached
    plan costs no pandas import. None when the keys do not sort (the pandas path decides then).
    """
    import numpy as np

    from .scoring import GROUP, TASK_GROUP, censored_bound
    from .stats import dominance_ranks, holm, welch_p
    from .t_quantiles import t975

    rows_n = len(columns["status"])
    ok = [s == "ok" if isinstance(s, str) else False for s in columns["status"]]
    value, step, mem = ([v if keep else math.nan for v, keep in zip(columns[c], ok)]
                        for c in ("primary_value", "step_time_ms", "state_mem_mb"))
    wall = ([v if keep else math.nan for v, keep in zip(columns["wall_s"], ok)] if "wall_s" in columns
            else [math.nan] * rows_n)
    censored = [0] * rows_n
    lost = [i for i, (keep, v) in enumerate(zip(ok, value)) if keep and v != v]
    if lost:  # censored time-to-target runs enter at their budget, a lower bound of their time
        for i in lost:
            bound = censored_bound({c: columns[c][i] for c in columns})
            value[i], censored[i] = bound, int(bound == bound)
    # Missing keys form one group (dropna=False), sorted last: None stands for every kind of missing value.
    keys = [tuple(None if _missing(v) else v for v in k) for k in zip(*(columns[c] for c in GROUP))]
    try:
        order = sorted(set(keys), key=lambda k: tuple(_sort_key(v) for v in k))
    except TypeError:
        return None
    code = {k: i for i, k in enumerate(order)}
    ids = [code[k] for k in keys]
    groups: list[list[int]] = [[] for _ in order]
    for row, g in enumerate(ids):
        groups[g].append(row)
    monotonic = all(a <= b for a, b in zip(ids, ids[1:]))
    metric_col, direction_col = columns["primary_metric"], columns["primary_direction"]
    count = [sum(1 for r in rows if value[r] == value[r]) for rows in groups]
    mean = _group_mean(value, groups, monotonic)
    sd = _group_std(value, groups)
    step_mean, wall_mean, mem_mean = (_group_mean(c, groups, monotonic) for c in (step, wall, mem))
    n = np.asarray(count, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):  # pandas' Series arithmetic is silent too
        half = t975(np.clip(n - 1, 1, None)) * np.asarray(sd, dtype=float) / np.power(n, 0.5)
    ci95 = np.where(n >= 2, half, np.nan).tolist()
    g = len(order)
    method = [k[GROUP.index("method")] for k in order]
    task = [k[GROUP.index("task")] for k in order]
    direction = [_first(direction_col, rows) for rows in groups]
    reference = [m in references for m in method]
    rank = [math.nan] * g
    p_vs, p_holm, verdict = [math.nan] * g, [math.nan] * g, [""] * g
    delta, step_ratio, wall_ratio, mem_ratio = ([math.nan] * g for _ in range(4))
    task_of = {}
    for i, k in enumerate(order):
        task_of.setdefault(tuple(k[GROUP.index(c)] for c in TASK_GROUP), []).append(i)
    for rows in task_of.values():
        sign = 1.0 if direction[rows[0]] == "max" else -1.0
        samples = {method[r]: [value[x] for x in groups[r]] for r in rows}
        ranked = {method[r]: samples[method[r]] for r in rows if not reference[r]}
        ranks = dominance_ranks(ranked, direction[rows[0]], alpha)
        for r in rows:
            rank[r] = ranks.get(method[r], math.nan)
        base = baselines.get(task[rows[0]])
        if base not in samples:
            continue
        b = next(r for r in rows if method[r] == base)
        if mean[b] and not math.isnan(mean[b]):
            for r in rows:
                delta[r] = sign * (mean[r] - mean[b]) / abs(mean[b]) * 100
        for col, ratio in ((step_mean, step_ratio), (wall_mean, wall_ratio), (mem_mean, mem_ratio)):
            if col[b] and not math.isnan(col[b]):
                for r in rows:
                    ratio[r] = col[r] / col[b]
        row_of = {method[r]: r for r in rows}
        others = [m for m in ranked if m != base]
        raw = [welch_p(samples[m], samples[base]) for m in others]
        for m, p, q in zip(others, raw, holm(raw)):
            r = row_of[m]
            p_vs[r], p_holm[r] = p, q
            if math.isnan(q):
                continue
            diff = sign * (mean[r] - mean[b])
            verdict[r] = ("better" if diff > 0 else "worse") if q < alpha and diff != 0 else "same"
        for r in rows:  # references: compared too, outside the Holm family
            if reference[r] and method[r] != base:
                p_vs[r] = welch_p(samples[method[r]], samples[base])
    values = {c: [k[i] for k in order] for i, c in enumerate(GROUP)}
    values.update(metric=[_first(metric_col, rows) for rows in groups], direction=direction, n=count,
                  failed=[sum(1 for r in rows if not ok[r]) for rows in groups],
                  censored=[sum(censored[r] for r in rows) for rows in groups], mean=mean, ci95=ci95,
                  reference=reference, rank=rank, p_vs_baseline=p_vs, p_holm=p_holm, vs_baseline=verdict,
                  delta_pct=delta, step_time_ratio=step_ratio, wall_time_ratio=wall_ratio,
                  state_mem_ratio=mem_ratio)
    by = [values[c] for c in ("suite", "task", "tier", "protocol", "reference", "rank", "method")]
    try:
        final = sorted(range(g), key=lambda i: tuple(_sort_key(col[i]) for col in by))
    except TypeError:
        return None
    from .scoring import COLUMNS

    return {c: [values[c][i] for i in final] for c in COLUMNS}


def table_of_columns(columns: dict[str, list], baselines: dict, references: set, alpha: float):
    """A plan's text table straight from its runs' columns as lists (``Store.run_columns``), with the
    number of its rows; None where the general path (pandas) must decide: too many rows, a censored
    run (its budget is in ``metrics``), several versions of a method, keys that do not sort, or cells
    that are not plain strings. The same text as ``format_table(aggregate(...))``."""
    from .scoring import format_columns_table

    status = columns["status"]
    if not status or len(status) > SMALL_ROWS:
        return None
    columns = dict(columns)
    for c in FLOAT_INPUTS:
        if c in columns:
            columns[c] = [math.nan if v is None else float(v) for v in columns[c]]
    if any(s == "ok" and v != v for s, v in zip(status, columns["primary_value"])):
        return None
    if "method_versions" in columns and not one_version_each([m or "" for m in columns["method"]],
                                                             [v or "" for v in columns["method_versions"]]):
        return None
    values = aggregate_columns(columns, baselines, references, alpha)
    if values is None:
        return None
    text = format_columns_table(values)
    return None if text is None else (text, len(values["method"]))
