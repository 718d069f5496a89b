"""Continual-learning methods: baselines and plasticity regularizers (consolidation and replay
methods live in ``continual_consolidation`` and ``continual_replay``; all are registered here).

Methods that only make sense on a stream of experiences declare ``requires = {"experiences"}``.
Boundaries come from the run hooks ``regsuite_on_experience_start/end``; what a run trains on
is the ``continual.scope`` state flag read by the continual suite's loop (see
``regsuite.suites.continual.loop``).
"""

from __future__ import annotations

from regsuite import Choice, Citation, Fidelity, IntRange, LogUniform, Method, Uniform, hookimpl

from .continual_consolidation import EWC, LwF, SI
from .continual_replay import AGEM, DERpp, ER

SCOPE = "continual.scope"  # the key regsuite.suites.continual.loop reads (kept literal: no suite import here)
EXPERIENCES = frozenset({"experiences"})


def _set_scope(state, scope: str, who: str) -> None:
    current = state.extras.get(SCOPE)
    if current is not None and current != scope:
        raise ValueError(f"{who} trains on {scope!r} data but another method of the run already chose {current!r}")
    state.extras[SCOPE] = scope


def weight_matrices(model):
    """Parameters with two or more dimensions, as (out, in * kernel) matrices (conv kernels flattened)."""
    return [p.reshape(p.shape[0], -1) for p in model.parameters() if p.requires_grad and p.ndim >= 2]


class Naive(Method):
    """Naive fine-tuning: train on each experience in turn with the task's optimizer, nothing else.

    The lower bound of continual learning: L_t = CE on experience t only. It pins the
    ``current`` training scope, so composing it with joint training is an error.
    """

    name = "naive"
    family = "procedure"
    citation = Citation(
        "Three scenarios for continual learning", "Gido M. van de Ven, Andreas S. Tolias", 2019,
        "https://arxiv.org/abs/1904.07734",
    )
    fidelity = Fidelity.faithful("paper", "the fine-tuning baseline: the task's optimizer on each experience in turn")
    requires = EXPERIENCES

    @hookimpl
    def regsuite_run_start(self, model, state):
        _set_scope(state, "current", self.name)


class Joint(Method):
    """Joint training, the upper bound: every step samples from the whole stream (i.i.d.).

    L = CE on the union of all experiences (scope ``all``); ``scope=seen`` trains cumulatively
    on the experiences seen so far. The budget and the evaluation protocol are unchanged.
    """

    name = "joint"
    reference = "upper bound: trains on the whole stream i.i.d."
    family = "procedure"
    citation = Citation(
        "Gradient Episodic Memory for Continual Learning", "David Lopez-Paz, Marc'Aurelio Ranzato", 2017,
        "https://arxiv.org/abs/1706.08840",
    )
    fidelity = Fidelity.faithful("paper", "i.i.d. training on the whole stream (or on the experiences seen so far)")
    defaults = {"scope": "all"}
    space = {"scope": Choice(["all", "seen"])}
    requires = EXPERIENCES

    @hookimpl
    def regsuite_run_start(self, model, state):
        _set_scope(state, self.hp["scope"], self.name)


class L2Init(Method):
    """L2 regularization toward the initial parameters (regenerative regularization).

    L = L_task + lambda * ||theta - theta_0||_2^2,  theta_0 = the weights at initialization.
    """

    name = "l2-init"
    family = "regularizer"
    citation = Citation(
        "Maintaining Plasticity in Continual Learning via Regenerative Regularization",
        "Saurabh Kumar, Henrik Marklund, Benjamin Van Roy", 2023, "https://arxiv.org/abs/2308.11958",
    )
    fidelity = Fidelity.faithful("paper", "lambda ||theta - theta_0||^2 on every trainable parameter; lambda chosen here")
    defaults = {"lam": 1e-2}
    space = {"lam": LogUniform(1e-5, 1.0)}

    @hookimpl
    def regsuite_run_start(self, model, state):
        self.init = [p.detach().clone() for p in model.parameters() if p.requires_grad]

    @hookimpl
    def regsuite_penalty(self, model, outputs, batch, state):
        params = [p for p in model.parameters() if p.requires_grad]
        return self.hp["lam"] * sum((p - p0).pow(2).sum() for p, p0 in zip(params, self.init))


class ShrinkAndPerturb(Method):
    """Shrink and perturb at each new experience: theta <- lambda * theta + sigma * eps, eps ~ N(0, I).

    Applied when experiences 2..T start (warm-starting on new data, Ash & Adams 2020, Sec. 4).
    Defaults are our choice inside the ranges the paper sweeps (shrink in [0, 1], small noise).
    """

    name = "shrink-and-perturb"
    family = "procedure"
    citation = Citation(
        "On Warm-Starting Neural Network Training", "Jordan T. Ash, Ryan P. Adams", 2020,
        "https://arxiv.org/abs/1910.08475",
    )
    fidelity = Fidelity.faithful("paper", "theta <- lambda theta + sigma eps at each new experience; shrink and noise chosen here within the paper's ranges")
    defaults = {"shrink": 0.8, "sigma": 0.01}
    space = {"shrink": Uniform(0.0, 1.0), "sigma": Uniform(0.0, 0.1)}
    requires = EXPERIENCES

    @hookimpl
    def regsuite_on_experience_start(self, model, experience, state):
        import torch

        if experience.index == 0:
            return
        generator = torch.Generator().manual_seed(state.seed * 1000 + experience.index)
        with torch.no_grad():
            for p in model.parameters():
                noise = torch.randn(p.shape, generator=generator).to(p.device, p.dtype)
                p.mul_(self.hp["shrink"]).add_(noise, alpha=self.hp["sigma"])


class SpectralReg(Method):
    """Spectral regularization: keep each layer's largest singular value near one.

    L = L_task + lambda * sum_l (sigma_max(W_l)^k - 1)^2, conv kernels reshaped to (out, in*kh*kw).
    As in the paper, sigma_max is estimated by power iteration, one iteration per step with the
    singular vectors carried over between steps: v <- W^T u / ||W^T u||, u <- W v / ||W v||,
    sigma = u^T W v (differentiable in W, u and v held fixed). Biases are not regularized here.
    Step contract: every pass iterates from the committed u; the primary pass's u is committed
    after the optimizer step (a probe of a step procedure leaves it alone).
    """

    name = "spectral-reg"
    family = "regularizer"
    citation = Citation(
        "Learning Continually by Spectral Regularization",
        "Alex Lewandowski, Michal Bortkiewicz, Saurabh Kumar, Andras Gyorgy, Dale Schuurmans, "
        "Mateusz Ostaszewski, Marlos C. Machado", 2025, "https://arxiv.org/abs/2406.06811",
    )
    fidelity = Fidelity.adapted("the paper's penalty and one carried power iteration per step; biases are not regularized here; lambda chosen here")
    defaults = {"lam": 1e-3, "power": 2, "iterations": 1}
    version = "2"  # u advances once per optimizer step (was once per penalty call: twice under sam)
    pending = None  # {layer index: u} from this step's primary pass
    space = {"lam": LogUniform(1e-6, 1.0), "power": Choice([1, 2]), "iterations": IntRange(1, 20)}

    @hookimpl
    def regsuite_run_start(self, model, state):
        import torch

        generator = torch.Generator().manual_seed(state.seed + 404)
        self.u = [torch.randn(w.shape[0], generator=generator).to(w.device, w.dtype) for w in weight_matrices(model)]

    def sigma_max(self, i: int, w, record: bool):
        import torch
        import torch.nn.functional as F

        with torch.no_grad():
            u = self.u[i]
            for _ in range(self.hp["iterations"]):
                v = F.normalize(w.T @ u, dim=0)
                u = F.normalize(w @ v, dim=0)
        if record:
            self.pending[i] = u
        return u @ w @ v

    @hookimpl
    def regsuite_penalty(self, model, outputs, batch, state):
        k, record = self.hp["power"], not state.probe
        if record:
            self.pending = {}
        return self.hp["lam"] * sum(
            (self.sigma_max(i, w, record) ** k - 1.0) ** 2 for i, w in enumerate(weight_matrices(model))
        )

    @hookimpl
    def regsuite_after_step(self, model, state):
        if self.pending:
            for i, u in self.pending.items():
                self.u[i] = u
        self.pending = None


class WassersteinReg(Method):
    """Wasserstein regularization toward the initial weight distribution of each parameter tensor.

    L = L_task + lambda * sum_l n_l * W_2^2(mu_l, mu_l^0) = lambda * sum_l sum_i (theta_l,(i) - theta0_l,(i))^2,
    mu_l the empirical distribution of the n_l entries of tensor l and (i) the i-th smallest entry.
    Unlike L2-init it only asks the distribution, not each weight, to stay at initialization;
    it is never larger than the L2-init penalty. Between two samples of equal size with uniform
    weights the optimal 1-D coupling matches order statistics, so W_2^2 is computed by sorting
    (``torch.sort``; ``ot.wasserstein_1d`` gives the same value about 15x slower per step here).
    """

    name = "wasserstein-reg"
    family = "regularizer"
    citation = Citation(
        "Learning Continually by Spectral Regularization (v1: Wasserstein regularization toward initialization)",
        "Alex Lewandowski, Saurabh Kumar, Dale Schuurmans, Andras Gyorgy, Marlos C. Machado", 2024,
        "https://arxiv.org/abs/2406.06811v1",
    )
    fidelity = Fidelity.reconstructed(
        "from the abstracts (arXiv 2406.06811v1; the 'distributional regularizer' of Lewandowski et al. "
        "2023, arXiv 2312.00246): W_2^2 between each tensor's entries and its initial entries, by sorting; "
        "whether the paper sums over entries (as here) or averages (a factor n in lambda), and v1's "
        "author list, are unconfirmed"
    )
    defaults = {"lam": 1e-2}
    space = {"lam": LogUniform(1e-5, 1.0)}

    @hookimpl
    def regsuite_run_start(self, model, state):
        import torch

        self.init_sorted = [torch.sort(p.detach().flatten()).values for p in model.parameters() if p.requires_grad]

    @hookimpl
    def regsuite_penalty(self, model, outputs, batch, state):
        import torch

        params = [p for p in model.parameters() if p.requires_grad]
        return self.hp["lam"] * sum(
            (torch.sort(p.flatten()).values - q).pow(2).sum() for p, q in zip(params, self.init_sorted)
        )


@hookimpl
def regsuite_methods():
    return [Naive, Joint, EWC, SI, LwF, ER, AGEM, DERpp, L2Init, ShrinkAndPerturb, SpectralReg, WassersteinReg]
