"""MNIST-1D (Greydanus 2020) for the continual streams, generated procedurally.

The ``mnist1d`` package builds each example from one of ten 1-D digit templates with random
padding, translation, scaling, shear and correlated + iid noise. We call its generator
(``mnist1d.data.make_dataset``) with fixed arguments and never ``get_dataset``, whose default
path downloads a pickle. The generator and its fixed arguments are shared with the vision suite
(``regsuite.suites.mnist1d_data``); the data depend on nothing but the pinned package version.
"""

from __future__ import annotations

import functools

import numpy as np

from ..mnist1d_data import ARGS, LENGTH, load  # noqa: F401  (ARGS: the generator's fixed arguments)

VAL_SIZE = 800


@functools.lru_cache(maxsize=1)
def mnist1d_splits() -> dict:
    """{"train"|"val"|"test": (x float32 (N, 40), y int64)}: 4,000 / 800 / 1,200 examples.

    The signals are standardised with the training split's mean and standard deviation.
    """
    raw = load(None)
    x, y = np.asarray(raw["x"], np.float32), np.asarray(raw["y"], np.int64)
    x_test, y_test = np.asarray(raw["x_test"], np.float32), np.asarray(raw["y_test"], np.int64)
    train, val = slice(0, len(x) - VAL_SIZE), slice(len(x) - VAL_SIZE, len(x))
    mean, std = x[train].mean(), x[train].std()

    def norm(a):
        return (a - mean) / std

    return {"train": (norm(x[train]), y[train]), "val": (norm(x[val]), y[val]), "test": (norm(x_test), y_test)}
