"""Continual learning by consolidation: online EWC, synaptic intelligence, learning without forgetting.

Registered through ``regsuite.plugins.continual``. Each keeps its state on the method instance
(one instance per run) and acts at the experience boundaries the continual loop signals.
"""

from __future__ import annotations

from regsuite import Citation, Fidelity, IntRange, LogUniform, Method, Uniform, hookimpl

EXPERIENCES = frozenset({"experiences"})


def trainable(model):
    return [(n, p) for n, p in model.named_parameters() if p.requires_grad]


def per_sample_fisher(model, data: dict, state, n_samples: int, generator, chunk: int = 128):
    """Diagonal empirical Fisher: F_i = 1/N sum_n (d log p(y_n | x_n) / d theta_i)^2.

    Per-sample gradients with ``torch.func`` (vmap over ``grad`` of a ``functional_call``), the
    forward going through ``state.forward`` and the loss through ``state.task_loss`` (the task's
    negative log-likelihood, task-incremental masking included). Computed in eval mode.
    """
    import torch
    from torch import nn
    from torch.func import functional_call, grad, vmap

    class _Forward(nn.Module):  # lets functional_call reach the task's forward(model, batch)
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, batch):
            return state.forward(self.inner, batch)

    wrapper = _Forward(model)
    names = [f"inner.{n}" for n, _ in trainable(model)]
    params = {f"inner.{n}": p.detach() for n, p in trainable(model)}
    buffers = {f"inner.{n}": b for n, b in model.named_buffers()}
    n = len(data["y"])
    idx = torch.randperm(n, generator=generator)[: min(n, n_samples)]

    def sample_loss(p, sample):
        batch = {k: v.unsqueeze(0) for k, v in sample.items()}
        return state.task_loss(functional_call(wrapper, (p, buffers), (batch,)), batch)

    per_sample_grad = vmap(grad(sample_loss), in_dims=(None, 0))
    fisher = {k: torch.zeros_like(v) for k, v in params.items()}
    was_training = model.training
    model.eval()
    for start in range(0, len(idx), chunk):
        part = idx[start : start + chunk]
        sample = {k: v[part].to(state.device) for k, v in data.items()}
        grads = per_sample_grad(params, sample)
        for k in names:
            fisher[k] += grads[k].pow(2).sum(0)
    model.train(was_training)
    return [fisher[k] / len(idx) for k in names]


class EWC(Method):
    """Online elastic weight consolidation: a quadratic anchor weighted by the running Fisher.

    After experience t: F* <- gamma * F* + F_t (diagonal empirical Fisher on the experience's data),
    theta* <- theta. Penalty: (lambda / 2) * sum_i F*_i (theta_i - theta*_i)^2.
    """

    name = "ewc"
    family = "regularizer"
    citation = Citation(
        "Progress & Compress: A scalable framework for continual learning",
        "Jonathan Schwarz, Jelena Luketina, Wojciech M. Czarnecki, Agnieszka Grabska-Barwinska, "
        "Yee Whye Teh, Razvan Pascanu, Raia Hadsell", 2018, "https://arxiv.org/abs/1805.06370",
    )
    fidelity = Fidelity.adapted(
        "online EWC as in the paper (F* <- gamma F* + F_t, one anchor), with the empirical Fisher "
        "(gradients at the labels) on a sample of the experience; lambda chosen here"
    )
    defaults = {"lam": 10.0, "gamma": 1.0, "fisher_samples": 256}
    space = {"lam": LogUniform(1e-1, 1e5), "gamma": Uniform(0.0, 1.0), "fisher_samples": IntRange(16, 4096, log=True)}
    requires = EXPERIENCES

    def __init__(self, hp=None):
        super().__init__(hp)
        self.fisher = None
        self.anchor = None

    @hookimpl
    def regsuite_on_experience_end(self, model, experience, state):
        import torch

        generator = torch.Generator().manual_seed(state.seed * 1000 + experience.index)
        new = per_sample_fisher(model, experience.train, state, self.hp["fisher_samples"], generator)
        if self.fisher is None:
            self.fisher = new
        else:
            self.fisher = [self.hp["gamma"] * f + g for f, g in zip(self.fisher, new)]
        self.anchor = [p.detach().clone() for _, p in trainable(model)]

    @hookimpl
    def regsuite_penalty(self, model, outputs, batch, state):
        if self.fisher is None:
            return None
        params = [p for _, p in trainable(model)]
        quad = sum((f * (p - a).pow(2)).sum() for f, p, a in zip(self.fisher, params, self.anchor))
        return 0.5 * self.hp["lam"] * quad


class SI(Method):
    """Synaptic intelligence: importance from each weight's contribution to the loss decrease.

    During experience t: omega_i += -g_i * delta_theta_i per step (g the gradient the optimizer used).
    At its end: Omega_i += omega_i / (Delta_i^2 + xi), Delta_i the total change over the experience;
    omega <- 0, theta~ <- theta. Penalty: c * sum_i Omega_i (theta_i - theta~_i)^2.
    """

    name = "si"
    family = "regularizer"
    citation = Citation(
        "Continual Learning Through Synaptic Intelligence", "Friedemann Zenke, Ben Poole, Surya Ganguli", 2017,
        "https://arxiv.org/abs/1703.04200",
    )
    fidelity = Fidelity.faithful("paper", "path-integral importance from the gradient the optimizer used and each step's update; c and xi chosen here")
    defaults = {"c": 1.0, "xi": 0.1}
    space = {"c": LogUniform(1e-3, 1e2), "xi": LogUniform(1e-4, 1.0)}
    requires = EXPERIENCES

    @hookimpl
    def regsuite_run_start(self, model, state):
        import torch

        params = [p for _, p in trainable(model)]
        self.start = [p.detach().clone() for p in params]
        self.omega = [torch.zeros_like(p) for p in params]
        self.importance = None
        self.pending = None

    @hookimpl
    def regsuite_after_backward(self, model, state):
        self.pending = [(p.detach().clone(), None if p.grad is None else p.grad.detach().clone()) for _, p in trainable(model)]

    @hookimpl
    def regsuite_after_step(self, model, state):
        if self.pending is None:
            return
        for w, p, (before, g) in zip(self.omega, (p for _, p in trainable(model)), self.pending):
            if g is not None:
                w.add_(-g * (p.detach() - before))
        self.pending = None

    @hookimpl
    def regsuite_on_experience_end(self, model, experience, state):
        import torch

        params = [p.detach() for _, p in trainable(model)]
        new = [w / ((p - s).pow(2) + self.hp["xi"]) for w, p, s in zip(self.omega, params, self.start)]
        self.importance = new if self.importance is None else [a + b for a, b in zip(self.importance, new)]
        self.start = [p.clone() for p in params]
        self.omega = [torch.zeros_like(p) for p in params]

    @hookimpl
    def regsuite_penalty(self, model, outputs, batch, state):
        if self.importance is None:
            return None
        params = [p for _, p in trainable(model)]
        return self.hp["c"] * sum((o * (p - s).pow(2)).sum() for o, p, s in zip(self.importance, params, self.start))


class LwF(Method):
    """Learning without forgetting: distil the previous model's outputs on the old classes.

    From experience 2 on, with the model frozen at the experience boundary f_old and the output
    units of the classes seen before (all units in domain-incremental streams), the paper's
    knowledge-distillation loss L_old (Li & Hoiem; T = 2, lambda_o = 1):
    L = L_task + lambda * mean_x [ - sum_k q_k log p_k ],  q = softmax(f_old(x)/T), p = softmax(f(x)/T),
    a cross-entropy between temperature-softened distributions, with no T^2 factor.
    """

    name = "lwf"
    family = "regularizer"
    citation = Citation(
        "Learning without Forgetting", "Zhizhong Li, Derek Hoiem", 2017, "https://arxiv.org/abs/1606.09282",
    )
    fidelity = Fidelity.adapted(
        "the paper's loss and defaults (T = 2, lambda_o = 1), without its warm-up step (new head "
        "trained alone first); one shared head, so the old task's outputs are the units of the "
        "classes seen before, and the old responses come from a frozen copy instead of being recorded"
    )
    defaults = {"lam": 1.0, "temperature": 2.0}
    space = {"lam": LogUniform(1e-2, 1e2), "temperature": LogUniform(0.5, 8.0)}
    requires = EXPERIENCES
    version = "2"

    def __init__(self, hp=None):
        super().__init__(hp)
        self.old = None
        self.seen: set[int] = set()
        self.units = None

    @hookimpl
    def regsuite_on_experience_start(self, model, experience, state):
        import copy

        if not self.seen:
            return
        self.old = copy.deepcopy(model).eval()
        for p in self.old.parameters():
            p.requires_grad_(False)
        self.units = sorted(self.seen)

    @hookimpl
    def regsuite_on_experience_end(self, model, experience, state):
        self.seen.update(experience.classes)

    @hookimpl
    def regsuite_penalty(self, model, outputs, batch, state):
        import torch
        import torch.nn.functional as F

        if self.old is None:
            return None
        with torch.no_grad():
            target = state.forward(self.old, batch)[:, self.units]
        T = self.hp["temperature"]
        log_p = F.log_softmax(outputs[:, self.units] / T, dim=-1)
        q = F.softmax(target / T, dim=-1)
        return self.hp["lam"] * -(q * log_p).sum(-1).mean()
