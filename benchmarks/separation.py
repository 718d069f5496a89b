"""Does a task separate methods? Three figures per task from a results directory (issue 15).

    python benchmarks/separation.py /tmp/sep-vision [--metric NAME] [--task SUITE/NAME ...]
    python benchmarks/separation.py results/leaderboard --protocol tuned:sobol-6+default

With ``--protocol`` only the runs of that protocol count: on the leaderboard's results directory
this scores the tuned track's final seeds (each method at its selected configuration), leaving
out the defaults track. Reference rows (``Method.reference``: upper bounds, oracles, closed-form
maps) are left out automatically; ``--exclude`` leaves out more.

Per task, over the methods with at least two seeds (reference rows left out):

(a) range of the method means / median across-seed standard deviation (target >= 10);
(b) share of method pairs whose difference is significant: Welch's t-test, Holm-corrected over
    all pairs of the task, alpha 0.05 (target >= 25%);
(c) number of significance groups: distinct ranks, a method's rank being 1 + the number of
    methods significantly better than it (``regsuite.stats.dominance_ranks``) (target >= 3).

Time-to-target metrics (``*_to_target``): a censored run has no value. Methods whose seeds all
reached the target enter (a)-(c); the others are listed with their count of censored seeds, and
a method censored in every seed, being slower than every method that always reached it within
the same budget, adds one group to (c) ("groups incl. never").

``--sample defaults+K`` scores issue 15's own sample instead of the whole board: the task's
baseline and its suite's default methods (those present), plus K more methods drawn at random
from the rest of the board, ``--draws`` times (seeded, so the figures reproduce). The K are drawn,
never chosen, so no draw favours the task; the row reports the median of each figure over the
draws and the share of draws meeting each target. Holm corrects over the pairs of the sample,
which is why (b) is higher there than over a whole board of 50 methods (1,225 pairs).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from itertools import combinations


def reference_methods(names: set[str]) -> set[str]:
    """The methods among ``names`` that declare themselves reference rows (never ranked)."""
    from regsuite.registry import build_registry

    methods = build_registry().methods
    return {n for n in names if n in methods and methods[n].reference}


def task_samples(df, metric: str | None, min_seeds: int = 2):
    """{task: (metric, direction, {method: [values]}, {method: (censored, n)})} from a runs table."""
    out = {}
    for task, rows in df.groupby("task"):
        name = metric or rows["primary_metric"].iloc[0]
        direction = rows["primary_direction"].iloc[0] if metric is None else ("min" if name.endswith("_to_target") or "loss" in name else "max")
        samples, censored = {}, {}
        for method, group in rows.groupby("method"):
            values, n_censored, n = [], 0, 0
            for _, row in group.iterrows():
                m = json.loads(row["metrics"]) if row["metrics"] else {}
                if m.get("target_censored") == 1.0 and name.endswith("_to_target"):
                    n_censored, n = n_censored + 1, n + 1  # a censored run, whatever status it got
                elif row["status"] == "ok" and name in m and math.isfinite(m[name]):
                    values.append(float(m[name]))
                    n += 1
            if n_censored:
                censored[method] = (n_censored, n)
            elif len(values) >= min_seeds:
                samples[method] = values
        out[task] = (name, direction, samples, censored)
    return out


def figures(samples: dict[str, list[float]], direction: str, alpha: float = 0.05) -> dict:
    from regsuite.stats import dominance_ranks, holm, welch_p

    means = {k: statistics.fmean(v) for k, v in samples.items()}
    sds = [statistics.stdev(v) for v in samples.values()]
    median_sd = statistics.median(sds) if sds else math.nan
    spread = max(means.values()) - min(means.values()) if means else math.nan
    pairs = list(combinations(samples, 2))
    adjusted = holm([welch_p(samples[a], samples[b]) for a, b in pairs])
    significant = sum(1 for p in adjusted if not math.isnan(p) and p < alpha)
    ranks = dominance_ranks(samples, direction, alpha)
    return {
        "methods": len(samples),
        "range_over_sd": spread / median_sd if median_sd and median_sd > 0 else math.inf,
        "significant_pairs": significant / len(pairs) if pairs else math.nan,
        "groups": len(set(ranks.values())),
        "means": means,
        "ranks": ranks,
    }


def core_methods(task: str, present: set[str]) -> list[str]:
    """The task's baseline and its suite's default methods, those among ``present``, in that order."""
    from regsuite.registry import build_registry

    reg = build_registry()
    t = reg.tasks.get(task)
    if t is None:
        return []
    wanted = dict.fromkeys((t.baseline, *reg.suite(t.suite).default_methods))
    return [m for m in wanted if m in present]


def sampled_figures(samples, direction, core: list[str], extra: int, draws: int, seed: int = 0) -> dict:
    """Figures over ``draws`` samples of ``core`` plus ``extra`` methods drawn from the others."""
    import random

    rng = random.Random(seed)
    others = sorted(set(samples) - set(core))
    k = min(extra, len(others))
    rows = []
    for _ in range(draws if k < len(others) else 1):
        chosen = core + rng.sample(others, k)
        rows.append(figures({m: samples[m] for m in chosen}, direction))
    med = lambda key: statistics.median(r[key] for r in rows)  # noqa: E731
    return {
        "methods": len(core) + k, "core": len(core), "draws": len(rows),
        "range_over_sd": med("range_over_sd"), "significant_pairs": med("significant_pairs"),
        "groups": med("groups"),
        "meets_a": sum(r["range_over_sd"] >= 10 for r in rows) / len(rows),
        "meets_b": sum(r["significant_pairs"] >= 0.25 for r in rows) / len(rows),
        "meets_c": sum(r["groups"] >= 3 for r in rows) / len(rows),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results_dir")
    parser.add_argument("--metric", help="metric to score (default: each task's primary)")
    parser.add_argument("--task", action="append", help="only these tasks (suite/name)")
    parser.add_argument("--exclude", action="append", default=[], help="more methods to leave out")
    parser.add_argument("--protocol", help="only runs of this protocol (e.g. tuned:sobol-6+default)")
    parser.add_argument("--min-seeds", type=int, default=2, help="methods with fewer finished seeds are left out")
    parser.add_argument("--markdown", action="store_true", help="one table row per task (for docs/performance.md)")
    parser.add_argument("--sample", help="issue 15's sample: defaults+K (baseline, suite defaults, K drawn at random)")
    parser.add_argument("--draws", type=int, default=200, help="random draws of the K extra methods (--sample)")
    args = parser.parse_args(argv)
    extra = None
    if args.sample:
        head, _, k = args.sample.partition("+")
        if head != "defaults" or not k.isdigit():
            print(f"error: --sample takes defaults+K (K a whole number), not {args.sample!r}", file=sys.stderr)
            return 2
        extra = int(k)
    from regsuite.scoring import current_versions
    from regsuite.store import Store

    df = current_versions(Store(args.results_dir).runs())
    if df.empty:
        print(f"error: no runs in {args.results_dir}", file=sys.stderr)
        return 2
    references = reference_methods(set(df["method"]))
    df = df[~df["method"].isin(set(args.exclude) | references)]
    if args.protocol:
        df = df[df["protocol"] == args.protocol]
    if args.task:
        df = df[df["task"].isin(args.task)]
    for task, (name, direction, samples, censored) in task_samples(df, args.metric, args.min_seeds).items():
        if extra is not None:
            core = core_methods(task, set(samples))
            f = sampled_figures(samples, direction, core, extra, args.draws)
            print(f"| {task} | {f['core']} + {f['methods'] - f['core']} drawn ({f['draws']} draws) | "
                  f"{f['range_over_sd']:.1f} ({100 * f['meets_a']:.0f}%) | {100 * f['significant_pairs']:.0f}% "
                  f"({100 * f['meets_b']:.0f}%) | {f['groups']:g} ({100 * f['meets_c']:.0f}%) |")
            continue
        f = figures(samples, direction)
        never = sum(1 for c, n in censored.values() if c == n)
        if args.markdown:
            seeds = sorted({len(v) for v in samples.values()})
            groups = f"{f['groups']}" + (f" (+1 never reached: {never} methods)" if never else "")
            print(f"| {task} | {f['methods']} ({'-'.join(map(str, seeds[::len(seeds) - 1 or 1]))} seeds) | "
                  f"{f['range_over_sd']:.1f} | {100 * f['significant_pairs']:.0f}% | {groups} |")
            continue
        print(f"{task}  [{name}, {direction}]  methods={f['methods']}  (a) range/median sd = {f['range_over_sd']:.1f}  "
              f"(b) significant pairs = {100 * f['significant_pairs']:.0f}%  (c) groups = {f['groups']}"
              + (f" (incl. never: {f['groups'] + (1 if never else 0)})" if censored else ""))
        order = sorted(f["means"], key=lambda k: f["means"][k], reverse=direction == "max")
        for k in order:
            vals = samples[k]
            print(f"    {k:28s} {f['means'][k]:10.4f} ± {statistics.stdev(vals):.4f}  rank {f['ranks'][k]}  n={len(vals)}")
        for k, (c, n) in sorted(censored.items()):
            print(f"    {k:28s} censored in {c}/{n} seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
