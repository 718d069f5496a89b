"""Losses (family ``loss``): target transforms, loss replacements and distance heads.

Every loss is written per class (``per_class(logits)[i, k]`` = the loss if the label of
example i were k) and reduced against soft targets when a transform added them (see
:mod:`regsuite.soft_targets`), so mixup, CutMix and label smoothing compose with each one.
"""

from __future__ import annotations

from typing import ClassVar

from regsuite import Citation, Fidelity, Method, Uniform, hookimpl

from regsuite.soft_targets import expected_loss, num_classes, other_classes, soft_targets


class LabelSmoothing(Method):
    """Cross-entropy against targets smoothed toward uniform.

    q = (1 - eps) * onehot(y) + eps / K;  L = - sum_k q_k log softmax(z)_k.
    Implemented as a target transform (``batch["y_soft"]``), so it composes with any loss.
    """

    name = "label-smoothing"
    family = "loss"
    citation = Citation(
        "Rethinking the Inception Architecture for Computer Vision",
        "Christian Szegedy, Vincent Vanhoucke, Sergey Ioffe, Jonathon Shlens, Zbigniew Wojna",
        2016,
        "https://arxiv.org/abs/1512.00567",
    )
    fidelity = Fidelity.faithful("paper", "label-smoothing regularization of Sec. 7, eps = 0.1 as in the paper")
    defaults = {"eps": 0.1}
    space = {"eps": Uniform(0.0, 0.5)}
    requires = frozenset({"classification", "soft-targets"})
    version = "2"

    @hookimpl
    def regsuite_transform_batch(self, batch, state):
        k = num_classes(batch, state)
        eps = self.hp["eps"]
        return {**batch, "y_soft": (1 - eps) * soft_targets(batch, k) + eps / k}


class PerClassLoss(Method):
    """Base of the losses written per class; subclasses give ``per_class(logits)``."""

    family = "loss"
    requires = frozenset({"classification"})

    def per_class(self, logits):
        raise NotImplementedError

    @hookimpl
    def regsuite_loss(self, outputs, batch, state):
        return expected_loss(self.per_class(outputs), batch)


class Focal(PerClassLoss):
    """Focal loss: down-weights well-classified examples.

    FL(p_y) = -(1 - p_y)^gamma * log p_y  (alpha-balancing off; gamma = 2 as in the paper).
    Written here: torchvision's sigmoid_focal_loss is the binary one-vs-all form.
    """

    name = "focal"
    citation = Citation(
        "Focal Loss for Dense Object Detection",
        "Tsung-Yi Lin, Priya Goyal, Ross Girshick, Kaiming He, Piotr Dollar",
        2017,
        "https://arxiv.org/abs/1708.02002",
    )
    fidelity = Fidelity.adapted(
        "the softmax (multi-class) form the paper mentions, without alpha-balancing; the paper's "
        "detector uses the per-class sigmoid form with alpha = 0.25 (gamma = 2 as there)"
    )
    defaults = {"gamma": 2.0}
    space = {"gamma": Uniform(0.0, 5.0)}
    version = "2"  # (1 - p_k)^gamma in log space: finite gradients where p_k rounds to 1 and gamma < 1

    def per_class(self, logits):
        import torch

        logp = logits.log_softmax(-1)
        # log(1 - p_k) = logsumexp_{j != k} log p_j: finite even where p_k rounds to 1. Version 1's
        # (1 - p)^gamma had base 0 there, and for gamma < 1 its derivative gamma (1 - p)^(gamma - 1) is
        # inf, times dp/dz = 0: NaN (a memorising model diverged at gamma 0.07 on mnist1d-lt-mlp).
        return -torch.exp(self.hp["gamma"] * other_classes(logp).logsumexp(-1)) * logp


class CompSum(PerClassLoss):
    """Base of the comp-sum losses: Phi_tau(sum_{k != y} exp(z_k - z_y)), with

    Phi_tau(u) = ((1 + u)^(1 - tau) - 1) / (1 - tau)  (tau != 1; tau = 1 is cross-entropy).

    Since 1 + u = 1 / p_y, this is (1 - p_y^(tau - 1)) / (tau - 1): generalized cross-entropy
    for tau in (1, 2), the mean absolute error 1 - p_y at tau = 2.
    """

    citation = Citation(
        "Cross-Entropy Loss Functions: Theoretical Analysis and Applications",
        "Anqi Mao, Mehryar Mohri, Yutao Zhong",
        2023,
        "https://arxiv.org/abs/2304.07288",
    )

    def tau(self) -> float:
        raise NotImplementedError

    def per_class(self, logits):
        q = self.tau() - 1.0
        # p^q as exp(q log p): the same value, but a probability that underflows to 0 no longer
        # gives 0 * inf = NaN in the gradient (gce diverged at step 1 on mnist1d-cnn).
        return (1 - (q * logits.log_softmax(-1)).exp()) / q


class GeneralizedCrossEntropy(CompSum):
    """Generalized cross-entropy, robust to label noise: L_q = (1 - p_y^q) / q.

    q in (0, 1]: q -> 0 gives cross-entropy, q = 1 the MAE; the comp-sum loss with tau = 1 + q.
    """

    name = "gce"
    citation = Citation(
        "Generalized Cross Entropy Loss for Training Deep Neural Networks with Noisy Labels",
        "Zhilu Zhang, Mert R. Sabuncu",
        2018,
        "https://arxiv.org/abs/1805.07836",
    )
    fidelity = Fidelity.faithful("paper", "L_q with q = 0.7, the paper's default; the truncated variant is not included")
    defaults = {"q": 0.7}
    space = {"q": Uniform(0.05, 1.0)}
    version = "2"  # p^q computed as exp(q log p): finite gradients where p underflows

    def tau(self) -> float:
        return 1.0 + self.hp["q"]


class MeanAbsoluteError(CompSum):
    """Mean absolute error on probabilities: ||onehot(y) - p||_1 = 2 (1 - p_y).

    As defined by Ghosh et al. 2017 (the L1 distance between the one-hot label and the softmax
    output); symmetric, hence robust to label noise, but slow to fit. Twice the comp-sum loss
    with tau = 2 (which is 1 - p_y).
    """

    name = "mae"
    citation = Citation(
        "Robust Loss Functions under Label Noise for Deep Neural Networks",
        "Aritra Ghosh, Himanshu Kumar, P. S. Sastry",
        2017,
        "https://arxiv.org/abs/1712.09482",
    )
    fidelity = Fidelity.faithful("paper", "the L1 loss ||e_y - softmax(z)||_1 the paper shows to be noise-tolerant")
    defaults = {}
    version = "2"  # the paper's ||e_y - p||_1 = 2 (1 - p_y); version 1 was half of it

    def tau(self) -> float:
        return 2.0

    def per_class(self, logits):
        return 2.0 * super().per_class(logits)


def stablemax(logits):
    """StableMax(z)_k = s(z_k) / sum_j s(z_j) with s(x) = x + 1 for x >= 0, 1 / (1 - x) for x < 0."""
    import torch

    s = torch.where(logits >= 0, logits + 1, 1 / (1 - logits.clamp_max(0)))
    return s / s.sum(-1, keepdim=True)


class StableMax(PerClassLoss):
    """StableMax cross-entropy: L = -log StableMax(z)_y, a softmax without exponentials.

    It avoids the floating-point absorption ("softmax collapse") that stalls grokking.
    The prediction (argmax) is unchanged since s is increasing. Written here from the paper's
    definition of s; it matches the authors' stablemax_cross_entropy (float32 by default there
    too). The paper's other remedy, the orthogonal gradient (perpendicular-grad: the gradient's
    component along the weights removed, norm kept), is an optimizer change, not part of this loss.
    """

    name = "stablemax"
    citation = Citation(
        "Grokking at the Edge of Numerical Stability",
        "Lucas Prieto, Melih Barsbey, Pedro A. M. Mediano, Tolga Birdal",
        2025,
        "https://arxiv.org/abs/2501.04697",
    )
    fidelity = Fidelity.faithful("authors' code", "the StableMax cross-entropy alone; perpendicular-grad is a separate optimizer change")
    defaults = {}

    def per_class(self, logits):
        return -stablemax(logits.float()).clamp_min(1e-30).log()


def ensloss_value(margins, weights, draws, lam: float = 0.0):
    """EnsLoss on a batch of margins, given the standard-normal ``draws`` (one per margin).

    Loss-derivatives d = -BoxCox^{-1}_lam(draws), sorted and assigned to the margins in the same
    order (the smallest margin gets the most negative derivative, which makes the implied loss
    convex), clipped to >= -1, divided by s where s > 1 (a superlinear tail), minus 1e-6
    (so phi'(0) < 0: calibration). The returned value's gradient in s_i is weights_i * d_i / N.
    """
    import torch

    if lam == 0.0:
        inv = torch.exp(draws)
    else:
        inv = torch.clamp(1 + lam * draws, min=0) ** (1 / lam)
    derivatives = torch.sort(-inv).values.clamp_min(-1.0)
    g = torch.empty_like(derivatives)
    g[torch.argsort(margins.detach())] = derivatives
    s = margins.detach()
    g = torch.where(s > 1, g / s.clamp_min(1.0), g) - 1e-6
    return (weights * g * margins).sum()


class EnsLoss(Method):
    """EnsLoss: a new random convex calibrated loss at every step, via its derivatives.

    SGD only sees phi'(s) at the batch margins s_i = y_i f(x_i), so the method draws the
    derivatives directly (inverse Box-Cox of N(0, 1), sorted to match the margins' order,
    clipped at -1, superlinear tail for s > 1) and minimises mean_i g_i * s_i with g fixed.
    The paper is binary; here the multi-class margin s_k = z_k - max_{j != k} z_j is used for
    every (example, class) pair with target mass q > 0, weighted by q (one pair per example
    with hard labels). Written here following the authors' reference code (statmlben/ensLoss).
    """

    name = "ensloss"
    family = "loss"
    citation = Citation(
        "EnsLoss: Stochastic Calibrated Loss Ensembles for Preventing Overfitting in Classification",
        "Ben Dai",
        2024,
        "https://arxiv.org/abs/2409.00908",
    )
    fidelity = Fidelity.adapted(
        "the binary rule of the paper and of the authors' code (statmlben/ensLoss, losses.ensLoss) "
        "exactly; the paper defines no multi-class version, so the multi-class margin "
        "z_k - max_{j != k} z_j weighted by the target mass is this suite's extension",
        source="authors' code",
    )
    defaults = {"lam": 0.0}
    space = {"lam": Uniform(0.0, 1.0)}
    requires = frozenset({"classification"})

    @hookimpl
    def regsuite_loss(self, outputs, batch, state):
        import torch

        n, k = outputs.shape
        q = soft_targets(batch, k)
        margins = outputs - other_classes(outputs).max(-1).values
        mask = q > 0
        draws = torch.randn(int(mask.sum()), device=outputs.device)
        return ensloss_value(margins[mask], q[mask], draws, self.hp["lam"]) / n


class ProgressiveSelfKD(Method):
    """PS-KD: the model distils into itself, with targets mixing labels and its own past predictions.

    q_t(x) = (1 - alpha_t) y + alpha_t p_{t-1}(x),  alpha_t = alpha_T * t / T,  L = CE(q_t, p_t(x)),
    where p_{t-1}(x) is the prediction for x the last time it was trained on (one epoch ago) and
    t/T the fraction of training done. Needs ``batch["index"]`` (example ids); an example seen for
    the first time uses its label only. Written here after the paper's Algorithm 1.

    The step's predictions are recorded from its primary pass and committed after the optimizer
    step, so under a step procedure (sam, fd-gr) every pass of step t uses the same p_{t-1}.
    """

    name = "ps-kd"
    family = "loss"
    citation = Citation(
        "Self-Knowledge Distillation with Progressive Refinement of Targets",
        "Kyungyul Kim, ByeongMoon Ji, Doyoung Yoon, Sangheum Hwang",
        2021,
        "https://arxiv.org/abs/2006.12000",
    )
    defaults = {"alpha_T": 0.8}
    space = {"alpha_T": Uniform(0.0, 1.0)}
    requires = frozenset({"classification", "example-index"})

    version = "2"  # predictions committed once per step (the step contract), not per forward pass
    fidelity = Fidelity.adapted("alpha_t = alpha_T t/T grows per optimizer step, not per epoch as in the paper's "
                                "Algorithm 1; p_{t-1} is the example's prediction at its previous visit")

    def __init__(self, hp=None) -> None:
        super().__init__(hp)
        self.memory = None
        self.seen = None
        self.pending = None  # (idx, predictions) of this step's primary pass

    @hookimpl
    def regsuite_loss(self, outputs, batch, state):
        import torch

        if "index" not in batch:
            raise RuntimeError("ps-kd needs batch['index'] (per-example ids) from the task")
        idx = batch["index"]
        n, k = outputs.shape
        if self.memory is None or int(idx.max()) >= len(self.memory):
            size = int(idx.max()) + 1
            grown, seen = torch.zeros(size, k, device=outputs.device, dtype=outputs.dtype), torch.zeros(size, dtype=torch.bool, device=outputs.device)
            if self.memory is not None:
                grown[: len(self.memory)], seen[: len(self.seen)] = self.memory, self.seen
            self.memory, self.seen = grown, seen
        total = getattr(state.budget, "steps", 0) or 1
        alpha = self.hp["alpha_T"] * state.step / total
        past_mass = alpha * self.seen[idx].to(outputs.dtype).unsqueeze(1)  # in the outputs' precision
        target = (1 - past_mass) * soft_targets(batch, k).to(outputs.dtype) + past_mass * self.memory[idx].to(outputs.dtype)
        loss = -(target * outputs.log_softmax(-1)).sum(-1).mean()
        if not state.probe:
            self.pending = (idx, outputs.detach().softmax(-1).to(self.memory.dtype))
        return loss

    @hookimpl
    def regsuite_after_step(self, model, state):
        if self.pending is not None:
            idx, predictions = self.pending
            self.memory[idx], self.seen[idx] = predictions, True
            self.pending = None


# ------------------------------------------------------------------ harmonic loss


def distances(features, centers, metric: str):
    """d[i, k] between rows of ``features`` (N, D) and ``centers`` (K, D)."""
    import torch.nn.functional as F

    # Not torch.cdist: it has no double backward (Hessian diagnostics). Euclidean through
    # ||x||^2 + ||w||^2 - 2 x.w, one matmul instead of an (N, K, D) difference tensor (10-20x
    # AdamW's step cost on the grokking MLP); the others have no matmul form.
    if metric == "euclidean":
        squared = features.pow(2).sum(-1, keepdim=True) + centers.pow(2).sum(-1) - 2 * features @ centers.T
        return squared.clamp_min(1e-12).sqrt()
    diff = features.unsqueeze(1) - centers.unsqueeze(0)
    # Manhattan and cosine add 1e-4 as the distance-layer authors' code does (distlayers.py).
    if metric == "manhattan":
        return diff.abs().sum(-1) + 1e-4
    if metric == "chebyshev":
        return diff.abs().amax(-1)
    if metric == "cosine":
        return 1 - F.normalize(features, dim=-1) @ F.normalize(centers, dim=-1).T + 1e-4
    raise ValueError(f"unknown distance {metric!r}")


def harmonic_logits(features, centers, metric: str, n: float, eps: float = 1e-8):
    """Logits whose softmax is the harmonic max: p_k = d_k^-n / sum_j d_j^-n, i.e. -n log d_k."""
    return -n * (distances(features, centers, metric) + eps).log()


def last_linear(model):
    """(parent module, attribute name, module) of the last ``nn.Linear`` in ``model``, in the
    depth-first registration order of ``named_modules`` (the output layer of a featurizer-then-
    classifier model). Version 1 took the last Linear child of the last parent visited, which on
    such a model is the featurizer's hidden layer, not the classifier registered after it."""
    from torch import nn

    names = [name for name, module in model.named_modules() if isinstance(module, nn.Linear) and name]
    if not names:
        raise RuntimeError("harmonic loss needs a model whose output layer is an nn.Linear")
    parent_name, _, attr = names[-1].rpartition(".")
    parent = model.get_submodule(parent_name)
    return parent, attr, getattr(parent, attr)


class HarmonicLoss(Method):
    """Harmonic loss: the output layer becomes distances to class centres, and
    p_k = d(x, w_k)^-n / sum_j d(x, w_j)^-n,  L = -log p_y   (harmonic max, exponent n).

    At run start the last ``nn.Linear`` (weights w_k, bias dropped) is replaced by a head that
    outputs -n log d(x, w_k), so the task's cross-entropy on those logits is exactly the
    harmonic loss, evaluation predicts the nearest centre, and the method composes with every
    loss and target transform. n = sqrt(D) by default (the paper's rule; hp n > 0 overrides it).
    """

    family = "loss"
    citation = Citation(
        "Harmonic Loss Trains Interpretable AI Models",
        "David D. Baek, Ziming Liu, Riya Tyagi, Max Tegmark",
        2025,
        "https://arxiv.org/abs/2502.01628",
    )
    metric: ClassVar[str] = "euclidean"
    fidelity = Fidelity.faithful(
        "paper", "HarMax p_k ~ d_k^-n of Euclidean distances to the class centres; n = sqrt(D) by default, one of "
        "the values the authors' code suggests (1, sqrt(D), D; it applies n to the squared distance)"
    )
    defaults = {"n": 0.0}
    space = {"n": Uniform(0.0, 64.0)}
    requires = frozenset({"classification"})

    @hookimpl
    def regsuite_run_start(self, model, state):
        from torch import nn

        parent, attr, linear = last_linear(model)
        n = self.hp["n"] or float(linear.in_features) ** 0.5
        metric = self.metric

        class HarmonicHead(nn.Module):
            def __init__(self, weight):
                super().__init__()
                self.weight = weight

            def forward(self, x):
                return harmonic_logits(x, self.weight, metric, n)

        setattr(parent, attr, HarmonicHead(linear.weight))


class HarmonicEuclidean(HarmonicLoss):
    """Harmonic loss with the Euclidean distance ||x - w_k||_2 (the paper's default)."""

    name = "harmonic-euclidean"
    metric = "euclidean"
    version = "2"  # 2: the head replaces the model's last nn.Linear, not a featurizer layer (domain-generalization nets); distances by matmul


NON_EUCLIDEAN_HARMONIC = Citation(
    "Rethinking the Harmonic Loss via Non-Euclidean Distance Layers",
    "Maxwell Miller-Golub, Kamil Faber, Marcin Pietron, Panpan Zheng, Pasquale Minervini, Roberto Corizzo",
    2026,
    "https://arxiv.org/abs/2603.10225",
)
# The distance-layer authors' code (github.com/maxwellmg/rethinking-harmonic-loss, vision/) runs
# every distance with the harmonic exponent n = 1 on its vision tasks, not sqrt(D).
NON_EUCLIDEAN_DEFAULTS = {"n": 1.0}


class HarmonicCosine(HarmonicLoss):
    """Harmonic loss with the cosine distance 1 - <x, w_k> / (||x|| ||w_k||) + 1e-4, n = 1."""

    name = "harmonic-cosine"
    metric = "cosine"
    citation = NON_EUCLIDEAN_HARMONIC
    fidelity = Fidelity.faithful("authors' code", "CosineDistLayer (stable form): (1 - cos + 1e-4)^-n with n = 1")
    defaults = NON_EUCLIDEAN_DEFAULTS
    version = "3"  # 3: the head replaces the last nn.Linear (see harmonic-euclidean v2); 2: n = 1 and the 1e-4 offset of the authors' code (was n = sqrt(D))


class HarmonicManhattan(HarmonicLoss):
    """Harmonic loss with the Manhattan distance ||x - w_k||_1 + 1e-4, n = 1."""

    name = "harmonic-manhattan"
    metric = "manhattan"
    citation = NON_EUCLIDEAN_HARMONIC
    fidelity = Fidelity.faithful("authors' code", "ManhattanDistLayer: (||x - w||_1 + 1e-4)^-n with n = 1")
    defaults = NON_EUCLIDEAN_DEFAULTS
    version = "3"  # 3: the head replaces the last nn.Linear (see harmonic-euclidean v2); 2: n = 1 and the 1e-4 offset of the authors' code (was n = sqrt(D))


class HarmonicChebyshev(HarmonicLoss):
    """Harmonic loss with the Chebyshev distance ||x - w_k||_inf, n = 1."""

    name = "harmonic-chebyshev"
    metric = "chebyshev"
    citation = NON_EUCLIDEAN_HARMONIC
    fidelity = Fidelity.adapted(
        "the exact max-norm distance with the authors' n = 1; the authors' ChebyshevDistLayer instead "
        "divides the coordinate differences by their standard deviation and takes a softmax-weighted "
        "(soft) maximum, which is no longer the Chebyshev distance",
        source="authors' code",
    )
    defaults = NON_EUCLIDEAN_DEFAULTS
    version = "3"  # 3: the head replaces the last nn.Linear (see harmonic-euclidean v2); 2: n = 1 as in the authors' code (was n = sqrt(D))


@hookimpl
def regsuite_methods():
    return [
        LabelSmoothing, Focal, GeneralizedCrossEntropy, MeanAbsoluteError, StableMax, EnsLoss,
        ProgressiveSelfKD, HarmonicEuclidean, HarmonicCosine, HarmonicManhattan, HarmonicChebyshev,
    ]
