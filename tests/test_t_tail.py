"""regsuite.t_tail: the scipy-free Student-t tail that Holm's decisions are taken on (within a margin)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from regsuite.t_tail import MARGIN, MAX_DF, REL_ERROR, critical_values, log_tail


def test_closed_forms_for_one_and_two_degrees_of_freedom():
    # df = 1 (Cauchy): p = 2 P(T > t) = 1 - 2 atan(t) / pi; t = 1 gives 1/2, t = tan(0.475 pi) gives 0.05.
    t = np.array([1.0, math.tan(0.475 * math.pi), 3.0, 1e4])
    log_p, ok = log_tail(t, np.ones(4))
    assert ok.all()
    assert np.exp(log_p) == pytest.approx([0.5, 0.05, 1 - 2 * math.atan(3) / math.pi,
                                           1 - 2 * math.atan(1e4) / math.pi], rel=1e-13)
    # df = 2: p = 1 - t / sqrt(t^2 + 2); t = sqrt(2) gives 1 - 1/sqrt(2), t = 7 gives 1 - 7/sqrt(51).
    log_p, ok = log_tail(np.array([math.sqrt(2), 7.0, 0.1]), np.full(3, 2.0))
    assert ok.all()
    assert np.exp(log_p) == pytest.approx([1 - 1 / math.sqrt(2), 1 - 7 / math.sqrt(51),
                                           1 - 0.1 / math.sqrt(2.01)], rel=1e-13)


def test_agrees_with_scipy_within_the_stated_error_over_the_whole_range():
    stdtr = pytest.importorskip("scipy.special").stdtr
    rng = np.random.default_rng(3)
    n = 60_000
    df = np.exp(rng.uniform(0, math.log(MAX_DF), n))
    df[:2000] = np.round(df[:2000])  # whole numbers, the case of equal variances
    t = np.exp(rng.uniform(math.log(1e-3), math.log(1e4), n))
    log_p, ok = log_tail(t, df)
    assert ok.mean() > 0.999
    p = 2 * stdtr(df, -t)
    usable = ok & (p > 0)  # (scipy underflows to 0 below 1e-308; the log does not)
    assert usable.mean() > 0.8
    assert np.max(np.abs(np.expm1(log_p[usable] - np.log(p[usable])))) < REL_ERROR
    assert MARGIN >= 100 * REL_ERROR


def test_outside_the_validated_range_it_says_so():
    log_p, ok = log_tail(np.array([2.0, 2.0, np.inf, 0.0, np.nan]), np.array([0.5, 2 * MAX_DF, 3.0, 3.0, 3.0]))
    assert not ok.any() and np.isnan(log_p).all()


def test_critical_values_are_on_the_safe_side_and_close():
    stdtr = pytest.importorskip("scipy.special").stdtr
    df = 2.0 ** (np.arange(0, 1000, 7) / 64)
    for level in (1e-12, 6e-7, 1e-3, 0.05, 0.5):
        below, above = critical_values(df, level, "below"), critical_values(df, level, "above")
        assert np.isfinite(below).all() and np.isfinite(above).all()
        p_below, p_above = 2 * stdtr(df, -below), 2 * stdtr(df, -above)
        assert (p_below < level).all() and (p_above > level).all()
        # within about 1e-6 of the level: the thresholds decide nearly every pair they can
        assert np.abs(p_below / level - 1).max() < 2e-6 and np.abs(p_above / level - 1).max() < 2e-6
    assert np.isnan(critical_values(df, 1.0, "above")).all()  # no level to decide against
