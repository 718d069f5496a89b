"""End-of-run diagnostics of the loss landscape and the weights, on one training batch.

A task lists the ones it wants in ``Task.diagnostics``; :func:`regsuite.loop.train_supervised`
computes them after the final evaluation and they are stored as secondary metrics.

- ``hessian_top_eig``: the largest-magnitude eigenvalue of the Hessian of the loss in the
  weights, by Lanczos (scipy ``eigsh``) on Hessian-vector products (double backprop, Pearlmutter
  1994) to a relative tolerance, with ``hessian_top_eig_residual`` = ||Hv - lam v|| / |lam|.
- ``hessian_trace``: Hutchinson's estimator tr(H) = E[z^T H z] with Rademacher z.
- ``grad_norm``: ||grad L||_2 over all trainable weights.
- ``weight_norm``: ||w||_2 over all trainable weights.

The model is put in eval mode (batch norm uses its running statistics, so the loss is a fixed
function of the weights and the statistics are not touched). Random vectors come from a
generator seeded with the run's seed: same seed, same values.
"""

from __future__ import annotations

from typing import Callable

DIAGNOSTICS = ("hessian_top_eig", "hessian_trace", "grad_norm", "weight_norm")


def _dot(xs, ys):
    return sum((x * y).sum() for x, y in zip(xs, ys))


def _norm(xs):
    return _dot(xs, xs).sqrt()


def hessian_vector_product(grads, params, vectors):
    """H v from gradients built with ``create_graph=True``."""
    import torch

    return torch.autograd.grad(grads, params, grad_outputs=vectors, retain_graph=True)


def _flat(xs):
    import torch

    return torch.cat([x.reshape(-1) for x in xs])


def _unflat(vector, params):
    out, start = [], 0
    for p in params:
        out.append(vector[start : start + p.numel()].view_as(p))
        start += p.numel()
    return out


def relative_residual(grads, params, v, eig: float) -> float:
    """||H v - eig v|| / (|eig| ||v||): zero exactly when (eig, v) is an eigenpair."""
    hv = _flat(hessian_vector_product(grads, params, v))
    flat_v = _flat(v)
    scale = max(abs(eig), 1e-30) * float(flat_v.norm())
    return float((hv - eig * flat_v).norm()) / scale


def power_iteration(grads, params, v, max_hvps: int, tol: float) -> tuple[float, list]:
    """v <- Hv / ||Hv|| until the Rayleigh quotient's relative residual is <= tol or the cap is hit."""
    eig = 0.0
    for _ in range(max_hvps):
        hv = hessian_vector_product(grads, params, v)
        eig = float(_dot(v, hv))
        flat_hv, flat_v = _flat(hv), _flat(v)
        norm = float(flat_hv.norm())
        if norm == 0:
            return 0.0, v
        if float((flat_hv - eig * flat_v).norm()) <= tol * max(abs(eig), 1e-30):
            return eig, v
        v = [x / norm for x in hv]
    return eig, v


def hessian_top_eigenvalue(grads, params, max_hvps: int = 300, tol: float = 1e-4, generator=None) -> tuple[float, float]:
    """Largest-magnitude Hessian eigenvalue and its achieved relative residual ||Hv - lam v|| / |lam|.

    Implicitly restarted Lanczos (scipy's ``eigsh``, ARPACK) on Hessian-vector products, to
    ARPACK's relative tolerance ``tol`` with at most about ``max_hvps`` products; plain power
    iteration converges like (lam_2 / lam_1)^t and stalled 14% short mid-training within 20 steps.
    If ARPACK stops without a converged pair, power iteration (same cap) gives the estimate. The
    residual is measured afterwards with one more product, so a caller sees how exact the value is.
    """
    import numpy as np
    import torch
    from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh

    v0 = [torch.randn(p.shape, generator=generator).to(p) for p in params]
    n = sum(p.numel() for p in params)
    dtype = params[0].dtype

    def matvec(x):
        v = _unflat(torch.as_tensor(np.asarray(x).reshape(-1), dtype=dtype).to(params[0].device), params)
        return _flat(hessian_vector_product(grads, params, v)).detach().cpu().double().numpy()

    if n < 3:  # ARPACK needs 1 = k < ncv <= n
        eig, v = power_iteration(grads, params, v0, max_hvps, tol)
    else:
        ncv = min(n, 20)
        operator = LinearOperator((n, n), matvec=matvec, dtype=np.float64)
        start = _flat(v0).detach().cpu().double().numpy()
        try:
            values, vectors = eigsh(operator, k=1, which="LM", v0=start, ncv=ncv, tol=tol, maxiter=max(1, max_hvps // ncv))
            eig, vec = float(values[0]), vectors[:, 0]
            v = _unflat(torch.as_tensor(vec, dtype=dtype).to(params[0].device), params)
        except ArpackNoConvergence:
            eig, v = power_iteration(grads, params, v0, max_hvps, tol)
    if eig == 0.0:
        return 0.0, 0.0
    return eig, relative_residual(grads, params, v, eig)


def hessian_trace(grads, params, samples: int = 20, generator=None) -> float:
    """Hutchinson: mean over Rademacher z (entries +-1) of z^T H z."""
    import torch

    total = 0.0
    for _ in range(samples):
        z = [(torch.randint(0, 2, p.shape, generator=generator) * 2 - 1).to(p) for p in params]
        total += float(_dot(z, hessian_vector_product(grads, params, z)))
    return total / samples


def compute_diagnostics(names, model, loss_of: Callable, seed: int = 0, iters: int = 300, samples: int = 20, tol: float = 1e-4):
    """``{name: value}`` for ``names``; ``loss_of(model)`` returns the scalar loss on one batch.

    ``hessian_top_eig`` also adds ``hessian_top_eig_residual`` (its achieved relative residual);
    ``iters`` caps its Hessian-vector products and ``tol`` is its relative tolerance.
    """
    import torch

    unknown = sorted(set(names) - set(DIAGNOSTICS))
    if unknown:
        raise ValueError(f"unknown diagnostics {unknown}; known: {', '.join(DIAGNOSTICS)}")
    params = [p for p in model.parameters() if p.requires_grad]
    was_training = model.training
    model.eval()
    try:
        out: dict[str, float] = {}
        if "weight_norm" in names:
            with torch.no_grad():
                out["weight_norm"] = float(_norm([p.detach() for p in params]))
        need_hessian = any(n.startswith("hessian") for n in names)
        if need_hessian or "grad_norm" in names:
            loss = loss_of(model)
            grads = torch.autograd.grad(loss, params, create_graph=need_hessian, allow_unused=True)
            # Weights the loss does not use have a zero gradient and zero Hessian rows: drop them.
            used = [(p, g) for p, g in zip(params, grads) if g is not None]
            params, grads = [p for p, _ in used], [g for _, g in used]
            if "grad_norm" in names:
                out["grad_norm"] = float(_norm([g.detach() for g in grads]))
            generator = torch.Generator().manual_seed(seed)
            if "hessian_top_eig" in names:
                eig, residual = hessian_top_eigenvalue(grads, params, iters, tol, generator=generator)
                out["hessian_top_eig"], out["hessian_top_eig_residual"] = eig, residual
            if "hessian_trace" in names:
                out["hessian_trace"] = hessian_trace(grads, params, samples, generator=generator)
        result = {n: out[n] for n in names}
        if "hessian_top_eig" in names:
            result["hessian_top_eig_residual"] = out["hessian_top_eig_residual"]
        return result
    finally:
        model.train(was_training)
