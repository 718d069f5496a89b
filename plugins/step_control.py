"""Step procedures and step controllers that decide *how much* of a step is taken, or how the step's
gradient is obtained, rather than which loss it descends.

* ``forward-grad`` replaces backpropagation with one forward-mode directional derivative
  (``regsuite_train_step``, via ``torch.func.jvp``).
* ``grad-es`` freezes weight matrices whose gradient has converged (``regsuite_after_backward``).
* ``softmax-step-cap`` (Ghosts of Softmax) shortens the optimizer's proposed update when it
  exceeds the softmax's convergence radius along it (``regsuite_after_backward`` records the
  weights, ``regsuite_after_step`` rescales the update); it composes with every optimizer.
"""

from __future__ import annotations

import math

from regsuite import Citation, Fidelity, LogUniform, Method, Uniform, hookimpl
from regsuite.claims import Claim
from regsuite.space import POSITIVE, PROBABILITY


class _Bound:
    """A module whose forward is the run's forward (and loss) on one batch, so that
    ``torch.func.functional_call`` can evaluate it at other parameter values."""

    def __new__(cls, model, fn):
        import torch

        class Bound(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.model = model

            def forward(self, batch):
                return fn(self.model, batch)

        return Bound()


def named_trainable(model):
    return [(n, p) for n, p in model.named_parameters() if p.requires_grad]


class ForwardGradient(Method):
    """Forward gradient: descend along a random direction scaled by the loss's derivative along it.

    v ~ N(0, I) over all trainable parameters;  d = grad f(w) . v  (one forward-mode JVP, no backward);
    g = d * v  (Baydin et al. 2022, Algorithm 1: an unbiased estimate of grad f). The run's optimizer
    then steps with ``scale`` * g. v is drawn per step from (seed, step), so the run is reproducible.
    g's variance grows with the parameter count (E||g||^2 = (P + 2) ||grad f||^2 for Gaussian v), so at
    the suites' backprop learning rates it diverges; the paper lowers the lr instead (2e-4 on MNIST).
    For SGD, ``scale`` is exactly a learning-rate factor (scale 1 is the paper's update).
    """

    name = "forward-grad"
    family = "procedure"
    citation = Citation("Gradients without Backpropagation",
                        "Atilim Gunes Baydin, Barak A. Pearlmutter, Don Syme, Frank Wood, Philip Torr", 2022,
                        "https://arxiv.org/abs/2202.08587")
    fidelity = Fidelity.adapted("Algorithm 1 (one standard-normal tangent per step, g = (grad f . v) v), "
                                "times scale 0.01 so that the suites' backprop learning rates stay stable "
                                "(the paper uses a smaller lr; for SGD the two are the same)")
    defaults = {"scale": 0.01}
    space = {"scale": LogUniform(1e-4, 1.0, limits=POSITIVE)}

    @hookimpl
    def regsuite_train_step(self, state):
        import torch
        from torch.func import functional_call, jvp

        named = named_trainable(state.model)
        generator = torch.Generator().manual_seed(state.seed * 1_000_003 + state.step)
        primals = {f"model.{n}": p.detach() for n, p in named}
        tangents = {k: torch.randn(p.shape, generator=generator, dtype=p.dtype).to(p.device)
                    for k, p in primals.items()}
        bound = _Bound(state.model, lambda m, b: state.forward_loss(b)[0])  # forward + loss + penalties
        state.zero_grad()
        loss, slope = jvp(lambda ps: functional_call(bound, ps, (state.batch,), strict=False),
                          (primals,), (tangents,))
        with torch.no_grad():
            for (n, p) in named:
                p.grad = self.hp["scale"] * slope * tangents[f"model.{n}"]
        state.transform_gradients()
        state.optimizer_step()
        return loss.detach()


class GradES(Method):
    """GradES: stop updating a weight matrix once its gradient has converged.

    After a grace period of ``grace`` x (total steps), a weight matrix W (a parameter with >= 2
    dimensions) whose mean absolute gradient mean|G_W| falls below tau is frozen for the rest of the
    run (``requires_grad`` off, so its gradient is no longer computed). Biases and other vectors keep
    training. Wen et al. 2025 track the element-wise L1 norm of each projection matrix's gradient.
    """

    name = "grad-es"
    family = "procedure"
    citation = Citation("GradES: Significantly Faster Training in Transformers with Gradient-Based Early Stopping",
                        "Qifu Wen, Xi Zeng, Zihan Zhou, Shuaijun Liu, Mehdi Hosseinzadeh, Reza Rawassizadeh",
                        2025, "https://arxiv.org/abs/2509.01842")
    fidelity = Fidelity.reconstructed("from the abstract and summaries: the L1 norm is divided by the "
                                      "matrix's size so that one tau fits every matrix; tau 1e-3 and the "
                                      "grace period 0.5 of the budget are our defaults, not the paper's")
    # 1.57x faster training: the per-step time at most 1 / 1.57 = 0.64 of the baseline's (same step count).
    claims = (Claim("GradES speeds up training time by 1.57--7.22x", "step_time_ratio", 1 / 1.57,
                    "fine-tuning LLMs of 0.6B-14B parameters (full and LoRA), language benchmarks",
                    task="llm/stdlib-mini", bound="at_most"),)
    defaults = {"tau": 1e-3, "grace": 0.5}
    space = {"tau": LogUniform(1e-5, 1e-1, limits=POSITIVE), "grace": Uniform(0.0, 0.9, limits=PROBABILITY)}

    @hookimpl
    def regsuite_run_start(self, model, state):
        self.frozen: list[str] = []

    @hookimpl
    def regsuite_after_backward(self, model, state):
        import torch

        if state.step < self.hp["grace"] * state.budget.steps:
            return
        with torch.no_grad():
            for name, p in model.named_parameters():
                if p.dim() >= 2 and p.requires_grad and p.grad is not None and p.grad.abs().mean() < self.hp["tau"]:
                    # This step still applies the small gradient; later steps skip the matrix.
                    p.requires_grad_(False)
                    self.frozen.append(name)

    @hookimpl
    def regsuite_run_end(self, model, state):
        matrices = sum(1 for p in model.parameters() if p.dim() >= 2)
        return {"grad_es_frozen_fraction": len(self.frozen) / matrices if matrices else 0.0}


def logits_of(outputs):
    """The logits tensor of a forward's outputs (a tensor, or the first tensor of a tuple/dict)."""
    import torch

    if torch.is_tensor(outputs):
        return outputs
    values = outputs.values() if isinstance(outputs, dict) else outputs
    return next(v for v in values if torch.is_tensor(v))


def radius_along(model, forward, batch, weights, direction):
    """rho_a = pi / Delta_a with Delta_a = max over rows of (max_k a_k - min_k a_k), a = J_z(weights) v:
    the directional derivatives of the logits along the unit direction v, by one JVP, in eval mode
    (as the authors' code, so normalisation statistics and dropout do not enter)."""
    import torch
    from torch.func import functional_call, jvp

    bound = _Bound(model, lambda m, b: logits_of(forward(m, b)))
    was_training = model.training
    model.eval()
    try:
        _, slopes = jvp(lambda ps: functional_call(bound, ps, (batch,), strict=False),
                        ({f"model.{n}": w for n, w in weights.items()},),
                        ({f"model.{n}": d for n, d in direction.items()},))
    finally:
        model.train(was_training)
    slopes = slopes.reshape(-1, slopes.shape[-1])
    delta = (slopes.max(-1).values - slopes.min(-1).values).max()
    return math.pi / max(float(delta), 1e-12)


class SoftmaxStepCap(Method):
    """Ghosts-of-softmax step controller: never step beyond the softmax's radius of convergence.

    The optimizer proposes the update u (u = w_after - w_before); tau = ||u||, v = u / tau,
    a_k = grad z_k . v for each logit z_k of each example of the batch, Delta_a = max_examples
    (max_k a_k - min_k a_k) and rho_a = pi / Delta_a. If tau > r rho_a the update is shortened to
    r rho_a v (r = 1: the paper's bound tau <= rho_a). This is the authors' "exact" controller
    (the effective lr min(lr, r rho_a / ||unit step||)), applied to whatever the run's optimizer proposes.
    """

    name = "softmax-step-cap"
    family = "procedure"
    citation = Citation("Ghosts of Softmax: Complex Singularities That Limit Safe Step Sizes in Cross-Entropy",
                        "Piyush Sao", 2026, "https://arxiv.org/abs/2603.13552")
    fidelity = Fidelity.faithful("authors' code", "piyush314/ghosts-of-softmax tutorials' exact controller: "
                                 "batch JVP in eval mode, Delta_a the largest per-example logit spread, r = 1")
    requires = frozenset({"classification"})
    defaults = {"target_r": 1.0}
    space = {"target_r": LogUniform(0.1, 10.0, limits=POSITIVE)}

    @hookimpl
    def regsuite_run_start(self, model, state):
        self.before = None
        self.capped = 0
        self.steps = 0

    @hookimpl
    def regsuite_after_backward(self, model, state):
        self.before = {n: p.detach().clone() for n, p in named_trainable(model)}

    @hookimpl
    def regsuite_after_step(self, model, state):
        import torch

        before, self.before = self.before, None
        if before is None or state.forward is None:
            return
        params = dict(named_trainable(model))
        update = {n: params[n].detach() - w for n, w in before.items() if n in params}
        tau = float(torch.sqrt(sum((u * u).sum() for u in update.values())))
        self.steps += 1
        if tau <= 0 or not math.isfinite(tau):
            return
        direction = {n: u / tau for n, u in update.items()}
        rho = radius_along(model, state.forward, state.batch, before, direction)
        limit = self.hp["target_r"] * rho
        if tau > limit:
            self.capped += 1
            with torch.no_grad():
                for n, u in update.items():
                    params[n].copy_(before[n] + u * (limit / tau))

    @hookimpl
    def regsuite_run_end(self, model, state):
        return {"step_cap_fraction": self.capped / self.steps if self.steps else 0.0}


@hookimpl
def regsuite_methods():
    return [ForwardGradient, GradES, SoftmaxStepCap]
