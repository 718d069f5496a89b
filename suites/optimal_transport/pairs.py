"""Source/target pairs whose optimal transport map (squared-Euclidean cost) is known.

Four families, each fully determined by ``(dim, seed)``:

* ``GaussianPair``: N(m_s, C_s) -> N(m_t, C_t) with random means and random
  covariances (random rotation, eigenvalues in [0.5, 2]). The OT map is the
  affine Bures-Wasserstein map T*(x) = A x + b, from POT's
  ``ot.gaussian.bures_wasserstein_mapping``; Var(target) = trace(C_t) exactly.
* ``ICNNPair`` (Korotin et al., NeurIPS 2021, "Do Neural Optimal Transport
  Solvers Work? A Continuous Wasserstein-2 Benchmark"): the source is a mixture
  of three Gaussians and the target is its push-forward through T* = grad psi,
  psi = 0.5 q ||x||^2 + ICNN(x) a random input-convex network drawn from a
  seeded generator. By Brenier's theorem the gradient of a convex function is
  the OT map from the source to its own push-forward, so T* is known exactly.
  (The benchmark uses pretrained ICNNs; a random one keeps everything offline
  and deterministic.) Var(target) is the trace of the covariance of 2^15 fixed
  target samples. These pairs turned out nearly affine (the best affine map
  scores 7-10% L2-UVP at d = 16..256), so they are kept for the smoke tier only.
* ``RidgePair``: the standard tier's pair, built to be far from affine. The
  source is N(0, I_d); the potential is a convex sum of ridge functions in the
  directions q_k of a random rotation Q,
  ``psi(x) = sum_k [a_k u_k^2 / 2 + b_k s softplus((u_k - t_k) / s)]``, u = Q^T x,
  so ``T*(x) = Q f(u)`` with ``f_k(u) = a_k u_k + b_k sigmoid((u_k - t_k) / s)``:
  the source is contracted (a_k in [0.2, 0.5]) and the tail beyond t_k in
  [0.75, 1.5] standard deviations is pushed b_k in [3, 5] further out, a sharp
  (s = 0.15) step of the map; the target is a mixture of 2^d Gaussian-like
  bumps. Each coordinate of u is independent, so Var(target) = sum_k Var f_k(u_k)
  is a 1-D integral (trapezoid rule on a fine grid here), and so is the best
  affine map's error: L2-UVP ~ 35% at every dimension (the linear baseline of
  Korotin et al.'s benchmark: 14% at d = 2 to 67% at d = 256), where an
  MLP or ICNN map can represent T* exactly.
* ``StarPair``: far from affine, and more so as d grows. The source is N(0, I_d);
  ``psi(x) = a ||x||^2 / 2 + b s logsumexp(+-u_1 / s, ..., +-u_d / s)``, u = Q^T x,
  a smoothed ``a ||x||^2 / 2 + b max_k |u_k|`` (a log-sum-exp of linear functions
  is convex). ``T*(x) = a x + b Q (p_+ - p_-)``, p the softmax of (u, -u) / s:
  each point is pushed by b along the axis +-q_k where |u_k| is largest, so the
  target is a mixture of 2d blobs at the vertices of a cross-polytope of radius
  b = beta sqrt(d). In the sharp limit the best affine map is c I by symmetry and
  its L2-UVP is (1 - M^2 / d) / (a^2 + 2 a M / sqrt(d) + 1) (beta = 1), M = E max_k |u_k|,
  which grows with d; measured at s = 0.1: 13.6 / 34 / 49 / 59% at d = 2 / 16 / 64 /
  256 (the linear baseline 14 / 38 / 57 / 73%, close to Korotin et al.'s 14 -> 67%).
  Var(target) from 2^15 fixed samples, as for ``ICNNPair``.

Samplers take a ``torch.Generator``: the pair's parameters never depend on the
run seed, the sample stream does.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from regsuite.ot import ICNN, potential_gradient

VAR_SAMPLES = 2**15


class Pair:
    """A source sampler, the true map and the target variance."""

    name: str
    dim: int
    target_var: float

    def sample_source(self, n: int, generator: torch.Generator) -> torch.Tensor:
        raise NotImplementedError

    def true_map(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def sample_target(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """Target samples: the true map applied to fresh source samples (independent of any other draw)."""
        return self.true_map(self.sample_source(n, generator))


def _random_covariance(rng: np.random.RandomState, dim: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    q = q * np.sign(np.diag(r))  # a uniformly random rotation
    eig = rng.uniform(0.5, 2.0, size=dim)
    return (q * eig) @ q.T


class GaussianPair(Pair):
    def __init__(self, dim: int, seed: int) -> None:
        import ot

        rng = np.random.RandomState(seed)
        self.name, self.dim = f"gaussian-{dim}d", dim
        self.ms, self.mt = rng.standard_normal(dim), rng.standard_normal(dim)
        self.Cs, self.Ct = _random_covariance(rng, dim), _random_covariance(rng, dim)
        A, b = ot.gaussian.bures_wasserstein_mapping(self.ms, self.mt, self.Cs, self.Ct)
        self.A, self.b = np.asarray(A), np.asarray(b).reshape(dim)
        self.target_var = float(np.trace(self.Ct))
        self._chol = torch.from_numpy(np.linalg.cholesky(self.Cs)).float()
        self._ms = torch.from_numpy(self.ms).float()
        self._A, self._b = torch.from_numpy(self.A).float(), torch.from_numpy(self.b).float()

    def sample_source(self, n, generator):
        z = torch.randn(n, self.dim, generator=generator)
        return self._ms + z @ self._chol.T

    def true_map(self, x):
        # A is symmetric, so x @ A == (A x^T)^T.
        return x @ self._A.to(x.device) + self._b.to(x.device)


class ICNNPair(Pair):
    components = 3

    def __init__(self, dim: int, seed: int, hidden: tuple[int, ...] = (16, 16), quadratic: float = 0.2) -> None:
        gen = torch.Generator().manual_seed(seed)
        self.name, self.dim = f"icnn-pair-{dim}d", dim
        self.means = torch.randn(self.components, dim, generator=gen) * 2.0
        self.potential = ICNN(dim, hidden, quadratic=True)
        with torch.no_grad():
            for p in self.potential.parameters():
                p.copy_(torch.randn(p.shape, generator=gen))
            # A narrow network with sharp kinks: wide random ICNNs average out to nearly
            # quadratic potentials in high dimension (a linear map then scores under 2%
            # L2-UVP); these scales keep the best linear map at 10-20% for d = 2..64.
            self.potential.first.weight.mul_(5.0 / math.sqrt(dim))
            for skip in self.potential.skips:
                skip.weight.mul_(5.0 / math.sqrt(dim))
            for raw in self.potential.z_raw:
                raw.mul_(3.0).add_(2.0)
            self.potential.out_raw.mul_(3.0).add_(math.log(hidden[-1]) + 1.0)
            self.potential.L.copy_(math.sqrt(quadratic) * torch.eye(dim))
        self.potential.requires_grad_(False)
        self.target_var = _trace_cov(self.sample_target(VAR_SAMPLES, torch.Generator().manual_seed(seed + 1)))

    def sample_source(self, n, generator):
        comp = torch.randint(self.components, (n,), generator=generator)
        return self.means[comp] + torch.randn(n, self.dim, generator=generator)

    def true_map(self, x):
        self.potential.to(x.device)
        return potential_gradient(self.potential, x, create_graph=False).detach()


class RidgePair(Pair):
    sharpness = 0.15  # s: the width of each step of the map, in source standard deviations
    grid = np.linspace(-10.0, 10.0, 20_001)  # for the 1-D integrals of Var(target)

    def __init__(self, dim: int, seed: int) -> None:
        rng = np.random.RandomState(seed)
        self.name, self.dim = f"ridge-{dim}d", dim
        q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
        self.Q = q * np.sign(np.diag(r))  # columns: the ridge directions q_k
        self.slope = rng.uniform(0.2, 0.5, size=dim)  # a_k
        self.jump = rng.uniform(3.0, 5.0, size=dim)  # b_k
        self.threshold = rng.uniform(0.75, 1.5, size=dim)  # t_k
        self.target_var = float(self.coordinate_variances().sum())
        self._Q = torch.from_numpy(self.Q).float()
        self._a, self._b, self._t = (torch.from_numpy(v).float() for v in (self.slope, self.jump, self.threshold))

    def coordinate_map(self, u):
        """f_k(u_k) on numpy arrays broadcasting over the last axis (k)."""
        from scipy.special import expit

        return self.slope * u + self.jump * expit((u - self.threshold) / self.sharpness)

    def coordinate_variances(self) -> np.ndarray:
        """Var f_k(u), u ~ N(0, 1), per k: E f^2 - (E f)^2 by the trapezoid rule on ``grid``."""
        u = self.grid[:, None]
        density = np.exp(-0.5 * u**2) / math.sqrt(2 * math.pi)
        f = self.coordinate_map(u)
        mean = np.trapezoid(f * density, self.grid, axis=0)
        return np.trapezoid((f - mean) ** 2 * density, self.grid, axis=0)

    def sample_source(self, n, generator):
        return torch.randn(n, self.dim, generator=generator)

    def true_map(self, x):
        Q = self._Q.to(x.device)
        u = x @ Q
        f = self._a.to(x.device) * u + self._b.to(x.device) * torch.sigmoid((u - self._t.to(x.device)) / self.sharpness)
        return f @ Q.T


class StarPair(Pair):
    slope = 0.5  # a: the source is contracted around the blob centres
    beta = 1.0  # b = beta sqrt(d): blob centres as far out as the source's own radius

    def __init__(self, dim: int, seed: int, sharpness: float = 0.1) -> None:
        rng = np.random.RandomState(seed)
        self.name, self.dim, self.sharpness = f"star-{dim}d", dim, sharpness
        q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
        self.Q = q * np.sign(np.diag(r))  # columns: the star's axes q_k
        self.push = self.beta * math.sqrt(dim)  # b
        self._Q = torch.from_numpy(self.Q).float()
        self.target_var = _trace_cov(self.sample_target(VAR_SAMPLES, torch.Generator().manual_seed(seed + 1)))

    def sample_source(self, n, generator):
        return torch.randn(n, self.dim, generator=generator)

    def true_map(self, x):
        Q = self._Q.to(x.device)
        u = x @ Q
        p = torch.softmax(torch.cat([u, -u], 1) / self.sharpness, 1)
        return self.slope * x + self.push * (p[:, : self.dim] - p[:, self.dim :]) @ Q.T


def _trace_cov(y: torch.Tensor) -> float:
    return float(y.double().var(dim=0, unbiased=True).sum())


@functools.lru_cache(maxsize=16)
def make_pair(kind: str, dim: int, seed: int) -> Pair:
    """The pair of a task; cached per process because building one costs a forward pass on 2^15 points."""
    if kind == "gaussian":
        return GaussianPair(dim, seed)
    if kind == "icnn":
        return ICNNPair(dim, seed)
    if kind == "ridge":
        return RidgePair(dim, seed)
    if kind == "star":
        return StarPair(dim, seed)
    raise ValueError(f"unknown pair kind {kind!r}; expected 'gaussian', 'icnn', 'ridge' or 'star'")
