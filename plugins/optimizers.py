"""Optimizers (family ``optimizer``), each implementing ``regsuite_configure_optimizer``.

Every optimizer here is library-backed: ``torch.optim`` or pytorch-optimizer
(pinned in pyproject.toml and recorded in each run's provenance). Optimizers
written for regsuite are in :mod:`regsuite.plugins.optimizers_own`.
"""

from __future__ import annotations

from regsuite import Claim, Choice, Citation, Fidelity, IntRange, LogUniform, Method, Uniform, hookimpl


class SGD(Method):
    """Stochastic gradient descent with heavy-ball or Nesterov momentum and coupled weight decay.

    v_{t+1} = mu * v_t + (g_t + lambda * w_t);  w_{t+1} = w_t - lr * v_{t+1}
    (Nesterov: w_{t+1} = w_t - lr * (g_t + lambda * w_t + mu * v_{t+1})).
    Implementation: ``torch.optim.SGD``.
    """

    name = "sgd"
    family = "optimizer"
    fidelity = Fidelity.faithful("torch.optim (torch 2.13.0)",
                                 "PyTorch's momentum form v = mu v + g, the same iterates as Sutskever et al.'s "
                                 "for a constant lr")
    citation = Citation(
        "On the importance of initialization and momentum in deep learning",
        "Ilya Sutskever, James Martens, George Dahl, Geoffrey Hinton",
        2013,
        "https://proceedings.mlr.press/v28/sutskever13.html",
    )
    defaults = {"lr": 0.05, "momentum": 0.9, "nesterov": False, "weight_decay": 0.0}
    space = {
        "lr": LogUniform(1e-4, 10.0),
        "momentum": Uniform(0.0, 0.999),
        "nesterov": Choice([False, True]),
        "weight_decay": Uniform(0.0, 0.1),
    }

    @hookimpl
    def regsuite_configure_optimizer(self, model, budget):
        import torch

        hp = self.hp
        return torch.optim.SGD(
            model.parameters(),
            lr=hp["lr"],
            momentum=hp["momentum"],
            nesterov=hp["nesterov"] and hp["momentum"] > 0,
            weight_decay=hp["weight_decay"],
        )


class AdamW(Method):
    """Adam with decoupled weight decay.

    m_t = b1 m + (1-b1) g;  v_t = b2 v + (1-b2) g^2;
    w <- w - lr * (m_hat / (sqrt(v_hat) + eps) + lambda * w).
    Implementation: ``torch.optim.AdamW``.
    """

    name = "adamw"
    family = "optimizer"
    fidelity = Fidelity.faithful("torch.optim (torch 2.13.0)",
                                 "matches the paper's Algorithm 2 with the schedule multiplier folded into lr "
                                 "(decay lr * lambda)")
    citation = Citation(
        "Decoupled Weight Decay Regularization",
        "Ilya Loshchilov, Frank Hutter",
        2019,
        "https://arxiv.org/abs/1711.05101",
    )
    defaults = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01}
    space = {
        "lr": LogUniform(1e-5, 1e-1),
        "beta1": Uniform(0.0, 0.999),
        "beta2": Uniform(0.9, 0.99999),
        "eps": LogUniform(1e-12, 1e-4),
        "weight_decay": Uniform(0.0, 0.5),
    }

    @hookimpl
    def regsuite_configure_optimizer(self, model, budget):
        import torch

        hp = self.hp
        return torch.optim.AdamW(
            model.parameters(),
            lr=hp["lr"],
            betas=(hp["beta1"], hp["beta2"]),
            eps=hp["eps"],
            weight_decay=hp["weight_decay"],
        )


def hidden_matrix_split(model, allow_nd: bool = False) -> tuple[list, list]:
    """Split parameters the way the Muon reference recipe does: ``(hidden, other)``.

    ``hidden``: weight matrices (2-D; with ``allow_nd`` also conv kernels, flattened by
    the optimizer) of every layer except embeddings and the output layer (the last
    module holding a weight matrix). ``other``: embeddings, the output layer, biases,
    norm gains and every other 1-D parameter. Tied parameters are listed once.
    """
    from torch import nn

    owners = [m for m in model.modules() if any(True for _ in m.parameters(recurse=False))]
    with_matrix = [m for m in owners if any(p.ndim >= 2 for p in m.parameters(recurse=False))]
    head = with_matrix[-1] if with_matrix else None
    hidden, other, seen = [], [], set()
    for module in owners:
        for p in module.parameters(recurse=False):
            if id(p) in seen or not p.requires_grad:
                continue
            seen.add(id(p))
            matrix = p.ndim == 2 or (allow_nd and p.ndim > 2)
            if matrix and module is not head and not isinstance(module, nn.Embedding):
                hidden.append(p)
            else:
                other.append(p)
    return hidden, other


class SGDNesterov(Method):
    """SGD with Nesterov momentum: v <- mu v + g;  w <- w - lr (g + mu v).

    Implementation: ``torch.optim.SGD(nesterov=True)``.
    """

    name = "sgd-nesterov"
    family = "optimizer"
    fidelity = Fidelity.faithful("torch.optim (torch 2.13.0)",
                                 "PyTorch's Nesterov form, the same iterates as Sutskever et al.'s for a constant "
                                 "lr")
    citation = SGD.citation
    defaults = {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.0}
    space = {"lr": LogUniform(1e-4, 10.0), "momentum": Uniform(0.01, 0.999), "weight_decay": Uniform(0.0, 0.1)}

    @hookimpl
    def regsuite_configure_optimizer(self, model, budget):
        import torch

        hp = self.hp
        return torch.optim.SGD(model.parameters(), lr=hp["lr"], momentum=hp["momentum"], nesterov=True,
                               weight_decay=hp["weight_decay"])


class Adam(Method):
    """Adam: m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  w <- w - lr m_hat / (sqrt(v_hat) + eps).

    Implementation: ``torch.optim.Adam`` (no weight decay by default, as in the paper).
    """

    name = "adam"
    family = "optimizer"
    fidelity = Fidelity.faithful("torch.optim (torch 2.13.0)", "matches the paper's Algorithm 1")
    citation = Citation("Adam: A Method for Stochastic Optimization", "Diederik P. Kingma, Jimmy Ba", 2015,
                        "https://arxiv.org/abs/1412.6980")
    defaults = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
    space = {"lr": LogUniform(1e-5, 1e-1), "beta1": Uniform(0.0, 0.999), "beta2": Uniform(0.9, 0.99999),
             "eps": LogUniform(1e-12, 1e-4)}

    @hookimpl
    def regsuite_configure_optimizer(self, model, budget):
        import torch

        hp = self.hp
        return torch.optim.Adam(model.parameters(), lr=hp["lr"], betas=(hp["beta1"], hp["beta2"]), eps=hp["eps"])


class NAdamW(Method):
    """NAdamW: Adam with Nesterov momentum and decoupled weight decay.

    NAdam with decoupled weight decay: Adam with a Nesterov look-ahead first moment,
    w <- w - lr (b1 m_hat_{t+1} + (1-b1) g_hat_t) / (sqrt(v_hat) + eps) - lr lambda w.

    Implementation: ``torch.optim.NAdam(decoupled_weight_decay=True)``; lr 2e-3 as in Dozat (2016).
    """

    name = "nadamw"
    family = "optimizer"
    fidelity = Fidelity.adapted("Dozat's NAdam with its momentum-decay schedule, plus Loshchilov & Hutter's "
                                "decoupled weight decay, which Dozat does not have",
                                source="torch.optim.NAdam (torch 2.13.0)")
    citation = Citation("Incorporating Nesterov Momentum into Adam", "Timothy Dozat", 2016,
                        "https://openreview.net/forum?id=OM0jvwB8jIp57ZJjtNEZ")
    defaults = {"lr": 2e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01}
    space = {"lr": LogUniform(1e-5, 1e-1), "beta1": Uniform(0.0, 0.999), "beta2": Uniform(0.9, 0.99999),
             "eps": LogUniform(1e-12, 1e-4), "weight_decay": Uniform(0.0, 0.5)}

    @hookimpl
    def regsuite_configure_optimizer(self, model, budget):
        import torch

        hp = self.hp
        return torch.optim.NAdam(model.parameters(), lr=hp["lr"], betas=(hp["beta1"], hp["beta2"]), eps=hp["eps"],
                                 weight_decay=hp["weight_decay"], decoupled_weight_decay=True)


class Lion(Method):
    """Lion: c = b1 m + (1-b1) g;  w <- w - lr (sign(c) + lambda w);  m <- b2 m + (1-b2) g.

    Implementation: ``pytorch_optimizer.Lion``. The paper advises an lr 3-10x smaller and a
    weight decay 3-10x larger than AdamW's: lr 3e-4 and 0.1 against AdamW's 1e-3 and 0.01.
    """

    name = "lion"
    family = "optimizer"
    fidelity = Fidelity.faithful("pytorch-optimizer 4.1.0",
                                 "matches the paper's Program 1 with decoupled weight decay")
    citation = Citation("Symbolic Discovery of Optimization Algorithms",
                        "Xiangning Chen, Chen Liang, Da Huang, Esteban Real, Kaiyuan Wang, Yao Liu, Hieu Pham, "
                        "Xuanyi Dong, Thang Luong, Cho-Jui Hsieh, Yifeng Lu, Quoc V. Le", 2023,
                        "https://arxiv.org/abs/2302.06675")
    defaults = {"lr": 3e-4, "beta1": 0.9, "beta2": 0.99, "weight_decay": 0.1}
    space = {"lr": LogUniform(1e-6, 1e-2), "beta1": Uniform(0.5, 0.999), "beta2": Uniform(0.9, 0.9999),
             "weight_decay": Uniform(0.0, 2.0)}

    @hookimpl
    def regsuite_configure_optimizer(self, model, budget):
        from pytorch_optimizer import Lion as LionOpt

        hp = self.hp
        return LionOpt(model.parameters(), lr=hp["lr"], betas=(hp["beta1"], hp["beta2"]),
                       weight_decay=hp["weight_decay"], weight_decouple=True)


class Adafactor(Method):
    """Adafactor: Adam-like steps with a factored (row x column) second moment, sublinear memory.

    Factored second moment V ~ R C / sum(R) for matrices, relative step
    rho_t = min(1e-2, 1/sqrt(t)) scaled by max(1e-3, RMS(w)), update clipping at d = 1,
    beta2_t = 1 - t^decay_rate (-0.8), uncapped as in the paper.

    Implementation: ``pytorch_optimizer.AdaFactor`` with the paper's defaults (no first moment).
    The relative step sets the step size itself, so there is no ``lr`` to tune and the plan
    adds no schedule (``schedules_itself``). The library caps beta2_t at ``betas[1]`` and
    requires it below 1: the cap passed is the largest float below 1, which binds only after
    ~1e20 steps, so beta2_t is the paper's (the previous cap, 0.999, bound after 5,624 steps).
    """

    name = "adafactor"
    family = "optimizer"
    version = "2"  # 2: beta2_t uncapped (was capped at 0.999); no lr, no relative_step switch, no added schedule
    schedules_itself = True
    citation = Citation("Adafactor: Adaptive Learning Rates with Sublinear Memory Cost",
                        "Noam Shazeer, Mitchell Stern", 2018, "https://arxiv.org/abs/1804.04235")
    fidelity = Fidelity.faithful("pytorch-optimizer 4.1.0 (matches the paper's Algorithms 4-5 with relative step "
                                 "and update clipping)")
    defaults = {"beta1": 0.0, "decay_rate": -0.8, "clip_threshold": 1.0, "weight_decay": 0.0}
    space = {"beta1": Uniform(0.0, 0.99), "decay_rate": Uniform(-1.0, -0.5), "clip_threshold": Uniform(0.5, 2.0),
             "weight_decay": Uniform(0.0, 0.1)}

    @hookimpl
    def regsuite_configure_optimizer(self, model, budget):
        import math

        import torch
        from pytorch_optimizer import AdaFactor

        hp = self.hp
        return AdaFactor(model.parameters(), lr=None, relative_step=True,
                         betas=(hp["beta1"] or None, math.nextafter(1.0, 0.0)), decay_rate=hp["decay_rate"],
                         clip_threshold=hp["clip_threshold"], weight_decay=hp["weight_decay"],
                         momentum_dtype=torch.float32)


class SOAP(Method):
    """SOAP: Adam in the eigenbasis of Shampoo's Kronecker-factored preconditioner.

    SOAP: Adam run in the eigenbasis of Shampoo's preconditioner (L = E[G G^T], R = E[G^T G]),
    the eigenbasis refreshed every ``precondition_frequency`` steps.

    Implementation: ``pytorch_optimizer.SOAP`` with the paper's defaults.
    """

    name = "soap"
    family = "optimizer"
    fidelity = Fidelity.faithful("pytorch-optimizer 4.1.0",
                                 "the library's SOAP with the paper's defaults; not re-derived against the paper "
                                 "here")
    citation = Citation("SOAP: Improving and Stabilizing Shampoo using Adam",
                        "Nikhil Vyas, Depen Morwani, Rosie Zhao, Mujin Kwun, Itai Shapira, David Brandfonbrener, "
                        "Lucas Janson, Sham Kakade", 2024, "https://arxiv.org/abs/2409.11321")
    defaults = {"lr": 3e-3, "beta1": 0.95, "beta2": 0.95, "weight_decay": 0.01, "precondition_frequency": 10}
    space = {"lr": LogUniform(1e-5, 1e-1), "beta1": Uniform(0.5, 0.999), "beta2": Uniform(0.9, 0.9999),
             "weight_decay": Uniform(0.0, 0.5), "precondition_frequency": IntRange(1, 100, log=True)}

    @hookimpl
    def regsuite_configure_optimizer(self, model, budget):
        from pytorch_optimizer import SOAP as SOAPOpt

        hp = self.hp
        return SOAPOpt(model.parameters(), lr=hp["lr"], betas=(hp["beta1"], hp["beta2"]),
                       weight_decay=hp["weight_decay"], precondition_frequency=hp["precondition_frequency"])


class Shampoo(Method):
    """Shampoo: L += G G^T, R += G^T G;  W <- W - lr L^{-1/4} G R^{-1/4} (one factor per tensor dimension).

    Implementation: ``pytorch_optimizer.Shampoo`` (the original, single-device algorithm), inverse
    roots recomputed every step as in the paper (the library starts them at zero, so a longer
    interval freezes the first steps and lets the roots go stale); lr 0.1, no momentum.
    """

    name = "shampoo"
    claims = (
        Claim("at most a 10% performance reduction in per-step wall-clock time", "step_time_ratio", 1.10,
              "distributed Shampoo against diagonal adaptive methods on ImageNet ResNet-50 (GPUs)",
              task="llm/stdlib-mini", versus="adamw", bound="at_most"),
    )
    family = "optimizer"
    fidelity = Fidelity.faithful("pytorch-optimizer 4.1.0",
                                 "the paper's L^(-1/4) G R^(-1/4) update, roots recomputed every step")
    citation = Citation("Shampoo: Preconditioned Stochastic Tensor Optimization",
                        "Vineet Gupta, Tomer Koren, Yoram Singer", 2018, "https://arxiv.org/abs/1802.09568")
    defaults = {"lr": 0.1, "momentum": 0.0, "weight_decay": 0.0, "preconditioning_compute_steps": 1}
    space = {"lr": LogUniform(1e-4, 10.0), "momentum": Uniform(0.0, 0.99), "weight_decay": Uniform(0.0, 0.1),
             "preconditioning_compute_steps": IntRange(1, 100, log=True)}

    @hookimpl
    def regsuite_configure_optimizer(self, model, budget):
        from pytorch_optimizer import Shampoo as ShampooOpt

        hp = self.hp
        return ShampooOpt(model.parameters(), lr=hp["lr"], momentum=hp["momentum"], weight_decay=hp["weight_decay"],
                          preconditioning_compute_steps=hp["preconditioning_compute_steps"])


class Kron(Method):
    """PSGD Kron: SGD preconditioned by Kronecker factors fitted on a matrix Lie group.

    PSGD Kron: W <- W - lr P m with P = Q^T Q, Q a Kronecker product of triangular factors
    fitted on the Lie group so that P E[h h^T] P ~ E[v v^T] (v random probes, h = Hv).

    Implementation: ``pytorch_optimizer.Kron`` (the reference "Kron" variant). The library starts
    the preconditioner at P = I (the reference scales it from the first gradient), so early
    steps are SGD steps: lr 0.03 here, where the reference's 3e-4 barely moves the weights.
    Memory-save mode "one_diag" (a reference option: the largest dimension of each tensor gets a
    diagonal factor) by default: with dense factors the library's einsums take ~16 s per step
    for a 128-wide layer on CPU.
    """

    name = "kron"
    family = "optimizer"
    fidelity = Fidelity.adapted("the preconditioner starts at P = I (the reference scales it from the first "
                                "gradient), lr 0.03 for that reason, one_diag memory mode",
                                source="pytorch-optimizer 4.1.0")
    citation = Citation("Preconditioner on Matrix Lie Group for SGD", "Xi-Lin Li", 2019,
                        "https://arxiv.org/abs/1809.10232")
    defaults = {"lr": 0.03, "momentum": 0.9, "weight_decay": 0.0, "memory_save_mode": "one_diag"}
    space = {"lr": LogUniform(1e-5, 1.0), "momentum": Uniform(0.0, 0.999), "weight_decay": Uniform(0.0, 0.5),
             "memory_save_mode": Choice(["one_diag", "smart_one_diag", "all_diag", "none"])}

    @hookimpl
    def regsuite_configure_optimizer(self, model, budget):
        from pytorch_optimizer import Kron as KronOpt

        hp = self.hp
        mode = None if hp["memory_save_mode"] == "none" else hp["memory_save_mode"]
        return KronOpt(model.parameters(), lr=hp["lr"], momentum=hp["momentum"], weight_decay=hp["weight_decay"],
                       memory_save_mode=mode)


class ScheduleFreeAdamW(Method):
    """Schedule-free AdamW: no learning-rate schedule; an online average replaces the decay.

    Schedule-free AdamW: gradients at y = (1-b1) z + b1 x;  z <- z - lr g / sqrt(v);
    x <- (1 - c) x + c z with c = lr^2 / sum lr^2 (a weighted average). Evaluation uses x.

    Implementation: ``pytorch_optimizer.ScheduleFreeAdamW``; it schedules itself, so the plan adds
    no schedule to it (``schedules_itself``; only its own warm-up). Weights must be x when evaluated
    and y when trained: after the step before each evaluation this method switches the
    optimizer to x (``optimizer.eval()``) and back to y at the next batch (``transform_batch``,
    the hook that runs first in every step).
    """

    name = "schedule-free-adamw"
    family = "optimizer"
    version = "2"  # 2: the plan adds no schedule (schedules_itself); was cosine on llm standard/full
    schedules_itself = True
    fidelity = Fidelity.faithful("pytorch-optimizer 4.1.0 (matches the paper's Algorithm 1, AdamW form)")
    citation = Citation("The Road Less Scheduled",
                        "Aaron Defazio, Xingyu Alice Yang, Harsh Mehta, Konstantin Mishchenko, Ahmed Khaled, "
                        "Ashok Cutkosky", 2024, "https://arxiv.org/abs/2405.15682")
    defaults = {"lr": 2.5e-3, "beta1": 0.9, "beta2": 0.999, "weight_decay": 0.0, "warmup_frac": 0.05}
    space = {"lr": LogUniform(1e-5, 1e-1), "beta1": Uniform(0.5, 0.99), "beta2": Uniform(0.9, 0.9999),
             "weight_decay": Uniform(0.0, 0.5), "warmup_frac": Uniform(0.0, 0.5)}

    @hookimpl
    def regsuite_configure_optimizer(self, model, budget):
        from pytorch_optimizer import ScheduleFreeAdamW as SF

        hp = self.hp
        self._budget = budget
        return SF(model.parameters(), lr=hp["lr"], betas=(hp["beta1"], hp["beta2"]), weight_decay=hp["weight_decay"],
                  warmup_steps=int(hp["warmup_frac"] * budget.steps))

    @hookimpl
    def regsuite_after_step(self, model, state):
        done = state.step + 1  # state.step counts finished steps before this one
        every = self._budget.eval_every
        if done == self._budget.steps or (every and done % every == 0):
            state.optimizer.eval()

    @hookimpl
    def regsuite_transform_batch(self, batch, state):
        if state.optimizer is not None and not state.optimizer.param_groups[0]["train_mode"]:
            state.optimizer.train()
        return None


class Lookahead(Method):
    """Lookahead: slow weights pulled towards every k-th iterate of a base optimizer.

    Lookahead: k fast steps of a base optimizer, then slow weights phi <- phi + alpha (theta - phi)
    and theta <- phi.

    Implementation: ``pytorch_optimizer.Lookahead`` around any optimizer of :data:`BASES`
    (built with its own defaults).
    """

    name = "lookahead"
    family = "optimizer"
    fidelity = Fidelity.faithful("pytorch-optimizer 4.1.0",
                                 "matches the paper's Algorithm 1 around a base optimizer with its own defaults")
    citation = Citation("Lookahead Optimizer: k steps forward, 1 step back",
                        "Michael R. Zhang, James Lucas, Geoffrey Hinton, Jimmy Ba", 2019,
                        "https://arxiv.org/abs/1907.08610")
    defaults = {"base": "adamw", "k": 5, "alpha": 0.5}
    space = {"base": Choice(["adamw", "sgd", "adam", "nadamw", "lion", "adabelief"]), "k": IntRange(1, 20),
             "alpha": Uniform(0.05, 1.0)}

    @hookimpl
    def regsuite_configure_optimizer(self, model, budget):
        from pytorch_optimizer import Lookahead as LookaheadOpt

        base = BASES[self.hp["base"]]().regsuite_configure_optimizer(model, budget)
        return LookaheadOpt(base, k=self.hp["k"], alpha=self.hp["alpha"])


class AdaBelief(Method):
    """AdaBelief: Adam scaled by the belief in the gradient, the EMA of (g - m)^2.

    AdaBelief: Adam with s = b2 s + (1-b2) (g - m)^2 + eps in place of v: the step is large when
    the gradient agrees with its EMA prediction m and small when it deviates.

    Implementation: ``pytorch_optimizer.AdaBelief`` (decoupled weight decay, eps = 1e-16 as in the paper's code).
    """

    name = "adabelief"
    family = "optimizer"
    fidelity = Fidelity.faithful("pytorch-optimizer 4.1.0",
                                 "the paper's Algorithm 2 with decoupled weight decay, eps 1e-16 as the authors' "
                                 "code")
    citation = Citation("AdaBelief Optimizer: Adapting Stepsizes by the Belief in Observed Gradients",
                        "Juntang Zhuang, Tommy Tang, Yifan Ding, Sekhar Tatikonda, Nicha Dvornek, "
                        "Xenophon Papademetris, James S. Duncan", 2020, "https://arxiv.org/abs/2010.07468")
    defaults = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-16, "weight_decay": 0.0, "rectify": False}
    space = {"lr": LogUniform(1e-5, 1e-1), "beta1": Uniform(0.0, 0.999), "beta2": Uniform(0.9, 0.99999),
             "eps": LogUniform(1e-18, 1e-6), "weight_decay": Uniform(0.0, 0.5), "rectify": Choice([False, True])}

    @hookimpl
    def regsuite_configure_optimizer(self, model, budget):
        from pytorch_optimizer import AdaBelief as Opt

        hp = self.hp
        return Opt(model.parameters(), lr=hp["lr"], betas=(hp["beta1"], hp["beta2"]), eps=hp["eps"],
                   weight_decay=hp["weight_decay"], rectify=hp["rectify"])


class DiffGrad(Method):
    """diffGrad: Adam damped per coordinate by how little the gradient changes.

    diffGrad: Adam step scaled per coordinate by xi = sigmoid(|g_{t-1} - g_t|): small when the
    gradient barely changes (near an optimum), close to Adam's when it changes fast.

    Implementation: ``pytorch_optimizer.DiffGrad``.
    """

    name = "diffgrad"
    family = "optimizer"
    fidelity = Fidelity.faithful("pytorch-optimizer 4.1.0",
                                 "the paper's friction coefficient on Adam; not re-derived against the paper here")
    citation = Citation("diffGrad: An Optimization Method for Convolutional Neural Networks",
                        "Shiv Ram Dubey, Soumendu Chakraborty, Swalpa Kumar Roy, Snehasis Mukherjee, "
                        "Satish Kumar Singh, Bidyut Baran Chaudhuri", 2019, "https://arxiv.org/abs/1909.11015")
    defaults = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0}
    space = {"lr": LogUniform(1e-5, 1e-1), "beta1": Uniform(0.0, 0.999), "beta2": Uniform(0.9, 0.99999),
             "eps": LogUniform(1e-12, 1e-4), "weight_decay": Uniform(0.0, 0.5)}

    @hookimpl
    def regsuite_configure_optimizer(self, model, budget):
        from pytorch_optimizer import DiffGrad as Opt

        hp = self.hp
        return Opt(model.parameters(), lr=hp["lr"], betas=(hp["beta1"], hp["beta2"]), eps=hp["eps"],
                   weight_decay=hp["weight_decay"])


class AdEMAMix(Method):
    """AdEMAMix: Adam with a second, slow EMA of gradients mixed into the step.

    AdEMAMix: Adam with a second, slow momentum m2 (beta3) mixed in:
    w <- w - lr ((m1_hat + alpha m2) / (sqrt(v_hat) + eps) + lambda w).

    Implementation: ``pytorch_optimizer.AdEMAMix``; alpha and beta3 warm up over the whole
    budget (T_alpha = T_beta3 = budget steps) as the paper recommends.
    """

    name = "ademamix"
    claims = (
        Claim("a 1.3B parameter AdEMAMix LLM trained on 101B tokens performs comparably to an AdamW model "
              "trained on 197B tokens (+95%)", "tokens_ratio", 1.95, "1.3B-parameter LLM, 101B vs 197B tokens",
              task="llm/stdlib-mini", versus="adamw"),
    )
    family = "optimizer"
    fidelity = Fidelity.faithful("pytorch-optimizer 4.1.0",
                                 "the paper's update, alpha and beta3 warm-ups over the budget as it recommends")
    citation = Citation("The AdEMAMix Optimizer: Better, Faster, Older",
                        "Matteo Pagliardini, Pierre Ablin, David Grangier", 2024, "https://arxiv.org/abs/2409.03137")
    defaults = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "beta3": 0.9999, "alpha": 5.0, "weight_decay": 0.0}
    space = {"lr": LogUniform(1e-5, 1e-1), "beta1": Uniform(0.0, 0.999), "beta2": Uniform(0.9, 0.99999),
             "beta3": Uniform(0.99, 0.99999), "alpha": Uniform(1.0, 10.0), "weight_decay": Uniform(0.0, 0.5)}

    @hookimpl
    def regsuite_configure_optimizer(self, model, budget):
        from pytorch_optimizer import AdEMAMix as Opt

        hp = self.hp
        return Opt(model.parameters(), lr=hp["lr"], betas=(hp["beta1"], hp["beta2"], hp["beta3"]), alpha=hp["alpha"],
                   t_alpha_beta3=budget.steps, weight_decay=hp["weight_decay"], weight_decouple=True)


class SPAM(Method):
    """SPAM: spike-aware Adam with periodic momentum reset.

    SPAM: Adam with momentum reset every ``reset_interval`` steps (followed by a cosine
    lr warm-up of ``warmup`` steps) and spike-aware clipping of coordinates with
    g^2 > theta * v to sign(g) sqrt(theta v).

    Implementation: ``pytorch_optimizer.SPAM`` (dense, density = 1).
    """

    name = "spam"
    family = "optimizer"
    fidelity = Fidelity.adapted("dense form (density 1): the paper's sparse-momentum variant is not used",
                                source="pytorch-optimizer 4.1.0")
    citation = Citation("SPAM: Spike-Aware Adam with Momentum Reset for Stable LLM Training",
                        "Tianjin Huang, Ziquan Zhu, Gaojie Jin, Lu Liu, Zhangyang Wang, Shiwei Liu", 2025,
                        "https://arxiv.org/abs/2501.06842")
    defaults = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "weight_decay": 0.0, "threshold": 5000,
                "reset_interval": 500, "warmup": 50}
    space = {"lr": LogUniform(1e-5, 1e-1), "beta1": Uniform(0.0, 0.999), "beta2": Uniform(0.9, 0.99999),
             "weight_decay": Uniform(0.0, 0.5), "threshold": IntRange(10, 100000, log=True),
             "reset_interval": IntRange(10, 10000, log=True), "warmup": IntRange(0, 1000)}

    @hookimpl
    def regsuite_configure_optimizer(self, model, budget):
        from pytorch_optimizer import SPAM as Opt

        hp = self.hp
        return Opt(model.parameters(), lr=hp["lr"], betas=(hp["beta1"], hp["beta2"]), weight_decay=hp["weight_decay"],
                   threshold=hp["threshold"], update_proj_gap=hp["reset_interval"], warmup_epoch=hp["warmup"])


class StableSPAM(Method):
    """Stable-SPAM: SPAM with adaptive spike clipping and gradient-norm normalization.

    Stable-SPAM: SPAM with adaptive spike clipping (threshold = EMA of max |g|, gamma1),
    adaptive gradient-norm normalization (EMA of ||g||, gamma2) and periodic momentum reset.

    Implementation: ``pytorch_optimizer.StableSPAM``.
    """

    name = "stable-spam"
    claims = (
        Claim("achieves the same loss as Adam while requiring only about half the training steps", "tokens_ratio",
              2.0, "LLaMA pre-training (60M-1B) on C4, BF16 and 4-bit", task="llm/stdlib-mini", versus="adam"),
    )
    family = "optimizer"
    fidelity = Fidelity.faithful("pytorch-optimizer 4.1.0",
                                 "the library's Stable-SPAM; not re-derived against the paper here")
    citation = Citation("Stable-SPAM: How to Train in 4-Bit More Stably than 16-Bit Adam",
                        "Tianjin Huang, Haotian Hu, Zhenyu Zhang, Gaojie Jin, Xiang Li, Li Shen, Tianlong Chen, "
                        "Lu Liu, Qingsong Wen, Zhangyang Wang, Shiwei Liu", 2025, "https://arxiv.org/abs/2502.17055")
    defaults = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "gamma1": 0.7, "gamma2": 0.9, "theta": 0.999,
                "reset_interval": 1000, "weight_decay": 0.0}
    space = {"lr": LogUniform(1e-5, 1e-1), "beta1": Uniform(0.0, 0.999), "beta2": Uniform(0.9, 0.99999),
             "gamma1": Uniform(0.5, 0.99), "gamma2": Uniform(0.5, 0.999), "theta": Uniform(0.9, 0.9999),
             "reset_interval": IntRange(10, 10000, log=True), "weight_decay": Uniform(0.0, 0.5)}

    @hookimpl
    def regsuite_configure_optimizer(self, model, budget):
        from pytorch_optimizer import StableSPAM as Opt

        hp = self.hp
        return Opt(model.parameters(), lr=hp["lr"], betas=(hp["beta1"], hp["beta2"]), gamma1=hp["gamma1"],
                   gamma2=hp["gamma2"], theta=hp["theta"], update_proj_gap=hp["reset_interval"],
                   weight_decay=hp["weight_decay"])


class Fira(Method):
    """Fira: low-rank Adam state with a norm-scaled full-rank gradient correction.

    Fira: Adam on the rank-r projection P^T G of each hidden weight matrix, plus the
    full-rank residual G - P P^T G scaled by ||psi(R)|| / ||R|| (norm-based scaling),
    with a norm-growth limiter on that correction.

    Implementation: ``pytorch_optimizer.Fira``; hidden matrices as in Muon's split
    (:func:`hidden_matrix_split`), the other parameters plain Adam. rank = ``rank_frac``
    of the smaller matrix side (the paper: rank 128-512 on LLaMA, scale 0.25, gap 200).
    """

    name = "fira"
    family = "optimizer"
    fidelity = Fidelity.adapted("hidden matrices only, rank = rank_frac of the smaller side (the paper fixes "
                                "128-512); the other parameters plain Adam",
                                source="pytorch-optimizer 4.1.0")
    citation = Citation("Fira: Can We Achieve Full-rank Training of LLMs Under Low-rank Constraint?",
                        "Xi Chen, Kaituo Feng, Changsheng Li, Xunhao Lai, Xiangyu Yue, Ye Yuan, Guoren Wang", 2024,
                        "https://arxiv.org/abs/2410.01623")
    defaults = {"lr": 1e-3, "rank_frac": 0.25, "scale": 0.25, "update_proj_gap": 200, "weight_decay": 0.0}
    space = {"lr": LogUniform(1e-5, 1e-1), "rank_frac": Uniform(0.05, 1.0), "scale": Uniform(0.05, 1.0),
             "update_proj_gap": IntRange(10, 2000, log=True), "weight_decay": Uniform(0.0, 0.5)}

    @hookimpl
    def regsuite_configure_optimizer(self, model, budget):
        from pytorch_optimizer import Fira as Opt

        hp = self.hp
        hidden, other = hidden_matrix_split(model)
        groups = [{"params": other}] if other else []
        for p in hidden:  # one group per matrix: the rank depends on its shape
            rank = max(1, int(hp["rank_frac"] * min(p.shape)))
            groups.append({"params": [p], "rank": rank, "update_proj_gap": hp["update_proj_gap"],
                           "scale": hp["scale"], "projection_type": "std"})
        return Opt(groups, lr=hp["lr"], weight_decay=hp["weight_decay"])


# Optimizers that wrappers (lookahead, spectra) can build by name, with their own defaults.
BASES = {cls.name: cls for cls in (SGD, AdamW, Adam, NAdamW, Lion, AdaBelief, AdEMAMix)}

OPTIMIZERS = [SGD, SGDNesterov, Adam, AdamW, NAdamW, Lion, Adafactor, SOAP, Shampoo, Kron, ScheduleFreeAdamW,
              Lookahead, AdaBelief, DiffGrad, AdEMAMix, SPAM, StableSPAM, Fira]


@hookimpl
def regsuite_methods():
    return list(OPTIMIZERS)
