"""Training-set class counts: what long-tail losses read, under the capability ``"class-prior"``.

Long-tail losses (logit adjustment, LDAM, VS, class-balanced weights) need the number of training
examples of each class, n_j, and the prior pi_j = n_j / sum_k n_k. The shared loop
(:func:`regsuite.loop.train_supervised`) publishes them for every task that passes it its training
set (``train=``): after data selection, over the examples the run actually trains on, under
``state.extras["class_counts"]``. A task whose training labels are deliberately imbalanced declares
``"class-prior"`` in ``provides``; a method that reads the counts declares it in ``requires``, so it
never runs where they are absent or meaningless. Counts are read from labels only: no method sees
validation or test data through them.
"""

from __future__ import annotations

from typing import Any

CAPABILITY = "class-prior"
KEY = "class_counts"


def publish(state, labels) -> None:
    """Store the class counts of ``labels`` (integer class indices, a 1-D tensor) on the run's state."""
    import torch

    if labels.dtype in (torch.int64, torch.int32, torch.int16, torch.uint8) and labels.dim() == 1 and len(labels):
        state.extras[KEY] = torch.bincount(labels.long().cpu()).double()


def class_counts(state, num_classes: int, like: Any = None):
    """n_j for j < ``num_classes`` as a float tensor (on ``like``'s device and dtype when given).

    A class without training examples counts as one: its log prior stays finite, and a loss that
    divides by n_j treats it as the rarest class instead of failing.
    """
    import torch

    counts = state.extras.get(KEY)
    if counts is None:
        raise RuntimeError(
            "no class counts on this run: the method requires 'class-prior', which a task provides by "
            "passing its training set to train_supervised (train=)"
        )
    if len(counts) > num_classes:
        raise ValueError(f"training labels reach class {len(counts) - 1}, but the model outputs {num_classes} classes")
    full = torch.ones(num_classes, dtype=torch.float64)
    full[: len(counts)] = counts.clamp(min=1)
    if like is not None:
        full = full.to(device=like.device, dtype=like.dtype)
    return full


def log_prior(counts):
    """log pi_j = log(n_j / sum_k n_k)."""
    return (counts / counts.sum()).log()
