"""Soft classification targets: the ``batch["y_soft"]`` convention of augmentations, losses, tasks.

A transform may add ``batch["y_soft"]``, an (N, K) matrix of target probabilities
(mixup, CutMix, label smoothing). Every loss here is written per class, as the
matrix ``L[i, k]`` = loss of example i if its label were k, and reduced with the
expected value under the targets: ``mean_i sum_k y_soft[i, k] L[i, k]``. With hard
labels that is ``mean_i L[i, y_i]``; with mixup it is the paper's
``lam * L(y_a) + (1 - lam) * L(y_b)``. Soft targets therefore compose with every loss.
"""

from __future__ import annotations


def num_classes(batch: dict, state) -> int:
    """K, the number of classes: from existing soft targets, else by probing the model once.

    The probe runs the task's forward on one example in eval mode without gradients (so it
    neither changes batch-norm statistics nor draws random numbers) and caches K in
    ``state.extras``.
    """
    import torch

    if "y_soft" in batch:
        return int(batch["y_soft"].shape[-1])
    cached = state.extras.get("num_classes")
    if cached:
        return cached
    model = state.model
    was_training = model.training
    model.eval()
    with torch.no_grad():
        probe = {k: v[:1] for k, v in batch.items() if isinstance(v, torch.Tensor) and v.dim() > 0}
        k = int(state.forward(model, probe).shape[-1])
    model.train(was_training)
    state.extras["num_classes"] = k
    return k


def other_classes(values):
    """(N, K, K) from (N, K): row k holds example i's values with class k's own set to -inf, so a
    reduction over the last axis (``logsumexp``, ``max``) runs over the other classes j != k."""
    import torch

    k = values.shape[-1]
    own = torch.eye(k, dtype=torch.bool, device=values.device)
    return values.unsqueeze(-2).masked_fill(own, float("-inf"))


def soft_targets(batch: dict, k: int):
    """The (N, K) target matrix: ``y_soft`` when present, else one-hot labels."""
    import torch.nn.functional as F

    if "y_soft" in batch:
        return batch["y_soft"]
    return F.one_hot(batch["y"], k).float()


def expected_loss(per_class, batch: dict):
    """mean_i sum_k q[i, k] * per_class[i, k], with q the soft targets (hard labels: a gather)."""
    if "y_soft" in batch:
        return (batch["y_soft"] * per_class).sum(-1).mean()
    return per_class.gather(1, batch["y"].view(-1, 1)).mean()


def weighted_expected_loss(per_class, batch: dict, class_weights):
    """The class-weighted mean: sum_i sum_k q[i, k] w_k L[i, k] / sum_i sum_k q[i, k] w_k.

    With hard labels that is torch's ``cross_entropy(weight=w)`` reduction, sum_i w_{y_i} L_i /
    sum_i w_{y_i}; soft targets weight each class's share of an example the same way.
    """
    if "y_soft" in batch:
        weighted = batch["y_soft"] * class_weights
        return (weighted * per_class).sum() / weighted.sum()
    y = batch["y"].view(-1, 1)
    w = class_weights[batch["y"]]
    return (w * per_class.gather(1, y).squeeze(1)).sum() / w.sum()


def soft_cross_entropy(logits, batch: dict):
    """Cross-entropy against soft targets when present, the usual hard-label one otherwise."""
    import torch.nn.functional as F

    if "y_soft" in batch:
        return -(batch["y_soft"] * F.log_softmax(logits, -1)).sum(-1).mean()
    return F.cross_entropy(logits, batch["y"])
