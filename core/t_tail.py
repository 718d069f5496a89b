"""Student-t tail probabilities without scipy, accurate enough to *decide* comparisons, never to print.

``regsuite results`` ranks every pair of a task's methods with Welch's test and Holm's step-down.
Almost every decision there is "is this pair's p-value below (or above) that level?", which needs the
tail only to a few digits more than the margin the decision keeps. Importing ``scipy.special`` for it
costs 0.15-0.3 s CPU (it pulls in ``numpy.f2py``, ``unittest`` and ``charset_normalizer``), more than the
ranking itself. So the ranking asks this module first and imports scipy only for what stays ambiguous
(a pair within the margin of a threshold, or outside this module's validated range); every p-value
that is printed still comes from ``scipy.special.stdtr``.

The two-sided tail of Student's t with ``df`` degrees of freedom is a regularized incomplete beta
function (DLMF 8.17.2 with x = df / (df + t^2)):

    p = 2 P(T > |t|) = I_x(df / 2, 1 / 2),

evaluated by its continued fraction (DLMF 8.17.22), which converges quickly for
x < (a + 1) / (a + b + 2), i.e. t^2 > 3 df / (df + 2); elsewhere (p above about 0.1) as
1 - I_(1-x)(1/2, df/2), whose fraction converges there. Each result comes with an ``ok`` mask: False
where the fraction did not converge or df is outside [1, :data:`MAX_DF`]; the caller then asks scipy. ``tests/test_t_tail.py`` checks the relative error against scipy below :data:`REL_ERROR` over
that whole range; callers keep a margin (:data:`MARGIN`) 500 times larger.
"""

from __future__ import annotations

import math

MAX_DF = 1e5  # validated up to here (Welch's df is at most n_a + n_b - 2)
REL_ERROR = 2e-11  # what the tests require against scipy.special.stdtr (1e-12 seen up to df 1e4)
MARGIN = 1e-8  # relative margin every decision taken on these values keeps
_TERMS = 400  # continued-fraction terms at most; unconverged entries are not ok
_TINY = 1e-300


def log_tail(t_abs, df):
    """``(log p, ok)`` with p = 2 * stdtr(df, -|t|), elementwise over arrays; see the module text."""
    import numpy as np

    t_abs = np.asarray(t_abs, float)
    df = np.asarray(df, float)
    with np.errstate(all="ignore"):
        t2 = t_abs * t_abs
        ok = np.isfinite(t2) & (t2 > 0) & (df >= 1) & (df <= MAX_DF)
        t2, df = np.where(ok, t2, 4.0), np.where(ok, df, 2.0)
        a = 0.5 * df
        x, y = df / (df + t2), t2 / (df + t2)  # y = 1 - x
        # Where x >= (a + 1) / (a + b + 2) (p above about 0.1) the fraction for I_x(a, b) converges
        # slowly; there p = 1 - I_y(b, a), whose fraction converges fast, and p is not small.
        flip = t2 * (df + 2) <= 3 * df
        # log of x^a (1 - x)^b / B(a, b), b = 1/2; log x = -log1p(t^2 / df) keeps a * log x exact
        # for large a, where log(df) - log(df + t^2) would cancel.
        lbeta = 0.5 * math.log(math.pi) - _log_gamma_ratio(a)
        log_front = -a * np.log1p(t2 / df) + 0.5 * (np.log(t2) - np.log(df + t2)) - lbeta
        log_cf, converged = _log_fraction(np.where(flip, 0.5, a), np.where(flip, a, 0.5), np.where(flip, y, x))
        log_direct = log_front - np.where(flip, math.log(0.5), np.log(a)) - log_cf
        log_p = np.where(flip, np.log1p(-np.exp(log_direct)), log_direct)
    ok &= converged & np.isfinite(log_p)
    return np.where(ok, log_p, np.nan), ok


def _log_gamma_ratio(a):
    """log(Gamma(a + 1/2) / Gamma(a)) elementwise, vectorized (numpy has no lgamma): the asymptotic
    series (DLMF 5.11.13; its error is below 1e-14 from a = 20 on) at a + n >= 20, brought back down by
    Gamma(z + 3/2) / Gamma(z + 1) = (z + 1/2) / z * Gamma(z + 1/2) / Gamma(z)."""
    import numpy as np

    n = max(0, math.ceil(20 - float(a.min()))) if a.size else 0
    z = a + n
    out = 0.5 * np.log(z) - 1 / (8 * z) + 1 / (192 * z**3) - 1 / (640 * z**5) + 17 / (14336 * z**7)
    for i in range(n):
        out -= np.log1p(0.5 / (a + i))
    return out


def _log_fraction(a, b, x):
    """log of 1 + d1/(1 + d2/(1 + ...)), the continued fraction of I_x(a, b) (DLMF 8.17.22), by the
    modified Lentz method; and where it converged."""
    import numpy as np

    shape = x.shape
    a, b, x = (np.broadcast_to(v, shape).ravel() for v in (a, b, x))
    f_all = np.ones(x.size)
    done_all = np.zeros(x.size, bool)
    active = np.arange(x.size)  # entries still iterating: most converge in a few dozen terms
    f, c, d = np.ones(x.size), np.ones(x.size), np.zeros(x.size)
    for j in range(1, _TERMS + 1):
        m = j // 2
        if j % 2:  # d_{2m+1}
            coef = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        else:  # d_{2m}
            coef = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        d = 1 + coef * d
        d = np.where(np.abs(d) < _TINY, _TINY, d)
        c = 1 + coef / c
        c = np.where(np.abs(c) < _TINY, _TINY, c)
        d = 1 / d
        step = c * d
        f = f * step
        done = np.abs(step - 1) < 1e-16
        if done.any():
            f_all[active[done]] = f[done]
            done_all[active[done]] = True
            keep = ~done
            if not keep.any():
                break
            active, a, b, x, f, c, d = (v[keep] for v in (active, a, b, x, f, c, d))
    f_all = f_all.reshape(shape)
    return np.log(f_all), done_all.reshape(shape) & np.isfinite(f_all) & (f_all > 0)


def critical_values(df, level, side: str):
    """|t| thresholds for ``df`` (array) at the two-sided ``level``, checked with :func:`log_tail`:

    ``side="below"``: a threshold c with p(c) < level (1 - 10 MARGIN), so |t| > c means p < level;
    ``side="above"``: p(c) > level (1 + 10 MARGIN), so |t| < c means p > level. NaN where no checked
    threshold was found (no decision). Newton's method on log p in log |t|, from inside the bracket
    [normal quantile, the tail's power-law bound], which holds the root: the t tail is heavier than
    the normal one and lighter than c_df df^((df+1)/2) |t|^(-df) / df.
    """
    import numpy as np
    from statistics import NormalDist

    df = np.asarray(df, float)
    below = side == "below"
    target = level * (1 - 100 * MARGIN) if below else level * (1 + 100 * MARGIN)
    if not 0 < target < 1:
        return np.full(df.shape, np.nan)
    log_target = math.log(target)
    a = 0.5 * df
    log_c = _log_gamma_ratio(a) - 0.5 * np.log(df * math.pi)
    lo = np.full(df.shape, math.log(NormalDist().inv_cdf(1 - target / 2)))
    hi = (math.log(2) + log_c + 0.5 * (df - 1) * np.log(df) - log_target) / df  # log of the power-law bound
    s = np.minimum(0.5 * (lo + hi), lo + 3.0)
    for _ in range(12):
        t = np.exp(s)
        log_p, ok = log_tail(t, df)
        # d log p / d log t = -2 t f(t) / p, f the density: log f = log c - (df + 1)/2 log1p(t^2 / df)
        log_f = log_c - 0.5 * (df + 1) * np.log1p(t * t / df)
        slope = -2 * np.exp(s + log_f - np.where(ok, log_p, 0.0))
        step = (log_p - log_target) / slope
        new = np.clip(s - np.where(ok, step, 0.0), lo, np.maximum(hi, lo))
        moved = np.abs(new - s)
        s = new
        if not (moved > 1e-13).any():  # converged (in log |t|) everywhere
            break
    crit = np.exp(s)
    crit = crit * (1 + 1e-9) if below else crit * (1 - 1e-9)  # to the safe side of the root
    log_p, ok = log_tail(crit, df)
    limit = math.log(level) + (math.log1p(-10 * MARGIN) if below else math.log1p(10 * MARGIN))
    good = ok & ((log_p < limit) if below else (log_p > limit))
    return np.where(good, crit, np.nan)
