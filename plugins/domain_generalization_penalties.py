"""The formulas behind the domain-generalization methods, as plain tensor functions.

Kept apart from the method classes (regsuite.plugins.domain_generalization, their
only user, hence here in plugins/ and not in the suite) so tests can check each one
against values computed by hand. Written here from
the papers' equations (DomainBed's algorithms.py, Gulrajani & Lopez-Paz 2021,
for the definitions it shares); torch is imported inside the functions.
"""

from __future__ import annotations

MMD_GAMMAS = (0.001, 0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)  # DomainBed's kernel bandwidths


def domain_indices(domain) -> list:
    """Index tensors of the examples of each training domain, in domain-id order."""
    import torch

    return [torch.nonzero(domain == d, as_tuple=True)[0] for d in torch.unique(domain).tolist()]


def irm_penalty(logits, y):
    """IRMv1 (Arjovsky et al. 2019): (d/dw CE(w * logits, y) at w = 1)^2 on the whole batch, as in the
    authors' code; >= 0, unlike DomainBed's product of two half-batch gradients."""
    import torch
    import torch.nn.functional as F

    scale = torch.ones((), device=logits.device, dtype=logits.dtype, requires_grad=True)
    (grad,) = torch.autograd.grad(F.cross_entropy(logits * scale, y), scale, create_graph=True)
    return grad.pow(2)


def risk_variance(losses):
    """V-REx: the (population) variance of the per-domain risks."""
    return (losses - losses.mean()).pow(2).mean()


def coral(a, b):
    """Deep CORAL as in DomainBed: mean squared difference of the feature means plus of the
    (unbiased) feature covariances."""
    mean_a, mean_b = a.mean(0, keepdim=True), b.mean(0, keepdim=True)
    ca, cb = a - mean_a, b - mean_b
    cov_a = ca.t() @ ca / (len(a) - 1)
    cov_b = cb.t() @ cb / (len(b) - 1)
    return (mean_a - mean_b).pow(2).mean() + (cov_a - cov_b).pow(2).mean()


def mmd(a, b, gammas=MMD_GAMMAS):
    """Squared MMD with the kernel k(x, y) = sum_g exp(-g ||x - y||^2) (biased V-statistic)."""
    import torch

    def kernel(x, y):
        d2 = torch.cdist(x, y).pow(2).clamp_min(1e-30)
        return sum(torch.exp(-g * d2) for g in gammas)

    return kernel(a, a).mean() + kernel(b, b).mean() - 2 * kernel(a, b).mean()


def mean_over_pairs(fn, groups):
    """Average of ``fn(groups[i], groups[j])`` over all pairs i < j; zero with a single domain (nothing to
    align, as when leave-one-domain-out selection trains on one domain)."""
    values = [fn(groups[i], groups[j]) for i in range(len(groups)) for j in range(i + 1, len(groups))]
    return sum(values) / len(values) if values else groups[0].sum() * 0


def groupdro_weights(q, losses, eta: float):
    """Exponentiated-gradient ascent on the domain weights: q_e <- q_e exp(eta * R_e), normalised."""
    import torch

    q = q * torch.exp(eta * losses.detach())
    return q / q.sum()


def head_sample_grads(features, logits, y):
    """Per-example gradients of CE w.r.t. a linear head [W, b]: ((p - onehot(y)) f^T, p - onehot(y)),
    flattened to (n, K*d + K). Closed form of what BackPACK's BatchGrad gives Fishr."""
    import torch
    import torch.nn.functional as F

    delta = logits.softmax(-1) - F.one_hot(y, logits.shape[-1]).to(logits.dtype)
    grad_w = delta.unsqueeze(2) * features.unsqueeze(1)  # (n, K, d)
    return torch.cat([grad_w.flatten(1), delta], dim=1)


def centered_variance(sample_grads):
    """Fishr: per-coordinate variance of the per-example gradients, E[(g - E g)^2]."""
    return (sample_grads - sample_grads.mean(0, keepdim=True)).pow(2).mean(0)


def hutchinson_diagonal(grads, params, probes):
    """Hutchinson's estimate of the Hessian diagonal, mean_z z * (H z), z Rademacher.

    ``grads``: gradients of the loss w.r.t. ``params`` built with ``create_graph=True``;
    ``probes``: flat probe vectors. H z is the gradient of <grad, z> (one Hessian-vector product).
    """
    import torch

    flat = torch.cat([g.flatten() for g in grads])
    out = 0
    for z in probes:
        hz = torch.autograd.grad(flat @ z, params, create_graph=True, retain_graph=True)
        out = out + z * torch.cat([h.flatten() for h in hz])
    return out / len(probes)


def rationales(features, weight):
    """RIDG's rationale of each example for each class: R[k, i] = W_k * f_i (element-wise), (K, n, d)."""
    return weight.unsqueeze(1) * features.unsqueeze(0)


def ridg_penalty(rationale, y, bank):
    """Sum over classes c present of mean_{k, i: y_i = c} ||R[k, i] - bank[c, k]||^2 (bank detached)."""
    total = 0
    for c in y.unique().tolist():
        diff = rationale[:, y == c] - bank[c].unsqueeze(1).detach()
        total = total + diff.pow(2).sum(2).mean()
    return total


def gramian_penalty(features, grad_head, ridge: float):
    """||grad_[W,b] R_e (G_e + ridge I)^{-1}||_F^2 with G_e = mean_i [f_i, 1][f_i, 1]^T, the Gramian of the
    (bias-augmented) representation. For a squared loss, grad * G^{-1} / 2 is the step from the head to the
    domain's own optimal head, so the penalty measures how far the head is from each domain's optimum."""
    import torch

    ones = torch.ones(len(features), 1, device=features.device, dtype=features.dtype)
    phi = torch.cat([features, ones], dim=1)
    gram = phi.t() @ phi / len(phi) + ridge * torch.eye(phi.shape[1], device=phi.device, dtype=phi.dtype)
    solved = torch.linalg.solve(gram, grad_head.t())  # G^{-1} g^T  (G symmetric)
    return solved.pow(2).sum()


def gradient_sensitivity(domain_grads):
    """DSP-Reg's sensitivity: the cross-domain variance of each parameter's gradient (the diagonal of
    the gradient covariance across domains), normalised to mean 1 so the penalty scale is stable."""
    import torch

    g = torch.stack(domain_grads)  # (E, P)
    var = (g - g.mean(0, keepdim=True)).pow(2).mean(0)
    return var / (var.mean() + 1e-12)
