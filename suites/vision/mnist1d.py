"""MNIST-1D splits for the vision suite, and symmetric label noise (the arrays: regsuite.suites.mnist1d_data)."""

from __future__ import annotations

import numpy as np

from ..mnist1d_data import ARGS, CLASSES, HELD_OUT, arrays_digest, args_digest, generate, load  # noqa: F401

VAL_SIZE = 800
LARGE_VAL_SIZE = 5000  # of the held-out draw's 30,000; the other 25,000 are the large test set


def splits(cache_dir: str | None, large_eval: bool = False) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{"train"|"val"|"test": (x of shape (N, 1, 40), y)}, fixed for every run.

    Training is always the same 4,000 examples. Validation and test are the package's 800 / 1,200,
    or with ``large_eval`` 5,000 / 25,000 from the held-out draw (``mnist1d_data.HELD_OUT_ARGS``).
    """
    arrays = load(cache_dir)
    x, y = arrays["x"][:, None, :], arrays["y"]
    order = np.random.RandomState(0).permutation(len(x))
    va, tr = order[:VAL_SIZE], order[VAL_SIZE:]
    if large_eval:
        pool = load(cache_dir, HELD_OUT)
        px = np.concatenate([pool["x"], pool["x_test"]])[:, None, :]
        py = np.concatenate([pool["y"], pool["y_test"]])
        return {"train": (x[tr], y[tr]), "val": (px[:LARGE_VAL_SIZE], py[:LARGE_VAL_SIZE]),
                "test": (px[LARGE_VAL_SIZE:], py[LARGE_VAL_SIZE:])}
    return {"train": (x[tr], y[tr]), "val": (x[va], y[va]), "test": (arrays["x_test"][:, None, :], arrays["y_test"])}


def symmetric_noise(y: np.ndarray, rate: float, classes: int, seed: int = 0) -> np.ndarray:
    """Labels with exactly round(rate * n) of them replaced by a different class, uniformly.

    Which examples flip and to what depends only on ``seed`` (fixed per task, not per run), so
    every method trains on the same corrupted labels.
    """
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"noise rate must be in [0, 1], got {rate}")
    rng = np.random.RandomState(seed)
    noisy = y.copy()
    flip = rng.permutation(len(y))[: int(round(rate * len(y)))]
    # Adding 1..classes-1 modulo classes reaches each other class with equal probability.
    noisy[flip] = (y[flip] + rng.randint(1, classes, size=len(flip))) % classes
    return noisy
