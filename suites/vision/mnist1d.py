"""MNIST-1D splits for the vision suite, and symmetric label noise (the arrays: regsuite.suites.mnist1d_data)."""

from __future__ import annotations

import numpy as np

from ..mnist1d_data import ARGS, CLASSES, arrays_digest, args_digest, generate, load  # noqa: F401

VAL_SIZE = 800


def splits(cache_dir: str | None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{"train"|"val"|"test": (x of shape (N, 1, 40), y)}: 4,000 / 800 / 1,200, fixed for every run."""
    arrays = load(cache_dir)
    x, y = arrays["x"][:, None, :], arrays["y"]
    order = np.random.RandomState(0).permutation(len(x))
    va, tr = order[:VAL_SIZE], order[VAL_SIZE:]
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
