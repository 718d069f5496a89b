"""The stored t_(0.975, df) table: closed forms by hand, then every entry against scipy, bit for bit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from regsuite.t_quantiles import MAX_TABULATED_DF, t975


def test_closed_forms_for_one_and_two_degrees_of_freedom():
    # df = 1 is the Cauchy distribution: F(t) = 1/2 + atan(t)/pi, so t_(0.975) = tan(0.475 pi).
    assert t975(1) == pytest.approx(math.tan(0.475 * math.pi), rel=1e-14)
    # df = 2: F(t) = 1/2 + t / (2 sqrt(2 + t^2)); with a = 2 * 0.975 - 1 = 0.95, t = a sqrt(2 / (1 - a^2)).
    assert t975(2) == pytest.approx(0.95 * math.sqrt(2 / (1 - 0.95**2)), rel=1e-14)


def test_textbook_values_and_the_normal_limit():
    got = t975(np.array([5, 10, 30, 100, 1000]))
    assert got == pytest.approx([2.571, 2.228, 2.042, 1.984, 1.962], abs=6e-4)  # printed t tables
    assert 1.959963984540054 < t975(MAX_TABULATED_DF) < t975(MAX_TABULATED_DF - 1)  # decreasing towards z


def test_every_tabulated_value_is_what_scipy_computes():
    special = pytest.importorskip("scipy.special")
    df = np.arange(1, MAX_TABULATED_DF + 1)
    assert np.array_equal(t975(df), special.stdtrit(df.astype(float), 0.975))


def test_beyond_the_table_scipy_answers():
    stats = pytest.importorskip("scipy.stats")
    df = np.array([3, 1001, 25_000])
    assert np.array_equal(t975(df), stats.t.ppf(0.975, df.astype(float)))


def test_scalar_in_scalar_out_and_bad_degrees_of_freedom():
    assert isinstance(t975(4), float) and t975(4.0) == t975(4)
    for bad in (0, -1, 2.5, np.array([1, 0])):
        with pytest.raises(ValueError, match="whole numbers >= 1"):
            t975(bad)
