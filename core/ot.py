"""Optimal-transport building blocks shared by the optimal-transport suite and its methods.

Both ``regsuite.suites.optimal_transport`` (tasks, pairs, map models) and
``regsuite.plugins.optimal_transport`` (Monge gap, ICNN dual solver) need the
input-convex network and the Sinkhorn loss; plugins and suites do not import
each other, so they live here.

* ``ICNN`` is the input-convex network of Amos, Xu and Kolter (ICML 2017): every
  hidden layer is ``z_{k+1} = softplus(W_x x + W_z^+ z_k + b)`` with non-negative
  ``W_z^+`` (softplus is convex and non-decreasing, so the output is convex in
  ``x``). Non-negativity is a reparameterization (``W_z^+ = softplus(raw) /
  fan_in``), not a projection after each step, so any optimizer keeps the
  potential convex. A quadratic ``0.5 ||L x||^2`` is added (as in the
  "ConvexQuadratic" layers of Korotin et al.'s DenseICNN) so that the gradient
  can represent any symmetric positive linear map; ``L`` starts at the identity.
* ``sinkhorn_loss``: geomloss' ``SamplesLoss("sinkhorn")``, tensorized backend.

This module imports torch at module level: import it only inside task runs and
hooks (``import regsuite`` never imports it).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class ICNN(nn.Module):
    """psi(x) = 0.5 ||L x||^2 + <s, x> + w^+ . z_K(x), convex in x; returns shape (n,)."""

    def __init__(self, dim: int, hidden: tuple[int, ...] = (64, 64), quadratic: bool = True) -> None:
        super().__init__()
        if not hidden:
            raise ValueError("an ICNN needs at least one hidden layer")
        self.dim = dim
        self.first = nn.Linear(dim, hidden[0])
        self.skips = nn.ModuleList(nn.Linear(dim, h) for h in hidden[1:])
        # Raw weights of the z-path; positive through softplus in forward().
        self.z_raw = nn.ParameterList(
            nn.Parameter(torch.randn(h_out, h_in) * 0.1) for h_in, h_out in zip(hidden[:-1], hidden[1:])
        )
        self.out_raw = nn.Parameter(torch.randn(hidden[-1]) * 0.1)
        self.L = nn.Parameter(torch.eye(dim)) if quadratic else None
        # An affine term: without it a translation must be built out of softplus units.
        self.shift = nn.Parameter(torch.zeros(dim))

    @staticmethod
    def _positive(raw: torch.Tensor) -> torch.Tensor:
        return F.softplus(raw) / raw.shape[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = F.softplus(self.first(x))
        for skip, raw in zip(self.skips, self.z_raw):
            z = F.softplus(skip(x) + z @ self._positive(raw).T)
        psi = z @ self._positive(self.out_raw) + x @ self.shift
        if self.L is not None:
            psi = psi + 0.5 * (x @ self.L.T).pow(2).sum(-1)
        return psi


def potential_gradient(potential: nn.Module, x: torch.Tensor, create_graph: bool) -> torch.Tensor:
    """grad_x psi(x) for a batch, by autograd; keeps the graph when training through it."""
    with torch.enable_grad():
        if not x.requires_grad:
            x = x.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(potential(x).sum(), x, create_graph=create_graph)
    return grad


def sinkhorn_loss(blur: float, debias: bool = True):
    """geomloss' Sinkhorn loss with cost 0.5 ||x - y||^2 and epsilon = blur^2 (tensorized: no KeOps).

    ``debias=True`` is the Sinkhorn divergence S_eps(a, b) = OT_eps(a, b) -
    (OT_eps(a, a) + OT_eps(b, b)) / 2; ``debias=False`` is OT_eps itself, the
    entropic cost min_P <P, C> + eps KL(P | a x b).
    """
    from geomloss import SamplesLoss

    return SamplesLoss("sinkhorn", p=2, blur=blur, scaling=0.5, debias=debias, backend="tensorized")
