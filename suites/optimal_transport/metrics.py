"""Scores of a fitted map T against the true map T* (Korotin et al., NeurIPS 2021), and W2 on samples.

* L2-UVP (unexplained variance percentage):
  ``100 * E_x ||T(x) - T*(x)||^2 / Var(target)``, Var(target) = trace of the
  target covariance. 0 is perfect; the constant map
  ``T(x) = E[target]`` scores 100.
* cosine: ``<T - id, T* - id>_mu / (||T - id||_mu ||T* - id||_mu)``, the
  cosine between the fitted and the true displacement fields in L2(mu). 1 is
  perfect; it is blind to the displacement's length, so it complements L2-UVP.
* W2: the Wasserstein-2 distance between T#(source samples) and independent
  target samples, with POT's exact solver (``ot.emd2``) on the squared
  Euclidean cost. It needs no true map, but it is biased upward by sampling
  noise (even T* scores above 0), so it is secondary.

Implementation: plain tensor algebra for the first two (no library computes
them); POT for W2.
"""

from __future__ import annotations

import math


def l2_uvp(pred, true, target_var: float) -> float:
    """100 * mean_i ||pred_i - true_i||^2 / target_var."""
    return float(100.0 * (pred - true).pow(2).sum(-1).mean() / target_var)


def cosine(x, pred, true) -> float:
    """Cosine between the displacements pred - x and true - x, in L2 of the sample."""
    fitted, wanted = pred - x, true - x
    inner = (fitted * wanted).sum(-1).mean()
    norms = fitted.pow(2).sum(-1).mean().sqrt() * wanted.pow(2).sum(-1).mean().sqrt()
    if float(norms) == 0.0:
        return 0.0  # the identity map has no direction
    return float(inner / norms)


def target_variance(y) -> float:
    """Trace of the sample covariance (unbiased) of ``y`` (n, d)."""
    return float(y.double().var(dim=0, unbiased=True).sum())


def w2(a, b) -> float:
    """Exact W2 between two uniform empirical measures (POT network simplex on squared distances)."""
    import numpy as np
    import ot

    a = a.detach().double().cpu().numpy()
    b = b.detach().double().cpu().numpy()
    cost = ot.dist(a, b, metric="sqeuclidean")
    value = ot.emd2(np.full(len(a), 1 / len(a)), np.full(len(b), 1 / len(b)), cost, numItermax=1_000_000)
    return math.sqrt(max(float(value), 0.0))

