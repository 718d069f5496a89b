"""Modular-arithmetic tables: every pair (a, b) in [0, p)^2 labelled with (a op b) mod p.

The split is fixed (independent of the run seed): a random ``train_fraction`` of the p^2
pairs is the training set, the rest is halved into validation and test.
"""

from __future__ import annotations

import numpy as np


def _inverse(b, p):
    """Multiplicative inverses mod a prime p (Fermat: b^(p-2)), elementwise for b in 1..p-1."""
    return np.array([pow(int(v), p - 2, p) for v in np.ravel(b)], dtype=np.int64).reshape(np.shape(b))


OPERATIONS = {
    "add": lambda a, b, p: (a + b) % p,
    "sub": lambda a, b, p: (a - b) % p,
    "mul": lambda a, b, p: (a * b) % p,
    "div": lambda a, b, p: (a * _inverse(b, p)) % p,
    "square-sum": lambda a, b, p: (a * a + b * b) % p,
    "quad": lambda a, b, p: (a * a + a * b + b * b) % p,
    # Power et al. 2022's mixed rule: a / b for odd b, a - b for even b
    "div-or-sub": lambda a, b, p: np.where(b % 2 == 1, (a * _inverse(np.maximum(b, 1), p)) % p, (a - b) % p),
}
# Operations whose second operand must be nonzero (division): their table has p (p - 1) pairs.
NONZERO_SECOND = frozenset({"div", "div-or-sub"})


def table(p: int, operation: str) -> tuple[np.ndarray, np.ndarray]:
    """x: int64 (p^2, 2) pairs in row-major order (a major), y: int64 (p^2,) results."""
    if operation not in OPERATIONS:
        raise ValueError(f"unknown operation {operation!r}; known: {', '.join(OPERATIONS)}")
    second = np.arange(1 if operation in NONZERO_SECOND else 0, p, dtype=np.int64)
    a, b = np.meshgrid(np.arange(p, dtype=np.int64), second, indexing="ij")
    a, b = a.ravel(), b.ravel()
    return np.stack([a, b], 1), OPERATIONS[operation](a, b, p)


def splits(p: int, operation: str, train_fraction: float, seed: int = 0):
    """{"train"|"val"|"test": (x, y)}; val and test split the held-out pairs in half."""
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train fraction must be in (0, 1), got {train_fraction}")
    x, y = table(p, operation)
    order = np.random.RandomState(seed).permutation(len(x))
    n_train = int(round(train_fraction * len(x)))
    rest = order[n_train:]
    va, te = rest[: len(rest) // 2], rest[len(rest) // 2 :]
    tr = order[:n_train]
    return {"train": (x[tr], y[tr]), "val": (x[va], y[va]), "test": (x[te], y[te])}


def one_hot(x: np.ndarray, p: int) -> np.ndarray:
    """(N, 2) operand pairs -> (N, 2, p) float32 one-hot codes."""
    return np.eye(p, dtype=np.float32)[x]
