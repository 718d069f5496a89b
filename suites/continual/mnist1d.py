"""MNIST-1D (Greydanus 2020) for the continual streams, generated procedurally.

The ``mnist1d`` package builds each example from one of ten 1-D digit templates with random
padding, translation, scaling, shear and correlated + iid noise. We call its generator
(``mnist1d.data.make_dataset``) with fixed arguments and never ``get_dataset``, whose default
path downloads a pickle. The arguments are the package's defaults except the sample count;
the data therefore depend on nothing but the pinned package version (``mnist1d==0.0.2.post1``).
Generation takes seconds, so the arrays are kept per process.
"""

from __future__ import annotations

import functools

import numpy as np

# The package's get_dataset_args() defaults, 6,000 examples instead of 5,000: the package holds
# out the last 20% (1,200) as test; the last 800 of its training part are our validation split.
ARGS = {
    "num_samples": 6000,
    "train_split": 0.8,
    "template_len": 12,
    "padding": [36, 60],
    "scale_coeff": 0.4,
    "max_translation": 48,
    "corr_noise_scale": 0.25,
    "iid_noise_scale": 2e-2,
    "shear_scale": 0.75,
    "shuffle_seq": False,
    "final_seq_length": 40,
    "seed": 42,
}
VAL_SIZE = 800
LENGTH = 40


def _generate() -> dict:
    """Run the package's generator with :data:`ARGS`, leaving python's and numpy's global RNGs as they were
    (the generator reseeds both)."""
    import random

    from mnist1d.data import make_dataset  # imports matplotlib: only when generating

    args = type("Args", (), {})()  # make_dataset reads attributes
    args.__dict__.update(ARGS)
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        return make_dataset(args)
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)


@functools.lru_cache(maxsize=1)
def mnist1d_splits() -> dict:
    """{"train"|"val"|"test": (x float32 (N, 40), y int64)}: 4,000 / 800 / 1,200 examples.

    The signals are standardised with the training split's mean and standard deviation.
    """
    raw = _generate()
    x, y = np.asarray(raw["x"], np.float32), np.asarray(raw["y"], np.int64)
    x_test, y_test = np.asarray(raw["x_test"], np.float32), np.asarray(raw["y_test"], np.int64)
    train, val = slice(0, len(x) - VAL_SIZE), slice(len(x) - VAL_SIZE, len(x))
    mean, std = x[train].mean(), x[train].std()

    def norm(a):
        return (a - mean) / std

    return {"train": (norm(x[train]), y[train]), "val": (norm(x[val]), y[val]), "test": (norm(x_test), y_test)}
