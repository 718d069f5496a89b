"""The statistics behind every leaderboard number: intervals, tests, corrections, groups.

Plain functions over sequences of floats (no pandas), so each one can be checked by hand:

* :func:`t_interval` — mean and half-width of the two-sided 95% Student-t interval;
* :func:`welch_p` — two-sided p-value of Welch's unequal-variance t-test;
* :func:`holm` — Holm's step-down adjustment of a family of p-values;
* :func:`dominance_ranks` — ranks with tie groups: a method's rank is 1 + the number of
  methods significantly better than it (pairwise Welch tests, Holm-corrected over all pairs), so
  methods that no test separates share a rank, and floating-point noise never splits a tie;
* :func:`expected_best_of_k` — what a user who runs k of the K trials gets, in expectation.
"""

from __future__ import annotations

import math
from itertools import combinations
from typing import Sequence

ALPHA = 0.05


def finite(values) -> list[float]:
    out = []
    for v in values:
        if v is None:
            continue
        try:
            f = float(v)
        except (TypeError, ValueError):
            continue
        if math.isfinite(f):
            out.append(f)
    return out


def t_interval(values) -> tuple[float, float, int]:
    """Mean and half-width of the two-sided 95% Student-t interval (NaN half-width for n < 2)."""
    vals = finite(values)
    n = len(vals)
    if n == 0:
        return math.nan, math.nan, 0
    mean = sum(vals) / n
    if n < 2:
        return mean, math.nan, n
    from .t_quantiles import t975  # the same values as scipy.stats.t.ppf, without its import cost

    sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / (n - 1))
    return mean, t975(n - 1) * sd / math.sqrt(n), n


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def welch_p(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p-value of Welch's t-test of mean(a) == mean(b); NaN when it cannot be computed.

    Samples with no spread on either side (every seed gave the same value, as deterministic
    runs do) are compared exactly: equal means give p = 1, different means p = 0.
    """
    a, b = finite(a), finite(b)
    if len(a) < 2 or len(b) < 2:
        return math.nan
    ma, mb = sum(a) / len(a), sum(b) / len(b)
    va = sum((x - ma) ** 2 for x in a) / (len(a) - 1)
    vb = sum((x - mb) ** 2 for x in b) / (len(b) - 1)
    se2 = va / len(a) + vb / len(b)
    if se2 <= 0 or _close(se2, 0.0):
        return 1.0 if _close(ma, mb) else 0.0
    if _close(ma, mb):
        return 1.0
    from scipy.special import stdtr  # what scipy.stats.t.sf(x, df) computes; a third of the import

    t = (ma - mb) / math.sqrt(se2)
    df = se2**2 / ((va / len(a)) ** 2 / (len(a) - 1) + (vb / len(b)) ** 2 / (len(b) - 1))
    return float(2 * stdtr(df, -abs(t)))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values, in the input order; NaN stays NaN and is not counted in the family.

    Sorted ascending p_(1) <= ... <= p_(m): adj_(i) = max_{j <= i} min(1, (m - j + 1) p_(j)).
    """
    idx = [i for i, p in enumerate(pvalues) if p is not None and not math.isnan(p)]
    m = len(idx)
    out = [math.nan] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(sorted(idx, key=lambda i: pvalues[i])):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        out[i] = running
    return out


def welch_matrix(samples: list[list[float]], at_least: float | None = None):
    """Two-sided Welch p-values for every pair (i < j) at once: (i index, j index, p) arrays.

    Same rules as :func:`welch_p`: NaN for a side with fewer than two values, exact comparison
    when neither side has spread. With ``at_least``, a pair whose p-value cannot be below it
    (|t| under the normal quantile, which every t quantile exceeds) gets 1.0 without computing it.
    """
    import numpy as np

    n = np.array([len(v) for v in samples], float)
    mean = np.array([sum(v) / len(v) if v else np.nan for v in samples])
    var = np.array([sum((x - m) ** 2 for x in v) / (len(v) - 1) if len(v) > 1 else np.nan
                    for v, m in zip(samples, mean)])
    i, j = np.triu_indices(len(samples), 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        se2 = var[i] / n[i] + var[j] / n[j]
        t = (mean[i] - mean[j]) / np.sqrt(se2)
        df = se2**2 / ((var[i] / n[i]) ** 2 / (n[i] - 1) + (var[j] / n[j]) ** 2 / (n[j] - 1))
    p = np.full(len(i), np.nan)
    testable = (n[i] >= 2) & (n[j] >= 2)
    same = np.isclose(mean[i], mean[j], rtol=1e-9, atol=1e-12)
    flat = testable & np.isclose(se2, 0.0, rtol=0, atol=1e-24)
    p[testable & same] = 1.0
    p[flat & ~same] = 0.0
    rest = testable & ~same & ~flat
    if at_least is not None:
        from statistics import NormalDist

        z = NormalDist().inv_cdf(1 - at_least / 2) * (1 - 1e-9)  # margin: never skip a borderline pair
        skip = rest & (np.abs(t) <= z)
        p[skip] = 1.0
        rest &= ~skip
    if rest.any():
        from scipy.special import stdtr

        p[rest] = 2 * stdtr(df[rest], -np.abs(t[rest]))
    return i, j, p


def dominance_ranks(samples: dict[str, Sequence[float]], direction: str, alpha: float = ALPHA,
                    decimals: int = 4) -> dict[str, int]:
    """Rank = 1 + the number of methods significantly better (Welch, Holm over all pairs).

    Methods with fewer than two finite values cannot be tested; among themselves and against the
    rest they are ordered by their mean rounded to ``decimals`` (the displayed precision), so two
    equal displayed values always share a rank. Methods without any finite value are left out.
    """
    import numpy as np

    sign = 1.0 if direction == "max" else -1.0
    names = [k for k, v in samples.items() if finite(v)]
    vals = [finite(samples[k]) for k in names]
    if not names:
        return {}
    i, j, p = welch_matrix(vals, at_least=alpha)
    # Holm over the testable pairs, vectorized: adjusted_(r) = running max of (m - r) p_(r).
    # Only whether q < alpha is used. A pair with p >= alpha never has q < alpha, and the q of a
    # pair with p < alpha depends only on m and on the smaller p-values, all below alpha too:
    # so only the pairs below alpha are sorted, the rest are left at q = 1.
    q = np.full(len(p), np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        m = int(ok.sum())
        small = ok & (p < alpha)
        q[ok] = 1.0
        order = np.argsort(p[small])  # ties get the same q in any order (running max)
        k = len(order)
        adj = np.minimum(1.0, (m - np.arange(k)) * p[small][order])
        adj = np.maximum.accumulate(adj) if k else adj
        sub = np.empty(k)
        sub[order] = adj
        q[small] = sub
    shown = np.round(sign * np.array([sum(v) / len(v) for v in vals]), decimals)
    differ = shown[i] != shown[j]
    separated = np.where(np.isnan(q), differ, (q < alpha) & differ)
    better = np.zeros(len(names), int)
    a_wins = separated & (shown[i] > shown[j])
    b_wins = separated & (shown[i] < shown[j])
    np.add.at(better, j[a_wins], 1)
    np.add.at(better, i[b_wins], 1)
    return {k: 1 + int(b) for k, b in zip(names, better)}


def expected_best_of_k(selection: Sequence[float], reported: Sequence[float], k: int, direction: str) -> float:
    """E[reported score of the trial with the best selection score among k of the K trials].

    The k trials are a uniformly random subset (without replacement) of the K that ran. With the
    trials sorted by selection score from worst to best (positions i = 1..K), the best of a random
    k-subset is trial i with probability C(i - 1, k - 1) / C(K, k). Ties in the selection score
    keep the earlier trial as better (the tuner's rule: first one on ties).
    """
    pairs = [(s, r) for s, r in zip(selection, reported) if s is not None and not math.isnan(s)]
    K = len(pairs)
    if not 1 <= k <= K:
        return math.nan
    sign = 1.0 if direction == "max" else -1.0
    order = sorted(range(K), key=lambda i: (sign * pairs[i][0], -i))  # worst first; earlier wins ties
    total = math.comb(K, k)
    return sum(math.comb(pos, k - 1) / total * pairs[i][1] for pos, i in enumerate(order))
