"""Optimizers that project gradients or constrain weights (family ``optimizer``).

GaLore (pytorch-optimizer's), its SVD-free variant that takes the projection from a fixed
DCT basis (the library's GaLore Adam with a DCT projector written here), and LAWN (a base
optimizer whose final homogeneous block keeps its weight norms after a free phase).
torch is imported inside the hooks only.
"""

from __future__ import annotations

import math

from regsuite import Choice, Citation, Fidelity, IntRange, LogUniform, Method, Uniform, hookimpl
from regsuite.space import POSITIVE, PROBABILITY, Limits

from .optimizers import BASES, hidden_matrix_split

GALORE_CITATION = Citation("GaLore: Memory-Efficient LLM Training by Gradient Low-Rank Projection",
                           "Jiawei Zhao, Zhenyu Zhang, Beidi Chen, Zhangyang Wang, Anima Anandkumar, Yuandong Tian",
                           2024, "https://arxiv.org/abs/2403.03507")


def _galore_groups(model, hp: dict) -> list[dict]:
    """Hidden matrices one group each (rank from the matrix's shape), everything else one plain-Adam group."""
    hidden, other = hidden_matrix_split(model)
    groups = [{"params": other}] if other else []
    for p in hidden:
        rank = max(1, int(hp["rank_frac"] * min(p.shape)))
        groups.append({"params": [p], "rank": rank, "update_proj_gap": hp["update_proj_gap"], "scale": hp["scale"],
                       "projection_type": "std"})
    return groups


class GaLore(Method):
    """GaLore: Adam on the rank-r projection of each hidden weight matrix's gradient.

    For G in R^{m x n} (m >= n; otherwise the mirror image on the left): every T steps
    P = V[:, :r] from the SVD G = U S V^T;  R = G P;  Adam moments on R (m x r);
    W <- W - lr * alpha * (m_hat / (sqrt(v_hat) + eps)) P^T - lr * lambda * W.
    Implementation: ``pytorch_optimizer.GaLore`` (Adam with decoupled weight decay); the hidden
    matrices as in Muon's split, rank = ``rank_frac`` of the smaller side, every other parameter
    plain Adam with the same lr. The paper's settings: alpha = 0.25, T = 200, lr 0.01.
    """

    name = "galore"
    family = "optimizer"
    fidelity = Fidelity.adapted("rank = rank_frac of the smaller matrix side (the paper fixes 128-512 on LLaMA); "
                                "embeddings and the output layer are not projected (the paper projects attention "
                                "and MLP matrices only, as here); the library re-takes the SVD one step earlier "
                                "than the reference code (jiaweizzhao/GaLore: at 0-based steps T, 2T, ...; the "
                                "library at 1-based ones), otherwise the reference's Adam update",
                                source="pytorch-optimizer 4.1.0")
    citation = GALORE_CITATION
    defaults = {"lr": 0.01, "rank_frac": 0.25, "scale": 0.25, "update_proj_gap": 200, "weight_decay": 0.0}
    space = {"lr": LogUniform(1e-5, 1e-1, limits=POSITIVE), "rank_frac": Uniform(0.05, 1.0, limits=PROBABILITY),
             "scale": Uniform(0.05, 1.0, limits=POSITIVE),
             "update_proj_gap": IntRange(10, 2000, log=True, limits=Limits(1)),
             "weight_decay": Uniform(0.0, 0.5)}

    @hookimpl
    def regsuite_configure_optimizer(self, model, budget):
        from pytorch_optimizer import GaLore as Opt

        if not 0 < self.hp["rank_frac"] <= 1 or self.hp["update_proj_gap"] < 1:
            raise ValueError("galore needs 0 < rank_frac <= 1 and update_proj_gap >= 1")
        return Opt(_galore_groups(model, self.hp), lr=self.hp["lr"], weight_decay=self.hp["weight_decay"])


def dct_basis(n: int, dtype=None, device=None):
    """The orthonormal DCT-II basis of R^n as columns: Q[i, k] = c_k sqrt(2/n) cos(pi (2i + 1) k / (2n)),
    c_0 = 1/sqrt(2), c_k = 1 otherwise; Q^T Q = I."""
    import torch

    i = torch.arange(n, dtype=torch.float64).unsqueeze(1)
    k = torch.arange(n, dtype=torch.float64).unsqueeze(0)
    q = math.sqrt(2.0 / n) * torch.cos(math.pi * (2 * i + 1) * k / (2 * n))
    q[:, 0] /= math.sqrt(2.0)
    return q.to(dtype=dtype or torch.float32, device=device)


class DCTProjector:
    """GaLore's projector with the basis taken from a fixed DCT matrix instead of an SVD.

    For G in R^{m x n} with m >= n (right projection): S = G Q (Q the n x n DCT basis), the r
    columns of Q with the largest alignment ||S[:, j]||_1 form P (n x r), R = G P and the update
    goes back as U P^T * scale. With m < n the same on the left (Q^T G, rows ranked, P^T G,
    P U). The columns are re-selected every ``update_proj_gap`` steps (the library's step
    count, as for GaLore's SVD), only their indices are kept. Implements the two methods
    ``pytorch_optimizer.GaLore`` calls on its projector (``project``, ``project_back``).
    """

    def __init__(self, rank: int, update_proj_gap: int, scale: float) -> None:
        self.rank, self.update_proj_gap, self.scale = rank, update_proj_gap, scale
        self.basis = None  # the DCT matrix of the projected side, built once
        self.indices = None
        self.right = True

    def _select(self, grad) -> None:
        import torch

        self.right = grad.size(0) >= grad.size(1)
        side = grad.size(1) if self.right else grad.size(0)
        if self.basis is None:
            self.basis = dct_basis(side, dtype=grad.dtype, device=grad.device)
        aligned = grad @ self.basis if self.right else self.basis.T @ grad
        scores = aligned.abs().sum(dim=0 if self.right else 1)
        self.indices = torch.topk(scores, min(self.rank, side)).indices.sort().values

    def projection(self):
        return self.basis[:, self.indices]

    def project(self, grad, num_steps: int):
        if self.indices is None or num_steps % self.update_proj_gap == 0:
            self._select(grad)
        p = self.projection()
        return grad @ p if self.right else p.T @ grad

    def project_back(self, low_rank):
        p = self.projection()
        return (low_rank @ p.T if self.right else p @ low_rank) * self.scale


class DCTGaLore(Method):
    """SVD-free GaLore: the projection's columns chosen from a fixed DCT basis by alignment with the gradient.

    Q = orthonormal DCT-II matrix of the smaller side n (computed once);  every T steps
    I = top-r columns j by ||(G Q)_{:, j}||_1, P = Q[:, I];  then GaLore's step with P:
    R = G P;  Adam moments on R;  W <- W - lr * alpha * (m_hat / (sqrt(v_hat) + eps)) P^T.
    Implementation: ``pytorch_optimizer.GaLore`` with :class:`DCTProjector` (own code) in
    place of its SVD projector; same groups and defaults as ``galore`` except alpha = 1 (the
    authors' DCTAdamW has no scale factor).
    """

    name = "dct-galore"
    family = "optimizer"
    fidelity = Fidelity.adapted("the projection of the authors' DCTAdamW (IST-DASLab/ISTA-DASLab-Optimizers, "
                                "their defaults: L1 ranking, no moment rotation, no error feedback, no scale) "
                                "inside the pinned library's GaLore Adam, which adds eps to sqrt(v) before the "
                                "bias correction and decays after the step (theirs: eps scaled by sqrt(1-b2^t), "
                                "decay first); rank = rank_frac of the smaller side (theirs a fixed rank)",
                                source="authors' code")
    citation = Citation("SVD-Free Low-Rank Adaptive Gradient Optimization for Large Language Models",
                        "Ionut-Vlad Modoranu, Mher Safaryan, Erik Schultheis, Dan Alistarh", 2025,
                        "https://arxiv.org/abs/2505.17967")
    defaults = dict(GaLore.defaults, scale=1.0)  # the authors' DCTAdamW projects back without a scale factor
    space = dict(GaLore.space)

    @hookimpl
    def regsuite_configure_optimizer(self, model, budget):
        opt = GaLore(self.hp).regsuite_configure_optimizer(model, budget)
        for group in opt.param_groups:
            if "rank" in group:
                for p in group["params"]:
                    # GaLore builds its SVD projector only when the state has none.
                    opt.state[p]["projector"] = DCTProjector(group["rank"], group["update_proj_gap"], group["scale"])
        return opt


def final_homogeneous_weights(model) -> list:
    """Weight matrices (ndim >= 2) of the modules after the last normalization layer, in module order.

    The network from its last normalization on is positively homogeneous in these weights (ReLU,
    linear, pooling), so their norms set the logits' scale. Without normalization layers the
    whole network counts. Embeddings are never constrained.
    """
    from torch import nn

    norm_types = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.RMSNorm)
    modules = list(model.modules())
    last_norm = max((i for i, m in enumerate(modules) if isinstance(m, norm_types)), default=-1)
    out, seen = [], set()
    for module in modules[last_norm + 1 :]:
        if isinstance(module, nn.Embedding):
            continue
        for p in module.parameters(recurse=False):
            if p.ndim >= 2 and p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                out.append(p)
    return out


class LAWN(Method):
    """LAWN: a free phase with the base optimizer, then the final homogeneous block's weight norms held fixed.

    Steps 1..F (F = round(free_frac * budget steps)): the base optimizer as it is. At the end of
    step F each weight matrix W_l of the final homogeneous sub-network records c_l = ||W_l||_F;
    after every later step W_l <- c_l W_l / ||W_l||_F (the base step, then the projection back
    onto the sphere). The base optimizer (Adam by default: the paper's largest gains) is built
    with its own defaults and no weight decay of its own added here.
    """

    name = "lawn"
    family = "optimizer"
    fidelity = Fidelity.reconstructed("from the abstract: the norm constraint on the final homogeneous block after a "
                                      "free phase; per-matrix Frobenius norms fixed at their end-of-free-phase values "
                                      "by projection after each step, free-phase length as a budget fraction; the "
                                      "paper's exact constraint form and schedule were not recovered")
    citation = Citation("Logit Attenuating Weight Normalization",
                        "Aman Gupta, Rohan Ramanath, Jun Shi, Anika Ramachandran, Sirou Zhou, Mingzhou Zhou, "
                        "S. Sathiya Keerthi", 2021, "https://arxiv.org/abs/2108.05839")
    version = "2"  # 2: the recorded norms are checkpointed, so a resumed run keeps the same constraint
    defaults = {"base": "adam", "free_frac": 0.2}
    space = {"base": Choice(["adam", "adamw", "sgd", "nadamw", "lion", "adabelief"]),
             "free_frac": Uniform(0.0, 0.8, limits=PROBABILITY)}

    def state_dict(self) -> dict:
        """The norms recorded at the end of the free phase (None while it lasts)."""
        return {"norms": self._norms}

    def load_state_dict(self, saved: dict) -> None:
        self._norms = saved["norms"]

    @hookimpl
    def regsuite_configure_optimizer(self, model, budget):
        self._weights = final_homogeneous_weights(model)
        self._free_steps = round(self.hp["free_frac"] * budget.steps)
        import torch

        with torch.no_grad():  # no free phase: the norms at initialization are kept
            self._norms = [w.norm() for w in self._weights] if self._free_steps == 0 else None
        return BASES[self.hp["base"]]().regsuite_configure_optimizer(model, budget)

    @hookimpl
    def regsuite_after_step(self, model, state):
        import torch

        done = state.step + 1  # steps finished including this one
        if done < self._free_steps:
            return
        with torch.no_grad():
            if self._norms is None:  # the free phase ends with this step, unconstrained
                self._norms = [w.norm() for w in self._weights]
                return
            for w, c in zip(self._weights, self._norms):
                w.mul_(c / w.norm().clamp_min(1e-12))


@hookimpl
def regsuite_methods():
    return [GaLore, DCTGaLore, LAWN]
