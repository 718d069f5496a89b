"""Training-data selection (``regsuite_select_training_data``): what the hook sees, and the checks
on what it returns.

:func:`regsuite.loop.train_supervised` builds a :class:`TrainingSet` from the task's training
tensors, calls :func:`select_training_data` once before the batch stream exists, and then streams
only the selected examples. The hook's specification is in :mod:`regsuite.hookspec`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

# The capability a task provides when its loop calls regsuite_select_training_data.
CAPABILITY = "data_selection"


class SelectionError(ValueError):
    """A data-selection method returned something that is not a usable index set."""


@dataclass
class TrainingSet:
    """The whole training set of a run, and how the task trains on it.

    ``tensors`` are CPU tensors indexed along dimension 0; ``make_model()`` returns a freshly
    initialised model on the run's device; ``make_batches(tensors, generator)`` is the task's
    infinite batch stream (augmentation included) over any dict of such tensors. ``steps`` and
    ``samples`` count what the selecting method spent on scoring trainings (see :meth:`charge`).
    """

    tensors: dict
    make_model: Callable[[], Any]
    make_batches: Callable[[dict, Any], Iterator[dict]]
    batch_size: int
    steps: int = 0
    samples: int = 0

    def __len__(self) -> int:
        return len(next(iter(self.tensors.values())))

    def subset(self, indices) -> dict:
        """The training tensors restricted to ``indices`` (each example keeps its ``"index"``)."""
        return {k: v[indices] for k, v in self.tensors.items()}

    def charge(self, steps: int, samples: int | None = None) -> None:
        """Count ``steps`` optimizer steps (and ``samples`` examples; default steps x batch size)
        of scoring training into the run's cost."""
        if steps < 0 or (samples is not None and samples < 0):
            raise ValueError("charged steps and samples must be non-negative")
        self.steps += int(steps)
        self.samples += int(steps) * self.batch_size if samples is None else int(samples)


def check_indices(value, n: int, batch_size: int, who: str):
    """``value`` as a sorted 1-D int64 tensor of distinct indices into ``range(n)``, or None.

    Raises :class:`SelectionError` (one line naming ``who``) for anything else: a silently
    repeated, dropped or wrapped-around index would change which data the run trains on.
    """
    import numpy as np
    import torch

    if value is None:
        return None
    where = f"{who}: regsuite_select_training_data"
    if torch.is_tensor(value):
        array = value.detach().cpu().numpy()
    elif isinstance(value, (np.ndarray, list, tuple, range)):
        array = np.asarray(value)
    else:
        raise SelectionError(f"{where} returned {type(value).__name__}; expected None or a 1-D sequence of indices")
    if array.ndim != 1:
        raise SelectionError(f"{where} returned an array of shape {tuple(array.shape)}; expected 1-D indices")
    if array.size and not np.issubdtype(array.dtype, np.integer):  # bool masks are not indices
        raise SelectionError(f"{where} returned {array.dtype} values; expected integer indices")
    array = array.astype(np.int64)
    if array.size < batch_size:
        raise SelectionError(f"{where} kept {array.size} examples, fewer than one batch ({batch_size})")
    if array.min() < 0 or array.max() >= n:
        bad = int(array[(array < 0) | (array >= n)][0])
        raise SelectionError(f"{where} returned index {bad}, outside the training set (0..{n - 1})")
    unique = np.unique(array)
    if unique.size != array.size:
        raise SelectionError(f"{where} returned {array.size - unique.size} duplicate indices")
    return torch.from_numpy(unique)


def select_training_data(hooks, data: TrainingSet, state) -> tuple[Any, float]:
    """Call the run's selection hook; return ``(indices or None, seconds spent)``."""
    if not hooks.select_training_data:
        return None, 0.0
    t0 = time.perf_counter()
    value = hooks.select_training_data[0](data=data, state=state)
    seconds = time.perf_counter() - t0
    who = ", ".join(hooks.claimants("regsuite_select_training_data")) or "a method"
    return check_indices(value, len(data), data.batch_size, who), seconds
