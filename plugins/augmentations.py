"""Data augmentations (family ``augmentation``), implementing ``regsuite_transform_batch``."""

from __future__ import annotations

from regsuite import Claim, Citation, Fidelity, IntRange, LogUniform, Method, Uniform, hookimpl

from regsuite.soft_targets import num_classes, soft_targets


def cutout_mask(n: int, height: int, width: int, size: int, generator=None, device=None):
    """One square of side ``size`` per image, centred uniformly over the image (it may be clipped
    by the border, as in the paper); 0 inside the square, 1 elsewhere. Shape (n, 1, H, W)."""
    import torch

    cy = torch.randint(0, height, (n, 1, 1), generator=generator).to(device)
    cx = torch.randint(0, width, (n, 1, 1), generator=generator).to(device)
    rows = torch.arange(height, device=device).view(1, height, 1)
    cols = torch.arange(width, device=device).view(1, 1, width)
    lo_y, lo_x = cy - size // 2, cx - size // 2
    inside = (rows >= lo_y) & (rows < lo_y + size) & (cols >= lo_x) & (cols < lo_x + size)
    return (~inside).unsqueeze(1).float()


class Cutout(Method):
    """Cutout: zero out one random square patch of every training image.

    x' = x * M,  M = 0 on a size x size square with a uniformly drawn centre, 1 elsewhere.
    Applied with probability p per batch element. Written here (torchvision's RandomErasing
    draws rectangles inside the image, not centre-uniform clipped squares).
    """

    name = "cutout"
    claims = (
        Claim("CIFAR-10, CIFAR-100, and SVHN datasets, yielding new state-of-the-art results of 2.56%, 15.20%, "
              "and 1.30% test error respectively", "accuracy_delta", 0.0,
              "WRN / shake-shake on CIFAR-10/100 and SVHN (full tier here: CIFAR with local data; an absolute error, "
              "not a change a CPU task can measure)", task=None),
    )
    family = "augmentation"
    citation = Citation(
        "Improved Regularization of Convolutional Neural Networks with Cutout",
        "Terrance DeVries, Graham W. Taylor",
        2017,
        "https://arxiv.org/abs/1708.04552",
    )
    fidelity = Fidelity.faithful("paper", "one centre-uniform square per image, clipped at the border; size 16 is the paper's CIFAR-10 value")
    defaults = {"size": 16, "p": 1.0}
    space = {"size": IntRange(1, 32), "p": Uniform(0.0, 1.0)}
    requires = frozenset({"images"})

    @hookimpl
    def regsuite_transform_batch(self, batch, state):
        import torch

        x = batch["x"]
        n, _, h, w = x.shape
        mask = cutout_mask(n, h, w, self.hp["size"], device=x.device)
        if self.hp["p"] < 1.0:
            keep = torch.rand(n, 1, 1, 1, device=x.device) >= self.hp["p"]
            mask = torch.where(keep, torch.ones_like(mask), mask)
        return {**batch, "x": x * mask}


def cutmix_box(height: int, width: int, lam: float, generator=None):
    """The paper's box: side ratios sqrt(1 - lam), centre uniform over the image, clipped at the
    border. Returns (top, bottom, left, right) row/column bounds (bottom, right exclusive)."""
    import torch

    cut = (1.0 - lam) ** 0.5
    ch, cw = int(height * cut), int(width * cut)
    cy = int(torch.randint(0, height, (1,), generator=generator))
    cx = int(torch.randint(0, width, (1,), generator=generator))
    return max(cy - ch // 2, 0), min(cy + ch // 2, height), max(cx - cw // 2, 0), min(cx + cw // 2, width)


class Mixup(Method):
    """Mixup: train on convex combinations of pairs of examples and of their targets.

    lam ~ Beta(alpha, alpha); x' = lam x + (1 - lam) x[perm]; q' = lam q + (1 - lam) q[perm]
    (perm a random permutation of the batch, q the soft targets, added as ``batch["y_soft"]``).
    """

    name = "mixup"
    family = "augmentation"
    citation = Citation(
        "mixup: Beyond Empirical Risk Minimization",
        "Hongyi Zhang, Moustapha Cisse, Yann N. Dauphin, David Lopez-Paz",
        2018,
        "https://arxiv.org/abs/1710.09412",
    )
    fidelity = Fidelity.faithful("paper", "one lambda per batch, pairs from a permutation of the batch; alpha 0.2, inside the paper's ImageNet range 0.1-0.4")
    defaults = {"alpha": 0.2}
    space = {"alpha": LogUniform(0.01, 10.0)}
    requires = frozenset({"classification", "soft-targets"})

    @hookimpl
    def regsuite_transform_batch(self, batch, state):
        import torch

        x, q = batch["x"], soft_targets(batch, num_classes(batch, state))
        lam = float(torch.distributions.Beta(self.hp["alpha"], self.hp["alpha"]).sample())
        perm = torch.randperm(len(x)).to(x.device)
        return {**batch, "x": lam * x + (1 - lam) * x[perm], "y_soft": lam * q + (1 - lam) * q[perm]}


class CutMix(Method):
    """CutMix: paste a random box from another example; mix the targets by the pasted area.

    lam ~ Beta(alpha, alpha); a box of area ~(1 - lam) H W from x[perm] replaces the same
    region of x; lam is then set to the exact kept area 1 - box / (H W) and q' = lam q + (1 - lam) q[perm].
    """

    name = "cutmix"
    family = "augmentation"
    citation = Citation(
        "CutMix: Regularization Strategy to Train Strong Classifiers with Localizable Features",
        "Sangdoo Yun, Dongyoon Han, Seong Joon Oh, Sanghyuk Chun, Junsuk Choe, Youngjoon Yoo",
        2019,
        "https://arxiv.org/abs/1905.04899",
    )
    fidelity = Fidelity.faithful("paper", "box from lambda ~ Beta(1, 1), targets mixed by the exact pasted area, every batch (no CutMix probability)")
    defaults = {"alpha": 1.0}
    space = {"alpha": LogUniform(0.01, 10.0)}
    requires = frozenset({"classification", "images", "soft-targets"})

    @hookimpl
    def regsuite_transform_batch(self, batch, state):
        import torch

        x, q = batch["x"], soft_targets(batch, num_classes(batch, state))
        h, w = x.shape[-2:]
        lam = float(torch.distributions.Beta(self.hp["alpha"], self.hp["alpha"]).sample())
        top, bottom, left, right = cutmix_box(h, w, lam)
        perm = torch.randperm(len(x)).to(x.device)
        mixed = x.clone()
        mixed[..., top:bottom, left:right] = x[perm][..., top:bottom, left:right]
        kept = 1.0 - (bottom - top) * (right - left) / (h * w)
        return {**batch, "x": mixed, "y_soft": kept * q + (1 - kept) * q[perm]}


@hookimpl
def regsuite_methods():
    return [Cutout, Mixup, CutMix]
