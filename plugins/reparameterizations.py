"""Weight reparameterizations (family ``reparameterization``), installed at run start with
``torch.nn.utils.parametrize`` on the weights of linear and convolution layers, so the trained
parameter stays the same ``nn.Parameter`` object the optimizer sees."""

from __future__ import annotations

from regsuite import Citation, Fidelity, LogUniform, Method, Uniform, hookimpl


def layers(model):
    from torch import nn

    return [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d))]


def compand(v, alpha: float, beta: float):
    """w = sign(v) * ((|v| + beta)^alpha - beta^alpha): slope alpha beta^(alpha-1) > 1 near 0, < 1 far out."""
    return v.sign() * ((v.abs() + beta) ** alpha - beta**alpha)


def expand(w, alpha: float, beta: float):
    """The inverse of :func:`compand`."""
    return w.sign() * ((w.abs() + beta**alpha) ** (1 / alpha) - beta)


class WeightCompander(Method):
    """Weight compander: every weight is a compressing-expanding function of a free parameter,
    w = sign(v) ((|v| + beta)^alpha - beta^alpha), 0 < alpha < 1.

    Large weights grow sublinearly in v (their magnitude is restricted) while near zero the slope
    alpha beta^(alpha - 1) exceeds 1, so small weights are pushed away from zero. Parameters are
    initialised with the inverse map, so the network starts from the task's initialization.
    Written here; the function is the power-law compander (alpha, beta chosen here, not from a
    reference recipe).
    """

    name = "weight-compander"
    family = "reparameterization"
    citation = Citation(
        "Weight Compander: A Simple Weight Reparameterization for Regularization",
        "Rinor Cakaj, Jens Mehnert, Bin Yang",
        2023,
        "https://arxiv.org/abs/2306.16993",
    )
    fidelity = Fidelity.reconstructed(
        "from the abstract: a power-law compander with the properties it describes (large weights "
        "grow sublinearly, slope > 1 near zero); the paper's exact function, its alpha/beta values "
        "and its learned-hyperparameter variant are unconfirmed"
    )
    defaults = {"alpha": 0.5, "beta": 0.1}
    space = {"alpha": Uniform(0.1, 1.0), "beta": LogUniform(1e-3, 1.0)}

    @hookimpl
    def regsuite_run_start(self, model, state):
        import torch
        from torch import nn
        from torch.nn.utils import parametrize

        alpha, beta = self.hp["alpha"], self.hp["beta"]

        class Compander(nn.Module):
            def forward(self, v):
                return compand(v, alpha, beta)

            def right_inverse(self, w):
                return expand(w, alpha, beta)

        with torch.no_grad():
            for module in layers(model):
                parametrize.register_parametrization(module, "weight", Compander())


def mixout(w, u, p: float, mask):
    """(1 / (1 - p)) * ((1 - M) w + M u - p u): keeps E[result] = w, swaps entries with M = 1 for u.

    ``mask`` broadcasts against ``w``: mixout draws it per input unit, shape (1, fan_in)."""
    return ((1 - mask) * w + mask * u - p * u) / (1 - p)


def mixout_layers(model):
    """The ``nn.Linear`` layers mixout mixes: all but an input layer.

    Mixout replaces dropout on hidden units (the authors' example mixes the Linear layers that
    follow a dropout and leaves the one reading the raw input alone), so a Linear that is the
    model's first module with weights is skipped; convolutions are not mixed (the reference has
    only a linear layer). A Linear after an embedding or a convolution reads hidden units.
    """
    from torch import nn

    weighted = [m for m in model.modules() if next(m.parameters(recurse=False), None) is not None]
    first = weighted[0] if weighted else None
    return [m for m in model.modules() if isinstance(m, nn.Linear) and m is not first]


class Mixout(Method):
    """Mixout: randomly swap a hidden unit's outgoing weights for their starting values
    (dropout toward a target instead of toward zero).

    In training, for every mixed ``nn.Linear`` (see :func:`mixout_layers`) each input unit j is
    chosen with probability p and its whole column W[:, j] is replaced by the anchor u[:, j]; the
    result is rescaled so that its expectation is W:
    W~ = ((1 - M) * W + M * u - p * u) / (1 - p),  M = 1 (out) x m, m_j ~ Bernoulli(p), a new m
    per forward (as the authors' code: one mask row repeated over the output rows). At evaluation
    W is used. The gradient is autograd's, the exact derivative (1 - M) / (1 - p) of W~; the
    authors' custom backward omits the 1 / (1 - p). The paper anchors to pretrained weights when
    fine-tuning; here the anchor is the run's initial weights.
    """

    name = "mixout"
    family = "reparameterization"
    citation = Citation(
        "Mixout: Effective Regularization to Finetune Large-scale Pretrained Language Models",
        "Cheolhyoung Lee, Kyunghyun Cho, Wanmo Kang",
        2020,
        "https://arxiv.org/abs/1909.11299",
    )
    fidelity = Fidelity.adapted(
        "per-input-unit masks on hidden nn.Linear layers as in the authors' code (bloodwass/mixout); "
        "the anchor is the run's initial weights, not a pretrained model; the gradient is the exact "
        "derivative of the mixed weight (the reference's backward drops its 1/(1-p) factor)",
        source="authors' code",
    )
    defaults = {"p": 0.1}
    space = {"p": Uniform(0.0, 0.95)}
    version = "2"

    @hookimpl
    def regsuite_run_start(self, model, state):
        import torch
        from torch import nn
        from torch.nn.utils import parametrize

        p = self.hp["p"]

        class MixoutToStart(nn.Module):
            def __init__(self, start):
                super().__init__()
                self.register_buffer("start", start)

            def forward(self, w):
                if not self.training or p == 0:
                    return w
                mask = torch.bernoulli(torch.full((1, w.shape[1]), p, device=w.device, dtype=w.dtype))
                return mixout(w, self.start, p, mask)

        for module in mixout_layers(model):
            parametrize.register_parametrization(module, "weight", MixoutToStart(module.weight.detach().clone()))


@hookimpl
def regsuite_methods():
    return [WeightCompander, Mixout]
