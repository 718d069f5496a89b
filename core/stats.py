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
from functools import lru_cache
from statistics import NormalDist
from typing import Sequence

ALPHA = 0.05


def finite(values) -> list[float]:
    """The finite floats among ``values``, in order (None, text and NaN/inf left out)."""
    if not isinstance(values, (list, tuple)):
        values = list(values)  # iterated twice when one value is not a number
    try:  # the common case, every value a number: one pass
        return [f for f in map(float, values) if math.isfinite(f)]
    except (TypeError, ValueError):
        pass
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


def dominance_ranks(samples: dict[str, Sequence[float]], direction: str, alpha: float = ALPHA,
                    decimals: int = 4) -> dict[str, int]:
    """Rank = 1 + the number of methods significantly better (Welch, Holm over all pairs).

    Methods with fewer than two finite values cannot be tested; among themselves and against the
    rest they are ordered by their mean rounded to ``decimals`` (the displayed precision), so two
    equal displayed values always share a rank. Methods without any finite value are left out.
    """
    import numpy as np

    sign = 1.0 if direction == "max" else -1.0
    kept = [(k, f) for k, f in ((k, finite(v)) for k, v in samples.items()) if f]
    if not kept:
        return {}
    names, vals = [k for k, _ in kept], [f for _, f in kept]
    pairs = _Pairs(vals, alpha)
    rejected, untested = pairs.holm_rejections(alpha)
    # Separated: rejected by Holm, or untestable, and with different displayed means.
    sep = np.concatenate([rejected, untested])
    a, b = pairs.i[sep], pairs.j[sep]
    shown = np.round(sign * pairs.mean, decimals)
    a_wins = shown[a] > shown[b]
    b_wins = shown[a] < shown[b]
    better = np.bincount(b[a_wins], minlength=len(names)) + np.bincount(a[b_wins], minlength=len(names))
    return {k: 1 + int(c) for k, c in zip(names, better)}


class _Pairs:
    """Welch's test for every pair of methods (i < j), reduced to what Holm's step-down needs.

    The rules are :func:`welch_p`'s: a pair with a side of fewer than two values is untested
    (``untested``: indices into ``i`` and ``j``); equal means (``np.isclose(rtol=1e-9,
    atol=1e-12)``) give p = 1; no spread on either side, with different means, p = 0
    (``zeros``); the others (``rest``) p = 2 stdtr(df, -|t|), computed only where a decision
    needs it. A pair whose |t| is under the normal quantile of ``alpha`` cannot have p < alpha
    (every t quantile exceeds it): it stays at p = 1 without its t. Per-method terms are
    computed once and indexed: the same operations on the same operands, so the same bits as
    computing them per pair.
    """

    def __init__(self, samples: list[list[float]], alpha: float) -> None:
        import numpy as np

        n = np.array([len(v) for v in samples], float)
        mean = np.array([sum(v) / len(v) for v in samples])
        var = np.array([sum((x - m) ** 2 for x in v) / (len(v) - 1) if len(v) > 1 else np.nan
                        for v, m in zip(samples, mean)])
        self.i, self.j = i, j = _upper_pairs(len(samples))
        self.mean, self.total = mean, len(i)
        z = NormalDist().inv_cdf(1 - alpha / 2) * (1 - 1e-9) if 0 < alpha < 1 else 0.0  # margin: keep borderline pairs
        # The common case skips whole passes: no method with under two values, almost no spread, or
        # an infinite mean (then no pair is untested, flat, or equal only by ==).
        share = var / n  # each side's part of the squared standard error
        all_testable = bool((n >= 2).all())
        may_be_flat = bool(np.nanmin(share, initial=np.inf) <= 1e-24)  # se2 <= 1e-24 needs both shares there
        with np.errstate(invalid="ignore", over="ignore"):
            se2 = share[i] + share[j]
            diff = mean[i] - mean[j]
            # Pairs that need a look: |t| above z (or NaN: untestable), or no spread (compared exactly).
            look = ~(diff * diff <= (z * z) * se2)
            if may_be_flat:
                look |= se2 <= 1e-24
            look = np.flatnonzero(look)
        i, j, se2, diff = i[look], j[look], se2[look], diff[look]
        testable = (n[i] >= 2) & (n[j] >= 2) if not all_testable else None
        with np.errstate(invalid="ignore"):
            tol = np.where(np.isfinite(mean), 1e-12 + 1e-9 * np.abs(mean), np.nan)  # np.isclose's, per method
            same = np.abs(diff) <= tol[j]
            if not np.isfinite(mean).all():
                same |= mean[i] == mean[j]
        flat = se2 <= 1e-24 if may_be_flat else None  # np.isclose(se2, 0, rtol=0, atol=1e-24), as se2 >= 0
        empty = np.zeros(0, int)
        self.untested = look[~testable] if testable is not None else empty
        if flat is not None:
            zero = flat & ~same if testable is None else testable & flat & ~same
            self.zeros = look[zero]
            rest = ~same & ~flat
        else:
            self.zeros, rest = empty, ~same
        if testable is not None:
            rest &= testable
        self.rest = look[rest]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            se2 = se2[rest]
            self.t = diff[rest] / np.sqrt(se2)
            spread = share**2 / (n - 1)
            self.df = se2**2 / (spread[i[rest]] + spread[j[rest]])

    def holm_rejections(self, alpha: float):
        """(rejected, untested) pair indices: Holm at ``alpha`` (q < alpha), exactly as sorting every p.

        Sorted p_(0) <= p_(1) <= ..., q_(r) = max over s <= r of min(1, (m - s) p_(s)), m the
        number of tested pairs. Most tail probabilities are never computed: a pair with
        p < alpha / m is rejected whatever its position, since (m - s) p <= m p < alpha, and such
        pairs all come first, so the others' positions only need their number; the step-down stops
        at the first q >= alpha, so once it stops among the pairs below a bound u, no pair above u
        is rejected. Only the pairs between alpha / m and u (about 1,700 of a 400-method task's
        79,800) get a tail probability and are sorted; u doubles until the stop is found or reaches
        alpha.

        Those tail probabilities come first from :mod:`regsuite.t_tail` (no scipy import): the
        decisions are taken on them only if every comparison they enter (with alpha / m, with u,
        and each (m - s) p with alpha) clears its threshold by the module's margin, a thousand times
        its error; then sorting the true values would give the same decisions (each order statistic
        of the true p is within the margin of the approximate one). Otherwise, or for a pair the
        module cannot compute, ``scipy.special.stdtr`` decides, as before.
        """
        import numpy as np

        from .t_tail import MARGIN, log_tail

        def approximate(idx):
            log_p, ok = log_tail(np.abs(self.t[idx]), self.df[idx])
            p = np.exp(log_p)
            if not ok.all():
                p[~ok] = _exact_tail(self.t[idx[~ok]], self.df[idx[~ok]])
            return p

        if len(self.t):
            got = self._step_down(alpha, approximate, 4 * MARGIN)
            if got is not None:
                return got
        return self._step_down(alpha, lambda idx: _exact_tail(self.t[idx], self.df[idx]), 0.0)

    def _step_down(self, alpha: float, tail, margin: float):
        """Holm's decisions with ``tail(pair indices) -> p``; None if a comparison came within ``margin``
        (relative) of its threshold, when ``margin`` > 0: then only exact tails can decide."""
        import numpy as np

        def near(values, threshold) -> bool:
            return margin > 0 and bool(np.any(np.abs(values - threshold) <= margin * threshold))

        t, df = self.t, self.df
        p = np.full(len(t), np.nan)
        # Pairs the df grid cannot bound are computed first: a NaN p leaves the family (changes m).
        odd_mask = ~(np.isfinite(df) & (df >= 1) & np.isfinite(t))
        odd = np.flatnonzero(odd_mask)
        if len(odd):
            p[odd] = _exact_tail(t[odd], df[odd])
        lost = odd[np.isnan(p[odd])]
        untested = np.concatenate([self.untested, self.rest[lost]])
        m = self.total - len(untested)
        if m == 0 or not alpha < 1:  # (every q is at most 1: every tested pair is rejected)
            everyone = np.ones(self.total, bool) if alpha >= 1 else np.zeros(self.total, bool)
            everyone[untested] = False
            return np.flatnonzero(everyone), untested
        y = alpha / m * (1 - 1e-6)  # margin: m * p < alpha holds in floating point below y
        pending = np.flatnonzero(~odd_mask)  # no p yet
        t_abs, level = np.abs(t[pending]), _df_levels(df[pending])
        rejected = np.zeros(len(t), bool)
        known = odd  # the pairs with a p
        u, low = y, None
        # A few thousand tail probabilities cost less than finding the grid's critical values.
        grid = len(pending) > _DIRECT_MAX
        while True:
            u = min(2 * u, alpha)
            above = surely("above", t_abs, level, u) if grid and u < alpha else np.zeros(len(pending), bool)
            below = np.zeros(len(pending), bool)
            if low is None and grid:
                below[~above] = surely("below", t_abs[~above], level[~above], y)
                rejected[pending[below]] = True
            exact = pending[~above & ~below]
            if len(exact):
                p[exact] = tail(exact)
            known = np.concatenate([known, exact])
            pending, t_abs, level = pending[above], t_abs[above], level[above]
            if low is None:  # every p below y is known now (none is above u > y): positions 0 .. low - 1
                if near(p[known], y):
                    return None
                rejected[known[p[known] < y]] = True
                low = len(self.zeros) + int(rejected.sum())
            band = known[(p[known] >= y) & (p[known] < u)]
            if u < alpha and near(p[known], u):
                return None
            order = band[np.argsort(p[band])]  # ties get the same q in any order (running max)
            products = (m - low - np.arange(len(order))) * p[order]
            if near(products, alpha):
                return None
            q = np.maximum.accumulate(np.minimum(1.0, products))
            rejected[order] = q < alpha
            if u >= alpha or (len(q) and q[-1] >= alpha):
                break
        return np.concatenate([self.zeros, self.rest[rejected]]), untested


def _exact_tail(t, df):
    """2 stdtr(df, -|t|), what scipy.stats.t.sf computes; imported only when a decision needs it."""
    import numpy as np
    from scipy.special import stdtr

    return 2 * stdtr(df, -np.abs(t))


def _df_levels(df):
    """floor(64 log2 df), the df grid cell; NaN where the grid is not used (df < 1, inf, NaN)."""
    import numpy as np

    with np.errstate(divide="ignore", invalid="ignore"):
        level = np.floor(_GRID_STEPS * np.log2(df))
    level[~(np.isfinite(df) & (df >= 1))] = np.nan
    return level


_DIRECT_MAX = 20_000  # pairs below alpha up to which every tail is computed, without the df grid
_GRID_STEPS = 64  # df grid points per doubling: 2 ** (k / 64), k = 0, 1, ...
_GRID_TOP = 30 * _GRID_STEPS  # the grid ends at df = 2 ** 30


def surely(side: str, t_abs, level, y: float):
    """Mask of the pairs whose two-sided p-value ``2 * stdtr(df, -|t|)`` is certainly below ``y``
    (``side="below"``) or certainly at least ``y`` (``side="above"``), without computing it.

    ``level`` is :func:`_df_levels` of df. The t tail is decreasing in |t| and in df: with df
    moved to a grid point g below it (for "below") or above it (for "above"), a few per task,
    comparing |t| with the critical value at g decides the pair. The critical values come from
    :func:`regsuite.t_tail.critical_values` (checked there with a margin of 1e-7 in probability, ten
    thousand times the tail's error) and are kept per (side, y, g): the tasks of one results table
    mostly share their number of pairs, hence y. A pair the grid cannot decide is left undecided (False).
    """
    import numpy as np

    below = side == "below"
    # One grid step of margin: log2's rounding can never put g on the wrong side of df.
    k = level - 1 if below else level + 2
    with np.errstate(invalid="ignore"):
        valid = (k >= 0) & (k <= _GRID_TOP)  # False for NaN
    if not valid.any() or not 0 < y < 1:
        return np.zeros(len(k), bool)
    k = np.where(valid, k, 0).astype(int)
    used = np.flatnonzero(np.bincount(k[valid]))
    table = np.full(int(used.max()) + 1, np.nan)  # NaN compares False: no decision
    # The level moved to the safe side, onto a grid of 32 levels per doubling (|t| > c for a lower level
    # still means p < y; |t| < c for a higher one, p >= y): tasks with other numbers of pairs share them.
    step = math.floor(_LEVEL_STEPS * math.log2(y)) + (-1 if below else 1)
    level = min(2.0 ** (step / _LEVEL_STEPS), 1.0)
    level = level if (level < y if below else level > y) else y  # (log2's rounding: never the wrong side)
    table[used] = _critical(side, level, used)
    with np.errstate(invalid="ignore"):
        return valid & ((t_abs > table[k]) if below else (t_abs < table[k]))


_LEVEL_STEPS = 32  # levels per doubling that critical values are computed for
_CRITICAL: dict = {}  # (side, y, grid index) -> |t| threshold; NaN: none found


def _critical(side: str, y: float, used):
    """Critical values at the grid points ``used`` (indices), computed once per process."""
    import numpy as np

    from .t_tail import critical_values

    if any((side, y, g) not in _CRITICAL for g in used.tolist()):
        if len(_CRITICAL) > 200_000:
            _CRITICAL.clear()
        missing = [g for g in used.tolist() if (side, y, g) not in _CRITICAL]
        crit = critical_values(2.0 ** (np.array(missing) / _GRID_STEPS), y, side)
        _CRITICAL.update(((side, y, g), c) for g, c in zip(missing, crit.tolist()))
    return np.array([_CRITICAL[side, y, g] for g in used.tolist()])


@lru_cache(maxsize=8)
def _upper_pairs(k: int):
    """``np.triu_indices(k, 1)``, kept: a results table scores many tasks with the same methods."""
    import numpy as np

    i, j = np.triu_indices(k, 1)
    i.flags.writeable = j.flags.writeable = False
    return i, j


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
