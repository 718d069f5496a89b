"""Optimizer algorithms written for regsuite where no well-kept library has them.

Plain ``torch.optim.Optimizer`` classes (no regsuite dependency) used by the
methods in :mod:`regsuite.plugins.optimizers_own`: NAG-GS, Drop-Muon, AdaGO, the
SPECTRA wrapper, and a two-optimizer container for Muon's split of parameters.
The optimizer classes are defined on first attribute access (module ``__getattr__``),
so importing this module does not import torch, like every plugin module.
"""

from __future__ import annotations

import math
from functools import cache

# Quintic Newton-Schulz coefficients of the Muon reference implementation (Jordan et al. 2024).
_NS_COEFFS = (3.4445, -4.7750, 2.0315)


def msign(g: torch.Tensor, steps: int = 5, method: str = "newton-schulz") -> torch.Tensor:
    """Orthogonalize a matrix, ``U V^T`` of ``g = U S V^T`` (exact with "svd", approximate with Newton-Schulz).

    Only the nonzero singular directions count: for a rank-deficient ``g`` the polar factor
    maps its null space to zero (singular values 1 on the range, 0 elsewhere), as the
    Newton-Schulz iteration does. "svd" drops singular values below the usual numerical-rank
    tolerance, max(rows, cols) * eps * s_max.
    """
    import torch

    x = g.float()
    if method == "svd":
        u, s, vh = torch.linalg.svd(x, full_matrices=False)
        tol = max(x.shape) * torch.finfo(x.dtype).eps * (s[0] if s.numel() else 0.0)
        keep = s > tol
        return (u[:, keep] @ vh[keep]).to(g.dtype)
    tall = x.size(0) > x.size(1)
    if tall:
        x = x.T
    x = x / (x.norm() + 1e-7)
    a, b, c = _NS_COEFFS
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return (x.T if tall else x).to(g.dtype)


def newton_schulz_steps_needed(smallest: float, tol: float, cap: int = 100) -> int:
    """Coupled Newton-Schulz steps until the worst eigenvalue's inverse square root is within ``tol``.

    The iteration acts on each eigenvalue lam of Y_0 on its own: x = lam z^2 follows
    x <- x (3 - x)^2 / 4 from x_0 = lam, and the computed lam^{-1/2} is off by the factor
    sqrt(x). The map is increasing on (0, 1], so the smallest eigenvalue converges last:
    iterate the scalar recursion from ``smallest`` until 1 - sqrt(x) < tol (at most ``cap``).
    """
    x, steps = smallest, 0
    while 1.0 - math.sqrt(x) >= tol and steps < cap:
        x = x * (3.0 - x) ** 2 / 4.0
        steps += 1
    return steps


def soft_spectral_clip(u: torch.Tensor, c: float, steps: int | None = None, tol: float = 1e-6) -> torch.Tensor:
    """H_c(U) = (I + U U^T / c^2)^{-1/2} U, i.e. each singular value s -> s / sqrt(1 + s^2 / c^2).

    The inverse square root is the coupled Newton-Schulz iteration
    T = (3I - Z Y) / 2, Y <- Y T, Z <- T Z on A / bound, whose eigenvalues lie in [1 / bound, 1].
    Without ``steps`` the count is :func:`newton_schulz_steps_needed` for relative accuracy
    ``tol`` on every singular value (in exact arithmetic; float32 stops near 1e-5): a fixed
    count is not enough when one singular value dominates, since the others then start near
    1 / bound (10 steps: 21% error on a 768 x 768 sign matrix, 15 steps: 6e-5).
    Vectors are clipped the same way through their Euclidean norm.
    """
    import torch

    if u.ndim < 2:
        norm = u.norm()
        return u / torch.sqrt(1 + (norm / c) ** 2)
    x = u.float().reshape(u.size(0), -1)
    wide = x.size(0) <= x.size(1)
    if not wide:
        x = x.T
    gram = x @ x.T
    # Upper bound on the largest eigenvalue of the Gram matrix: min(Gershgorin, Frobenius).
    bound = torch.minimum(gram.abs().sum(dim=1).max(), gram.norm())
    eye = torch.eye(gram.size(0), dtype=gram.dtype, device=gram.device)
    scale = 1.0 + bound / c**2
    if steps is None:
        steps = newton_schulz_steps_needed(1.0 / float(scale), tol)
    y = (eye + gram / c**2) / scale
    z = eye.clone()
    for _ in range(steps):
        t = 0.5 * (3.0 * eye - z @ y)
        y = y @ t
        z = t @ z
    out = (z / torch.sqrt(scale)) @ x
    return (out if wide else out.T).reshape(u.shape).to(u.dtype)


@cache
def _classes() -> dict:
    import torch

    class OptimizerGroup(torch.optim.Optimizer):
        """Several optimizers over disjoint parameters, stepped together as one.

        ``param_groups`` and ``state`` are the union of the members', so learning-rate
        schedulers and state-memory accounting see every parameter.
        """

        def __init__(self, *optimizers: torch.optim.Optimizer) -> None:
            self.optimizers = [o for o in optimizers if o is not None]
            if not self.optimizers:
                raise ValueError("OptimizerGroup needs at least one optimizer")
            self.defaults = {}
            self._optimizer_step_pre_hooks = {}
            self._optimizer_step_post_hooks = {}

        @property
        def param_groups(self):
            return [g for o in self.optimizers for g in o.param_groups]

        @property
        def state(self):
            merged = {}
            for o in self.optimizers:
                merged.update(o.state)
            return merged

        def step(self, closure=None):
            loss = None
            if closure is not None:
                with torch.enable_grad():
                    loss = closure()
            for o in self.optimizers:
                o.step()
            return loss

        def zero_grad(self, set_to_none: bool = True) -> None:
            for o in self.optimizers:
                o.zero_grad(set_to_none=set_to_none)

        def state_dict(self):
            return {"optimizers": [o.state_dict() for o in self.optimizers]}

        def load_state_dict(self, state_dict) -> None:
            for o, sd in zip(self.optimizers, state_dict["optimizers"]):
                o.load_state_dict(sd)


    class MuonKernels(torch.optim.Optimizer):
        """Muon on conv kernels, flattened to (out_channels, in_channels * kernel) as the reference
        recipe does (``torch.optim.Muon`` takes 2-D parameters only); torch's rule otherwise:

            B <- mu B + (1 - mu) G;  U = G + mu (B - G) (Nesterov) or B;  O = NS5(U flattened);
            W <- (1 - lr wd) W - lr sqrt(max(1, A / B')) O,  A x B' the flattened shape.
        """

        def __init__(self, params, lr: float = 0.02, momentum: float = 0.95, nesterov: bool = True,
                     weight_decay: float = 0.0, ns_steps: int = 5) -> None:
            params = list(params)
            if any(p.ndim < 2 for p in params):
                raise ValueError("MuonKernels takes parameters with at least 2 dimensions")
            super().__init__(params, dict(lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay,
                                          ns_steps=ns_steps))

        @torch.no_grad()
        def step(self, closure=None):
            loss = None
            if closure is not None:
                with torch.enable_grad():
                    loss = closure()
            for group in self.param_groups:
                lr, mu = group["lr"], group["momentum"]
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    g = p.grad.reshape(p.size(0), -1)
                    state = self.state[p]
                    if "momentum_buffer" not in state:
                        state["momentum_buffer"] = torch.zeros_like(g)
                    buf = state["momentum_buffer"]
                    buf.lerp_(g, 1 - mu)
                    update = g.lerp(buf, mu) if group["nesterov"] else buf
                    ortho = msign(update, steps=group["ns_steps"])
                    p.mul_(1 - lr * group["weight_decay"])
                    p.add_(ortho.view_as(p), alpha=-lr * math.sqrt(max(1.0, g.size(0) / g.size(1))))
            return loss


    class NAGGS(torch.optim.Optimizer):
        """NAG-GS (Leplat et al. 2022, Algorithm 1), the Gauss-Seidel discretization of the NAG flow.

        With step alpha, strong-convexity parameter mu and scaling gamma_k (gamma_0 given):
            v_{k+1}     = (gamma_k v_k + alpha mu x_k - alpha g_k) / (gamma_k + alpha mu)
            gamma_{k+1} = (gamma_k + alpha mu) / (1 + alpha)
            x_{k+1}     = (x_k + alpha v_{k+1}) / (1 + alpha)
        with v_0 = x_0 and g_k the stochastic gradient at x_k.
        """

        def __init__(self, params, lr: float = 0.1, mu: float = 1.0, gamma: float = 1.0) -> None:
            if lr <= 0 or mu < 0 or gamma <= 0:
                raise ValueError("NAG-GS needs lr > 0, mu >= 0 and gamma > 0")
            super().__init__(params, {"lr": lr, "mu": mu, "gamma": gamma})

        @torch.no_grad()
        def step(self, closure=None):
            loss = None
            if closure is not None:
                with torch.enable_grad():
                    loss = closure()
            for group in self.param_groups:
                alpha, mu = group["lr"], group["mu"]
                gamma = group.setdefault("gamma_k", group["gamma"])
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    state = self.state[p]
                    if "v" not in state:
                        state["v"] = p.detach().clone()
                    v = state["v"]
                    v.mul_(gamma).add_(p, alpha=alpha * mu).add_(p.grad, alpha=-alpha).div_(gamma + alpha * mu)
                    p.add_(v, alpha=alpha).div_(1 + alpha)
                group["gamma_k"] = (gamma + alpha * mu) / (1 + alpha)
            return loss


    class DropMuon(torch.optim.Optimizer):
        """Drop-Muon (Gruntkowska et al. 2025): Muon steps on a random suffix of the layers.

        Layers are given in forward order. Each step draws s uniformly from
        {0, ..., L-1} (Randomized Progressive Training) and updates layers s..L-1 only:
            M_i <- mu M_i + (1 - mu) G_i,   X_i <- X_i - lr_i * sharp(M_i)     (i >= s)
            M_i, X_i unchanged                                                  (i < s)
        sharp is orthogonalization U V^T (spectral norm, scaled by sqrt(max(1, rows/cols))
        as in Muon) for weights with >= 2 dimensions (flattened to rows x rest) and the
        identity (Euclidean norm) for vectors, stepped with ``vector_lr``.

        Each layer becomes up to two parameter groups tagged with its index ``layer``: its
        matrices (``lr``) and its vectors (``lr`` = ``vector_lr``), so a learning-rate
        schedule scales both step sizes.
        """

        def __init__(self, layers, lr: float = 0.02, vector_lr: float = 0.02, momentum: float = 0.95,
                     ns_steps: int = 5, orthogonalize: str = "newton-schulz", generator=None) -> None:
            groups = []
            for index, params in enumerate(layers):
                params = list(params)
                matrices = [p for p in params if p.ndim >= 2]
                vectors = [p for p in params if p.ndim < 2]
                if matrices:
                    groups.append({"params": matrices, "layer": index, "lr": lr})
                if vectors:
                    groups.append({"params": vectors, "layer": index, "lr": vector_lr})
            self.num_layers = len(layers)
            super().__init__(groups, {"lr": lr, "momentum": momentum, "ns_steps": ns_steps,
                                      "orthogonalize": orthogonalize})
            self.generator = generator
            self.last_active: list[int] = []

        def sample_start(self) -> int:
            return int(torch.randint(self.num_layers, (1,), generator=self.generator))

        @torch.no_grad()
        def step(self, closure=None):
            loss = None
            if closure is not None:
                with torch.enable_grad():
                    loss = closure()
            start = self.sample_start()
            self.last_active = list(range(start, self.num_layers))
            for group in self.param_groups:
                if group["layer"] < start:
                    continue
                mu = group["momentum"]
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    state = self.state[p]
                    if "momentum_buffer" not in state:
                        state["momentum_buffer"] = torch.zeros_like(p)
                    m = state["momentum_buffer"]
                    m.mul_(mu).add_(p.grad, alpha=1 - mu)
                    if p.ndim >= 2:
                        mat = m.reshape(m.size(0), -1)
                        scale = math.sqrt(max(1.0, mat.size(0) / mat.size(1)))
                        update = msign(mat, group["ns_steps"], group["orthogonalize"]).view_as(p)
                        p.add_(update, alpha=-group["lr"] * scale)
                    else:
                        p.add_(m, alpha=-group["lr"])
            return loss


    class AdaGO(torch.optim.Optimizer):
        """AdaGO (Zhang, Liu, Schaeffer 2025): orthogonalized momentum with an AdaGrad-norm step size.

        Per weight matrix (conv kernels flattened to rows x rest), with G_t its gradient:
            M_t = mu M_{t-1} + (1 - mu) G_t
            v_t^2 = v_{t-1}^2 + min(||G_t||_F, gamma)^2                       (v_0 given, > 0)
            alpha_t = max(eps, lr min(||G_t||_F, gamma) / v_t)
            W_t = (1 - lr lambda) W_{t-1} - alpha_t msign(M_t)
        v_t is the square root of the accumulated squared norms, so alpha_1 ~ lr whatever the
        gradient's scale. No shape factor: the paper's update is alpha_t msign(M_t) as it is.
        Decoupled weight decay lambda (0 by default) is regsuite's addition.
        """

        def __init__(self, params, lr: float = 0.05, momentum: float = 0.95, gamma: float = 10.0,
                     eps: float = 5e-4, v0: float = 1e-6, weight_decay: float = 0.0, ns_steps: int = 5,
                     orthogonalize: str = "newton-schulz") -> None:
            if lr <= 0 or gamma <= 0 or eps < 0 or v0 <= 0 or not 0 <= momentum < 1:
                raise ValueError("AdaGO needs lr, gamma, v0 > 0, eps >= 0 and 0 <= momentum < 1")
            super().__init__(params, {"lr": lr, "momentum": momentum, "gamma": gamma, "eps": eps, "v0": v0,
                                      "weight_decay": weight_decay, "ns_steps": ns_steps,
                                      "orthogonalize": orthogonalize})

        @torch.no_grad()
        def step(self, closure=None):
            loss = None
            if closure is not None:
                with torch.enable_grad():
                    loss = closure()
            for group in self.param_groups:
                mu, gamma = group["momentum"], group["gamma"]
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    state = self.state[p]
                    if not state:
                        state["momentum_buffer"] = torch.zeros_like(p)
                        # A device tensor, so the step needs no host synchronization.
                        state["v_sq"] = torch.full((), group["v0"] ** 2, dtype=torch.float32, device=p.device)
                    m = state["momentum_buffer"]
                    m.mul_(mu).add_(p.grad, alpha=1 - mu)
                    capped = p.grad.float().norm().clamp_max(gamma)
                    state["v_sq"].add_(capped.square())
                    alpha = (group["lr"] * capped / state["v_sq"].sqrt()).clamp_min(group["eps"])
                    update = msign(m.reshape(m.size(0), -1), group["ns_steps"], group["orthogonalize"])
                    if group["weight_decay"]:
                        p.mul_(1 - group["lr"] * group["weight_decay"])
                    p.sub_(update.view_as(p) * alpha.to(p.dtype))
            return loss


    class WrappedOptimizer(torch.optim.Optimizer):
        """An optimizer around a ``base`` one, sharing its ``param_groups`` and ``state`` (so
        schedulers and state-memory accounting see the base's); subclasses override ``step``."""

        def __init__(self, base: torch.optim.Optimizer) -> None:
            self.base = base
            self.defaults = base.defaults
            self._optimizer_step_pre_hooks = {}
            self._optimizer_step_post_hooks = {}

        @property
        def param_groups(self):
            return self.base.param_groups

        @property
        def state(self):
            return self.base.state

        def zero_grad(self, set_to_none: bool = True) -> None:
            self.base.zero_grad(set_to_none=set_to_none)

        def state_dict(self):
            return self.base.state_dict()

        def load_state_dict(self, state_dict) -> None:
            self.base.load_state_dict(state_dict)

    class Spectra(WrappedOptimizer):
        """SPECTRA post-clipping (Jiang, Semenov, Stich 2026) around a decoupled-weight-decay optimizer.

        The base step gives X_{k+1}; the update is recovered as U = (X_k - X_{k+1}) / eta - lambda X_k
        and replaced by
            X_{k+1} = (1 - lambda eta) X_k - alpha eta H_c(U),   alpha = sqrt(max(1, rows/cols)),
        with the soft spectral clip H_c of :func:`soft_spectral_clip` (conv kernels flattened to
        rows x rest; vectors clipped by their Euclidean norm with alpha = 1, the reference's "all").
        """

        def __init__(self, base: torch.optim.Optimizer, clip_c: float = 1.0, ns_steps: int | None = None,
                     ns_tol: float = 1e-6) -> None:
            super().__init__(base)
            self.clip_c = clip_c
            self.ns_steps = ns_steps  # None: as many as ns_tol needs (soft_spectral_clip)
            self.ns_tol = ns_tol

        @torch.no_grad()
        def step(self, closure=None):
            before = {}
            for group in self.base.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        before[p] = (p.detach().clone(), group["lr"], group.get("weight_decay", 0.0))
            loss = self.base.step(closure)
            for p, (x_old, lr, wd) in before.items():
                if lr == 0:
                    continue
                u = (x_old - p) / lr - wd * x_old
                clipped = soft_spectral_clip(u, self.clip_c, self.ns_steps, self.ns_tol)
                alpha = math.sqrt(max(1.0, p.size(0) / (p.numel() // p.size(0)))) if p.ndim >= 2 else 1.0
                p.copy_((1 - wd * lr) * x_old - lr * alpha * clipped)
            return loss

    return {"OptimizerGroup": OptimizerGroup, "MuonKernels": MuonKernels, "NAGGS": NAGGS, "DropMuon": DropMuon, "AdaGO": AdaGO,
            "Spectra": Spectra, "WrappedOptimizer": WrappedOptimizer}


def __getattr__(name: str):
    classes = _classes()
    if name in classes:
        return classes[name]
    raise AttributeError(name)
