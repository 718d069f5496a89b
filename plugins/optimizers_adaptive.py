"""Adaptive optimizers and step-size rules written for regsuite (family ``optimizer``).

Optimistic AMSGrad (AMSGrad with an extra step along a predicted next gradient), variance-
adaptive Muon (Muon-NSR / Muon-VS: the momentum normalized by its noise before Newton-Schulz),
and the learning-rate-vs-batch-size rule (linear for SGD, square root for Adam) as a wrapper
around a base optimizer. The optimizer classes are built on first use (:func:`kernels`), so
importing this module does not import torch.
"""

from __future__ import annotations

from functools import cache

from regsuite import Choice, Citation, Fidelity, IntRange, LogUniform, Method, Uniform, hookimpl
from regsuite.claims import Claim
from regsuite.space import NON_NEGATIVE, POSITIVE, UNIT_OPEN, Limits

from .optimizers import BASES, hidden_matrix_split


def extrapolate(history, reg: float):
    """Regularized minimal polynomial extrapolation of a sequence x_0..x_r (flattened tensors, oldest first).

    U = [x_1 - x_0, ..., x_r - x_{r-1}];  (U^T U + reg * ||U^T U||_2 I) z = 1;  c = z / sum(z);
    returns sum_i c_i x_{i+1}, the estimate of the sequence's limit (here: the next gradient).
    ``reg`` is relative to the scale of U^T U, so the estimate does not depend on the gradients' scale.
    """
    import torch

    xs = torch.stack([h.reshape(-1).double() for h in history])
    u = (xs[1:] - xs[:-1]).T
    gram = u.T @ u
    r = gram.size(0)
    scale = torch.linalg.matrix_norm(gram, ord=2).clamp_min(1e-30)
    z = torch.linalg.solve(gram + reg * scale * torch.eye(r, dtype=gram.dtype), torch.ones(r, dtype=gram.dtype))
    c = z / z.sum()
    return (c @ xs[1:]).reshape(history[-1].shape).to(history[-1].dtype)


@cache
def kernels() -> dict:
    import math

    import torch

    from .optimizer_kernels import msign

    class OptimisticAMSGrad(torch.optim.Optimizer):
        """Optimistic-AMSGrad (Wang, Li, Karimi, Li), Algorithm 2, per parameter:

            theta_t = b1 theta_{t-1} + (1 - b1) g_t;   v_t = b2 v_{t-1} + (1 - b2) g_t^2
            vhat_t = max(vhat_{t-1}, v_t)                                   (vhat_0 = eps)
            w_{t+1/2} = w_{t-1/2} - lr theta_t / sqrt(vhat_t)               (w_{1/2} = w_1)
            w_{t+1}   = w_{t+1/2} - lr h_{t+1} / sqrt(vhat_t),  h_{t+1} = b1 theta_t + (1 - b1) m_{t+1}
        g_t is taken at w_t; m_{t+1} is the guess of g_{t+1}: :func:`extrapolate` of the last
        ``history + 1`` gradients, the latest gradient until that many exist.
        """

        def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, history=5, reg=1e-3):
            if lr <= 0 or eps <= 0 or history < 1 or reg < 0 or not all(0 <= b < 1 for b in betas):
                raise ValueError("optimistic AMSGrad needs lr, eps > 0, history >= 1, reg >= 0, betas in [0, 1)")
            super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "history": history, "reg": reg})

        @torch.no_grad()
        def step(self, closure=None):
            loss = None
            if closure is not None:
                with torch.enable_grad():
                    loss = closure()
            for group in self.param_groups:
                b1, b2 = group["betas"]
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    g = p.grad
                    s = self.state[p]
                    if not s:
                        s["theta"] = torch.zeros_like(p)
                        s["v"] = torch.zeros_like(p)
                        s["vhat"] = torch.full_like(p, group["eps"])
                        s["half"] = p.detach().clone()  # w_{t-1/2}
                        s["grads"] = []
                    s["theta"].mul_(b1).add_(g, alpha=1 - b1)
                    s["v"].mul_(b2).addcmul_(g, g, value=1 - b2)
                    torch.maximum(s["vhat"], s["v"], out=s["vhat"])
                    denom = s["vhat"].sqrt()
                    s["half"].addcdiv_(s["theta"], denom, value=-group["lr"])
                    s["grads"] = (s["grads"] + [g.detach().clone()])[-(group["history"] + 1):]
                    guess = (extrapolate(s["grads"], group["reg"]) if len(s["grads"]) > group["history"]
                             else s["grads"][-1])
                    hint = b1 * s["theta"] + (1 - b1) * guess
                    p.copy_(s["half"]).addcdiv_(hint, denom, value=-group["lr"])
            return loss

    class VarianceAdaptiveMuon(torch.optim.Optimizer):
        """Muon-NSR / Muon-VS (Li, Fan, Li 2026) on weight matrices (conv kernels flattened to rows x rest):

            M_t = b M_{t-1} + (1 - b) G_t;  Gam_t = b Gam_{t-1} + b (1 - b) (M_{t-1} - G_t)^2
            Mhat = M_t / (1 - b^t);  Gamhat = Gam_t / (1 - b^t);  Mtil = G_t + b / (1 - b) Mhat
            NSR: Mbar = Mtil / (sqrt(Mtil^2 + gamma Gamhat) + eps);   VS: Mbar = Mtil / (sqrt(Gamhat) + eps)
            W <- W (1 - lr lambda) - lr 0.2 sqrt(max(A, B)) NS(Mbar)       (A, B = the first two dimensions)
        as in the authors' ``Muon_NSR`` / ``Muon_VS`` (eps outside the root; Moonlight's RMS-matching scale).
        """

        def __init__(self, params, lr=6e-4, beta=0.95, variant="nsr", gamma=10.0, eps=1e-8, weight_decay=0.1,
                     ns_steps=5, orthogonalize="newton-schulz"):
            if lr <= 0 or not 0 < beta < 1 or gamma < 0 or eps <= 0 or variant not in ("nsr", "vs"):
                raise ValueError("variance-adaptive Muon needs lr, eps > 0, 0 < beta < 1, gamma >= 0, nsr|vs")
            super().__init__(params, {"lr": lr, "beta": beta, "variant": variant, "gamma": gamma, "eps": eps,
                                      "weight_decay": weight_decay, "ns_steps": ns_steps,
                                      "orthogonalize": orthogonalize})

        @torch.no_grad()
        def step(self, closure=None):
            loss = None
            if closure is not None:
                with torch.enable_grad():
                    loss = closure()
            for group in self.param_groups:
                b = group["beta"]
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    g = p.grad
                    s = self.state[p]
                    if not s:
                        s["step"], s["m"], s["gam"] = 0, torch.zeros_like(p), torch.zeros_like(p)
                    s["step"] += 1
                    s["gam"].mul_(b).add_((s["m"] - g).square(), alpha=b * (1 - b))  # uses M_{t-1}
                    s["m"].mul_(b).add_(g, alpha=1 - b)
                    correction = 1 - b ** s["step"]
                    m_til = g + (b / (1 - b)) * (s["m"] / correction)
                    gam_hat = s["gam"] / correction
                    extra = m_til.square() + group["gamma"] * gam_hat if group["variant"] == "nsr" else gam_hat
                    m_bar = m_til / (extra.sqrt() + group["eps"])
                    update = msign(m_bar.reshape(p.size(0), -1), group["ns_steps"], group["orthogonalize"])
                    scale = 0.2 * math.sqrt(max(p.shape[0], p.shape[1]))
                    if group["weight_decay"]:
                        p.mul_(1 - group["lr"] * group["weight_decay"])
                    p.add_(update.view_as(p), alpha=-group["lr"] * scale)
            return loss

    from .optimizer_kernels import WrappedOptimizer

    class BatchScaledLR(WrappedOptimizer):
        """A base optimizer whose every step uses lr * factor (the factor set once the batch size is known).

        The scaling is applied inside ``step`` and undone after it, so a learning-rate schedule on
        the shared ``param_groups`` keeps scheduling the unscaled lr and the product is applied.
        """

        def __init__(self, base: torch.optim.Optimizer) -> None:
            super().__init__(base)
            self.factor = None  # set by the method from the first training batch

        def state_dict(self):
            return {"base": self.base.state_dict(), "factor": self.factor}

        def load_state_dict(self, state_dict) -> None:
            self.base.load_state_dict(state_dict["base"])
            self.factor = state_dict["factor"]

        def step(self, closure=None):
            if self.factor is None:
                raise RuntimeError("the batch size is not known yet: no training batch was seen")
            saved = [g["lr"] for g in self.base.param_groups]
            for g in self.base.param_groups:
                g["lr"] = g["lr"] * self.factor
            try:
                return self.base.step(closure)
            finally:
                for g, lr in zip(self.base.param_groups, saved):
                    g["lr"] = lr

    return {"OptimisticAMSGrad": OptimisticAMSGrad, "VarianceAdaptiveMuon": VarianceAdaptiveMuon,
            "BatchScaledLR": BatchScaledLR}


class OptimisticAMSGrad(Method):
    """Optimistic AMSGrad: AMSGrad plus an extra step along the predicted next gradient.

    theta = b1 theta + (1-b1) g;  v = b2 v + (1-b2) g^2;  vhat = max(vhat, v);
    w_{t+1/2} = w_{t-1/2} - lr theta / sqrt(vhat);  w_{t+1} = w_{t+1/2} - lr (b1 theta + (1-b1) m_{t+1}) / sqrt(vhat),
    m_{t+1} the next gradient extrapolated (regularized minimal polynomial extrapolation) from the last
    ``history`` + 1 gradients of the tensor. Own code (:func:`kernels`).
    """

    name = "optimistic-amsgrad"
    family = "optimizer"
    fidelity = Fidelity.reconstructed("the optimistic half-step sequence of the paper's Algorithm 2 (unconstrained), "
                                      "written from memory of the paper and secondary sources, its text not being "
                                      "available here: the hint is the predicted next momentum b1 theta_t + (1 - b1) "
                                      "m_{t+1}; m_{t+1} by regularized minimal polynomial extrapolation per parameter "
                                      "tensor; history 5 and reg 1e-3 are regsuite's choices")
    citation = Citation("An Optimistic Acceleration of AMSGrad for Nonconvex Optimization",
                        "Jun-Kun Wang, Xiaoyun Li, Belhal Karimi, Ping Li", 2021,
                        "https://proceedings.mlr.press/v157/wang21c.html")
    defaults = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "history": 5, "reg": 1e-3}
    space = {"lr": LogUniform(1e-5, 1e-1, limits=POSITIVE),
             "beta1": Uniform(0.0, 0.999, limits=Limits(0.0, 1.0, high_open=True)),
             "beta2": Uniform(0.9, 0.99999, limits=UNIT_OPEN), "eps": LogUniform(1e-12, 1e-4, limits=POSITIVE),
             "history": IntRange(1, 15, limits=Limits(1)), "reg": LogUniform(1e-6, 1.0, limits=NON_NEGATIVE)}

    @hookimpl
    def regsuite_configure_optimizer(self, model, budget):
        hp = self.hp
        if hp["history"] < 1:
            raise ValueError("optimistic-amsgrad needs history >= 1")
        return kernels()["OptimisticAMSGrad"](model.parameters(), lr=hp["lr"], betas=(hp["beta1"], hp["beta2"]),
                                              eps=hp["eps"], history=hp["history"], reg=hp["reg"])


class VarianceAdaptiveMuon(Method):
    """Variance-adaptive Muon (Muon-NSR, Muon-VS): Muon on the momentum normalized by its noise estimate.

    Hidden matrices: M = b M + (1-b) G;  Gam = b Gam + b (1-b) (M_prev - G)^2;  Mtil = G + b/(1-b) Mhat;
    NSR: Mbar = Mtil / (sqrt(Mtil^2 + gamma Gamhat) + eps), VS: Mbar = Mtil / (sqrt(Gamhat) + eps);
    W <- W (1 - lr lambda) - lr 0.2 sqrt(max(rows, cols)) NS5(Mbar). Embeddings, the output layer and
    vectors: AdamW (``adamw_lr``, betas 0.9/0.95, same decay), as in the authors' GPT-2 runs (lr 6e-4,
    decay 0.1, gamma 10). Own code (:func:`kernels`).
    """

    name = "va-muon"
    family = "optimizer"
    fidelity = Fidelity.faithful("authors' code", "jingru-lee/Variance-Adaptive-Muon (NanoGPT Muon_NSR / Muon_VS, "
                                 "GPT-2 config): same update, scale and defaults; Newton-Schulz in float32 here "
                                 "(theirs bfloat16); hidden matrices as in regsuite's Muon split")
    citation = Citation("Variance-Adaptive Muon: Accelerating LLM Pretraining with NSR-Modulated and Variance-Scaled "
                        "Momentum", "Jingru Li, Yibo Fan, Huan Li", 2026, "https://arxiv.org/abs/2601.14603")
    claims = (Claim("on the LLaMA-1.2B model, Muon-NSR and Muon-VS reduce the iterations required to reach the "
                    "target validation loss by 1.36x relative to the well-tuned Muon", "steps_ratio", 1.36,
                    "LLaMA-1.2B pretrained on DCLM, 1x Chinchilla budget", task="llm/stdlib-mini", versus="muon"),)
    defaults = {"lr": 6e-4, "beta": 0.95, "variant": "nsr", "gamma": 10.0, "eps": 1e-8, "weight_decay": 0.1,
                "adamw_lr": 6e-4, "ns_steps": 5, "orthogonalize": "newton-schulz"}
    space = {"lr": LogUniform(1e-5, 1e-1, limits=POSITIVE), "beta": Uniform(0.5, 0.99, limits=UNIT_OPEN),
             "variant": Choice(["nsr", "vs"]), "gamma": LogUniform(0.1, 100.0, limits=NON_NEGATIVE),
             "eps": LogUniform(1e-12, 1e-4, limits=POSITIVE), "weight_decay": Uniform(0.0, 0.5),
             "adamw_lr": LogUniform(1e-5, 1e-1, limits=POSITIVE), "ns_steps": IntRange(1, 10, limits=Limits(1)),
             "orthogonalize": Choice(["newton-schulz", "svd"])}

    @hookimpl
    def regsuite_configure_optimizer(self, model, budget):
        import torch

        from .optimizer_kernels import OptimizerGroup

        hp = self.hp
        hidden, other = hidden_matrix_split(model, allow_nd=True)
        matrices = kernels()["VarianceAdaptiveMuon"](
            hidden, lr=hp["lr"], beta=hp["beta"], variant=hp["variant"], gamma=hp["gamma"], eps=hp["eps"],
            weight_decay=hp["weight_decay"], ns_steps=hp["ns_steps"], orthogonalize=hp["orthogonalize"]) \
            if hidden else None
        rest = torch.optim.AdamW(other, lr=hp["adamw_lr"], betas=(0.9, 0.95),
                                 weight_decay=hp["weight_decay"]) if other else None
        return OptimizerGroup(matrices, rest)


RULE_EXPONENT = {"linear": 1.0, "sqrt": 0.5}
# The rule each base optimizer follows: Goyal et al.'s linear rule for SGD, Malladi et al.'s square root for Adam.
BASE_RULE = {"sgd": "linear", "adam": "sqrt", "adamw": "sqrt"}


class LRBatchRule(Method):
    """The learning-rate-vs-batch-size rule: lr = lr_ref (B / B_ref)^k, k = 1 for SGD, 1/2 for Adam.

    The base optimizer (``base``, built with its own defaults, lr_ref = its ``lr``) is taken to be
    tuned at batch size B_ref = ``reference_batch``; the run trains at the task's batch size B
    (the first training batch's leading dimension), so every step uses lr_ref * (B / B_ref)^k
    times the schedule's factor. Only the learning rate is scaled (not betas or eps).
    """

    name = "lr-batch-rule"
    family = "optimizer"
    fidelity = Fidelity.adapted("the learning-rate part of the rules only: Goyal et al.'s linear rule for SGD (no "
                                "warm-up added) and Malladi et al.'s square-root rule for Adam (their rule also "
                                "rescales 1 - beta and eps; not here); B_ref is a hyperparameter")
    citation = Citation("On the SDEs and Scaling Rules for Adaptive Gradient Algorithms",
                        "Sadhika Malladi, Kaifeng Lyu, Abhishek Panigrahi, Sanjeev Arora", 2022,
                        "https://arxiv.org/abs/2205.10287")
    defaults = {"base": "adam", "reference_batch": 32}
    space = {"base": Choice(sorted(BASE_RULE)), "reference_batch": IntRange(1, 4096, log=True, limits=Limits(1))}

    def factor(self, batch_size: int) -> float:
        return (batch_size / self.hp["reference_batch"]) ** RULE_EXPONENT[BASE_RULE[self.hp["base"]]]

    @hookimpl
    def regsuite_configure_optimizer(self, model, budget):
        if self.hp["reference_batch"] < 1:
            raise ValueError("lr-batch-rule needs reference_batch >= 1")
        base = BASES[self.hp["base"]]().regsuite_configure_optimizer(model, budget)
        self._opt = kernels()["BatchScaledLR"](base)
        return self._opt

    @hookimpl
    def regsuite_transform_batch(self, batch, state):
        if self._opt.factor is None:
            first = batch["x"] if "x" in batch else next(iter(batch.values()))
            self._opt.factor = self.factor(len(first))
        return None


def norm_test_accumulation(sums, squares, count: int, micro_batch: int, eta: float, current: int, cap: int) -> int:
    """The norm test's next accumulation count from ``count`` micro-batch gradients (sums and sums of squares).

    Per-sample variance from the micro-batch means g_j (each the mean of B samples, so Var(g_j) = Sigma / B):
    tr(Sigma) ~ B * sum_coords var_j(g_j) (unbiased); the test asks for b >= tr(Sigma) / (eta^2 ||g||^2),
    g the mean of the g_j. Returns min(cap, max(current, ceil(b / B))): the batch never shrinks.
    """
    import math

    trace, norm_sq = 0.0, 0.0
    for s, q in zip(sums, squares):
        mean = s / count
        trace += float(((q - count * mean.square()) / (count - 1)).clamp_min(0).sum()) * micro_batch
        norm_sq += float(mean.square().sum())
    wanted = trace / (eta**2 * norm_sq) if norm_sq > 0 else math.inf
    return min(cap, max(current, math.ceil(wanted / micro_batch)))


class AdAdaGradBatch(Method):
    """AdAdaGrad-style adaptive batch growth: the norm test grows the batch, by gradient accumulation.

    The task's batch is the micro-batch (size B); an optimizer step averages a consecutive micro-batch
    gradients g_1..g_a (effective batch a B), then the norm test sets
    a <- min(max_accum, max(a, ceil(tr(Sigma) / (eta^2 ||g||^2) / B))), tr(Sigma) = B sum_coords var_j(g_j).
    The run's budget stays in micro-batches (samples, as the paper's budgets), and the schedule
    advances once per micro-batch (the paper's sample-based schedules). With the task's optimizer
    this is AdAdaGrad when that optimizer is AdaGrad, and the same batch rule for any other.
    """

    name = "adadagrad-batch"
    family = "procedure"
    fidelity = Fidelity.adapted("the norm test of the authors' code (timlautk/AdAdaGrad) with their gradient-"
                                "accumulation growth, but tr(Sigma) is estimated from the micro-batch gradients "
                                "of the step (the code uses per-sample gradients), so a step averages at least 2 "
                                "micro-batches; the test runs every step; batches are multiples of the task's",
                                source="authors' code")
    citation = Citation("AdAdaGrad: Adaptive Batch Size Schemes for Adaptive Gradient Methods",
                        "Tim Tsz-Kit Lau, Han Liu, Mladen Kolar", 2024, "https://arxiv.org/abs/2402.11215")
    version = "2"  # 2: a search space whose every point is valid; the accumulation state is checkpointed
    defaults = {"eta": 0.5, "start_accum": 2, "max_accum": 32}
    # The tuner samples each key on its own, so the two ranges meet at 8 rather than overlap: every
    # point has start_accum <= 8 <= max_accum (a user may still set any 2 <= start <= max by hand).
    space = {"eta": LogUniform(0.05, 2.0, limits=POSITIVE), "start_accum": IntRange(2, 8, limits=Limits(2)),
             "max_accum": IntRange(8, 256, log=True, limits=Limits(2))}

    @hookimpl
    def regsuite_run_start(self, model, state):
        if self.hp["start_accum"] < 2 or self.hp["max_accum"] < self.hp["start_accum"]:
            raise ValueError("adadagrad-batch needs 2 <= start_accum <= max_accum")
        self.accum, self._count, self._sums, self._squares = self.hp["start_accum"], 0, None, None

    def state_dict(self) -> dict:
        """The grown accumulation count and a step's partial sums (a checkpoint can fall mid-step)."""
        return {"accum": self.accum, "count": self._count, "sums": self._sums, "squares": self._squares}

    def load_state_dict(self, saved: dict) -> None:
        self.accum, self._count = int(saved["accum"]), int(saved["count"])
        self._sums, self._squares = saved["sums"], saved["squares"]

    @hookimpl
    def regsuite_train_step(self, state):
        import warnings

        import torch

        params = [p for p in state.model.parameters() if p.requires_grad]
        state.zero_grad()
        loss, _ = state.forward_loss(state.batch)
        loss.backward()
        with torch.no_grad():
            grads = [p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p) for p in params]
            if self._count == 0:
                self._sums = grads
                self._squares = [g.square() for g in grads]
            else:
                for s, q, g in zip(self._sums, self._squares, grads):
                    s.add_(g)
                    q.addcmul_(g, g)
        self._count += 1
        if self._count < self.accum:
            if state.scheduler is not None:  # the schedule counts micro-batches (samples)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)  # stepping before the first optimizer step
                    state.scheduler.step()
            return loss
        with torch.no_grad():
            for p, s in zip(params, self._sums):
                p.grad = s / self._count
        state.transform_gradients()
        state.optimizer_step()
        micro_batch = len(state.batch["x"] if "x" in state.batch else next(iter(state.batch.values())))
        self.accum = norm_test_accumulation(self._sums, self._squares, self._count, micro_batch, self.hp["eta"],
                                            self.accum, self.hp["max_accum"])
        self._count = 0
        return loss

    @hookimpl
    def regsuite_run_end(self, model, state):
        return {"final_batch_multiple": float(self.accum)}


@hookimpl
def regsuite_methods():
    return [OptimisticAMSGrad, VarianceAdaptiveMuon, LRBatchRule, AdAdaGradBatch]
