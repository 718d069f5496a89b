"""``regsuite check``: has a candidate set of runs regressed against a baseline set?

For every (suite, suite version, task, tier, protocol, method) present in both
directories, the primary metric's values over seeds are compared twice:

* practically: the candidate mean is worse than the baseline mean, in the
  metric's own direction, by more than ``tolerance`` times the magnitude of the
  baseline mean (a relative tolerance, so one default serves accuracies,
  losses and transport errors alike);
* statistically: a one-sided Welch's t-test (``scipy.stats.ttest_ind`` with
  ``equal_var=False``) of "the candidate is worse" gives ``p < alpha``.

A pair is a regression when both hold, or when the candidate has more failed
runs (diverged, error, timeout) than the baseline. With fewer than two seeds on
a side the t-test is undefined and the tolerance alone decides. When both sides
have zero spread (deterministic runs) the test degenerates: any difference is
taken as significant.

Exit status: 1 when any pair regressed, 0 otherwise, 2 on bad input
(unreadable or foreign files, a different primary metric for the same task,
nothing in common).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import click

from .errors import UsageError
from .validate import Finite

KEY = ["suite", "suite_version", "task", "tier", "protocol", "method"]


@dataclass
class Comparison:
    suite: str
    suite_version: str
    task: str
    tier: str
    protocol: str
    method: str
    metric: str
    direction: str
    base: tuple[float, float, int]  # mean, 95% CI half-width, n
    cand: tuple[float, float, int]
    base_failed: int
    cand_failed: int
    change_pct: float  # relative change of the mean in the improving direction
    p_value: float  # one-sided: "the candidate is worse"
    verdict: str  # ok | regression | improved
    reason: str


def load_runs(directory: Path, label: str):
    """Read a results directory through the store; any unreadable file is bad input."""
    from .store import Store

    directory = Path(directory)
    if not directory.is_dir():
        raise UsageError(f"{label} directory {directory} does not exist")
    store = Store(directory)
    runs = store.runs()
    if store.problems:
        more = f" (and {len(store.problems) - 1} more)" if len(store.problems) > 1 else ""
        raise UsageError(f"{label}: {store.problems[0]}{more}")
    if not len(runs):
        raise UsageError(f"{label} directory {directory} holds no runs")
    return runs


def one_sided_p(base: list[float], cand: list[float], direction: str) -> float:
    """p-value of Welch's t-test against H1 "the candidate is worse" (NaN when undefined)."""
    if len(base) < 2 or len(cand) < 2:
        return math.nan
    sign = 1.0 if direction == "max" else -1.0
    worse = sign * (sum(base) / len(base) - sum(cand) / len(cand))
    if _spread(base) == 0 and _spread(cand) == 0:
        return 0.0 if worse > 0 else 1.0
    from scipy import stats

    alternative = "less" if direction == "max" else "greater"
    return float(stats.ttest_ind(cand, base, equal_var=False, alternative=alternative).pvalue)


def _spread(values: list[float]) -> float:
    return max(values) - min(values)


def _ok_values(grp) -> list[float]:
    ok = grp[grp["status"] == "ok"]["primary_value"]
    return [float(v) for v in ok if v is not None and not math.isnan(float(v))]


def compare(base_runs, cand_runs, alpha: float = 0.05, tolerance: float = 0.02):
    """Compare every key present in both run tables; return (comparisons, only_base, only_cand)."""
    base_groups = {k: g for k, g in base_runs.groupby(KEY, sort=True, dropna=False)}
    cand_groups = {k: g for k, g in cand_runs.groupby(KEY, sort=True, dropna=False)}
    common = sorted(set(base_groups) & set(cand_groups))
    only_base = sorted(set(base_groups) - set(cand_groups))
    only_cand = sorted(set(cand_groups) - set(base_groups))
    if not common:
        raise UsageError(
            f"nothing in common: the baseline has {len(base_groups)} (task, method) pairs and the candidate "
            f"{len(cand_groups)}, none with the same suite version, task, tier, protocol and method"
        )
    out = []
    for key in common:
        b, c = base_groups[key], cand_groups[key]
        metric, direction = b["primary_metric"].iloc[0], b["primary_direction"].iloc[0]
        if (c["primary_metric"].iloc[0], c["primary_direction"].iloc[0]) != (metric, direction):
            raise UsageError(
                f"schema mismatch for {key[2]} / {key[5]}: the baseline's primary metric is {metric} ({direction}), "
                f"the candidate's {c['primary_metric'].iloc[0]} ({c['primary_direction'].iloc[0]})"
            )
        out.append(_compare_one(key, metric, direction, b, c, alpha, tolerance))
    return out, only_base, only_cand


def _compare_one(key, metric, direction, b, c, alpha, tolerance) -> Comparison:
    from .scoring import t_interval  # pandas and scipy load only when the command runs

    bv, cv = _ok_values(b), _ok_values(c)
    base, cand = t_interval(bv), t_interval(cv)
    b_failed, c_failed = len(b) - len(bv), len(c) - len(cv)
    sign = 1.0 if direction == "max" else -1.0
    change = math.nan
    if bv and cv and base[0] != 0:
        change = sign * (cand[0] - base[0]) / abs(base[0]) * 100
    p = one_sided_p(bv, cv, direction) if bv and cv else math.nan
    verdict, reason = "ok", ""
    if c_failed > b_failed:
        verdict, reason = "regression", f"{c_failed} failed run(s), baseline {b_failed}"
    elif bv and cv:
        margin = tolerance * max(abs(base[0]), 1e-12)
        worse = sign * (base[0] - cand[0])
        significant = math.isnan(p) or p < alpha
        if worse > margin and significant:
            test = "fewer than 2 seeds, tolerance only" if math.isnan(p) else f"p={p:.3g} < {alpha}"
            verdict, reason = "regression", f"worse by {worse:.4g} > tolerance {margin:.4g}; {test}"
        elif -worse > margin and (math.isnan(p) or one_sided_p(cv, bv, direction) < alpha):
            verdict, reason = "improved", f"better by {-worse:.4g}"
    return Comparison(*key, metric, direction, base, cand, b_failed, c_failed, change, p, verdict, reason)


# ------------------------------------------------------------------ output


def _pm(stat: tuple[float, float, int]) -> str:
    mean, ci, n = stat
    if n == 0:
        return "— (n=0)"
    body = f"{mean:.4f}" if math.isnan(ci) else f"{mean:.4f} ± {ci:.4f}"
    return f"{body} (n={n})"


def _num(x: float, fmt: str) -> str:
    return "—" if x is None or math.isnan(x) else format(x, fmt)


def rows(comparisons: list[Comparison]) -> tuple[list[str], list[list[str]]]:
    header = ["task", "tier", "method", "metric", "baseline", "candidate", "change", "p (worse)", "verdict"]
    body = []
    for c in comparisons:
        task = c.task if c.protocol == "default" else f"{c.task} [{c.protocol}]"
        verdict = c.verdict.upper() if c.verdict == "regression" else c.verdict
        if c.reason:
            verdict += f": {c.reason}"
        body.append([task, c.tier, c.method, f"{c.metric} ({c.direction})", _pm(c.base), _pm(c.cand),
                     _num(c.change_pct, "+.2f") + ("%" if not math.isnan(c.change_pct) else ""),
                     _num(c.p_value, ".3g"), verdict])
    return header, body


def text_table(header: list[str], body: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header) - 1)] + [0]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in [header, *body])


def markdown_table(header: list[str], body: list[list[str]]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(x) for x in r) + " |" for r in body]
    return "\n".join(lines)


@click.command("check")
@click.option("--baseline", type=click.Path(path_type=Path), required=True, help="Results directory to compare against.")
@click.option("--candidate", type=click.Path(path_type=Path), required=True, help="Results directory under test.")
@click.option("--alpha", type=Finite(0, 1, lo_open=True, hi_open=True), default=0.05, show_default=True,
              help="Significance level of the one-sided Welch's t-test.")
@click.option("--tolerance", type=Finite(0, 1), default=0.02, show_default=True,
              help="Practical tolerance: fraction of the baseline mean the candidate may lose.")
def check(baseline, candidate, alpha, tolerance):
    """Flag (task, method) pairs whose candidate runs are worse than the baseline's; exit 1 if any."""
    comparisons, only_base, only_cand = compare(
        load_runs(baseline, "baseline"), load_runs(candidate, "candidate"), alpha, tolerance
    )
    header, body = rows(comparisons)
    regressions = [c for c in comparisons if c.verdict == "regression"]
    verdict = (
        f"{len(regressions)} regression(s) in {len(comparisons)} compared pairs"
        if regressions else f"no regression in {len(comparisons)} compared pairs"
    )
    settings = f"alpha={alpha}, tolerance={tolerance:g} of the baseline mean"
    skipped = f"not compared: {len(only_base)} pair(s) only in the baseline, {len(only_cand)} only in the candidate"
    click.echo(text_table(header, body))
    click.echo(f"\n{verdict} ({settings}); {skipped}")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        md = f"## regsuite check\n\n**{verdict}** ({settings}); {skipped}.\n\n{markdown_table(header, body)}\n"
        try:
            with open(summary, "a", encoding="utf-8") as fh:
                fh.write(md)
        except OSError as exc:
            click.echo(f"warning: could not write the step summary {summary}: {exc.strerror or exc}", err=True)
    if regressions:
        raise SystemExit(1)
