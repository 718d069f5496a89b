"""Transport-map models: a residual MLP, and the gradient of an input-convex potential.

``ICNNMap`` is T = grad psi with psi the input-convex network ``regsuite.ot.ICNN``
(shared with the ICNN dual solver, a method); its quadratic part starts at the
identity, so an untrained ``ICNNMap`` is close to the identity map.

torch is imported here at module level: this module is only imported from
inside task runs and hooks, never when plugins are discovered.
"""

from __future__ import annotations

import torch
from torch import nn

from regsuite.ot import ICNN, potential_gradient


class ICNNMap(nn.Module):
    """T(x) = grad psi(x) with psi an ICNN (Makkuva et al. 2020; Korotin et al. 2021)."""

    def __init__(self, dim: int, hidden: tuple[int, ...] = (64, 64)) -> None:
        super().__init__()
        self.potential = ICNN(dim, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = potential_gradient(self.potential, x, create_graph=self.training)
        return out if self.training else out.detach()


class MLPMap(nn.Module):
    """T(x) = x + f(x), f an MLP with SiLU activations (the unconstrained maps of the Monge gap paper)."""

    def __init__(self, dim: int, hidden: tuple[int, ...] = (64, 64)) -> None:
        super().__init__()
        layers, width = [], dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.SiLU()]
            width = h
        layers.append(nn.Linear(width, dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


def make_map(kind: str, dim: int, hidden: tuple[int, ...]) -> nn.Module:
    if kind == "mlp":
        return MLPMap(dim, hidden)
    if kind == "icnn":
        return ICNNMap(dim, hidden)
    raise ValueError(f"unknown map model {kind!r}; expected 'mlp' or 'icnn'")
