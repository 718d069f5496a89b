"""Continual-learning methods that separate old and new knowledge: UER (logit factors) and CoSO
(gradient subspaces orthogonal to past experiences).

Both need a stream of experiences (capability ``experiences``, the continual suite).
"""

from __future__ import annotations

from regsuite import Citation, Fidelity, IntRange, LogUniform, Method, Uniform, hookimpl
from regsuite.space import Limits

EXPERIENCES = frozenset({"experiences", "classification"})
KEYS = ("x", "y", "task")
REPLAY_KEY = "uer.replayed"


def last_linear(model):
    import torch

    layers = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    if not layers:
        raise RuntimeError("the model has no torch.nn.Linear classifier")
    return layers[-1]


class UER(Method):
    """UER: dot-product logits for replayed samples, angle-only (cosine) logits for new ones.

    The classifier's logit w_k . h + b_k = ||w_k|| ||h|| cos(w_k, h) + b_k mixes a norm factor and an
    angle factor; the norm factor is where new classes bias the model against old ones. Each step
    trains on the incoming batch B_t and a replayed batch B_M (reservoir memory, as ``er``):
        L = [ sum_{B_t} CE(s cos(W, h), y) + sum_{B_M} CE(W h + b, y) ] / (|B_t| + |B_M|)
    with h the input of the last Linear layer and s a scale; both through the task's own loss
    (so a task-incremental mask still applies). B_t is offered to the memory after the step's batch
    is drawn, as in ``er``.
    """

    name = "uer"
    family = "loss"
    citation = Citation(
        "UER: A Heuristic Bias Addressing Approach for Online Continual Learning",
        "Huiwei Lin, Shanshan Feng, Baoquan Zhang, Hongliang Qiao, Xutao Li, Yunming Ye",
        2023,
        "https://arxiv.org/abs/2309.04081",
    )
    fidelity = Fidelity.reconstructed(
        "from the abstract: cosine (angle-only) logits for new samples, full dot-product (norm and angle) logits "
        "for replayed ones, reservoir replay; the scale s and the equal weighting of the two parts are chosen here"
    )
    defaults = {"scale": 10.0, "mem_size": 200, "replay_batch": 32}
    space = {
        "scale": LogUniform(1.0, 64.0, limits=Limits(0.0, low_open=True)),
        "mem_size": IntRange(10, 100000, log=True),
        "replay_batch": IntRange(1, 1024, log=True),
    }
    requires = EXPERIENCES

    @hookimpl
    def regsuite_run_start(self, model, state):
        import torch

        from .continual_replay import ReservoirBuffer

        self.buffer = ReservoirBuffer(self.hp["mem_size"], torch.Generator().manual_seed(state.seed + 404))
        head = last_linear(model)

        def keep(module, args):
            self._features = args[0]

        self._unhook = head.register_forward_pre_hook(keep).remove  # the handle's counter is no run state
        self._head = head

    @hookimpl
    def regsuite_transform_batch(self, batch, state):
        import torch

        incoming = {k: batch[k] for k in KEYS}
        replay = self.buffer.sample(self.hp["replay_batch"])
        self.buffer.add({k: v.detach() for k, v in incoming.items()})
        new = torch.ones(len(incoming["y"]), dtype=torch.bool, device=incoming["y"].device)
        if replay is None:
            return {**incoming, REPLAY_KEY: ~new}
        mixed = {k: torch.cat([incoming[k], replay[k]]) for k in KEYS}
        mixed[REPLAY_KEY] = torch.cat([~new, torch.ones(len(replay["y"]), dtype=torch.bool, device=new.device)])
        return mixed

    def cosine_logits(self, features):
        import torch.nn.functional as F

        return self.hp["scale"] * F.normalize(features.flatten(1), dim=1) @ F.normalize(self._head.weight, dim=1).T

    @hookimpl
    def regsuite_loss(self, outputs, batch, state):
        replayed = batch.get(REPLAY_KEY)
        if replayed is None:
            raise RuntimeError("uer's loss needs its own replay batch (regsuite_transform_batch)")
        new = ~replayed
        sub = lambda m: {k: batch[k][m] for k in KEYS}  # noqa: E731
        n = len(batch["y"])
        loss = state.task_loss(self.cosine_logits(self._features[new]), sub(new)) * (int(new.sum()) / n)
        if replayed.any():
            loss = loss + state.task_loss(outputs[replayed], sub(replayed)) * (int(replayed.sum()) / n)
        return loss

    @hookimpl
    def regsuite_run_end(self, model, state):
        self._unhook()
        self._features = None


class CoSO(Method):
    """CoSO: train each experience in gradient-SVD subspaces orthogonal to the past experiences' subspace.

    For every weight matrix W (out x in, conv kernels flattened) with gradient G and orthonormal
    historical basis M (out x k, empty at first):
        G' = (I - M M^T) G                        (nothing along the past experiences' directions)
        P  = top-r left singular vectors of G'    (refreshed every ``update_every`` steps)
        grad <- P P^T G'                          (the step stays in the current subspace)
    and the experience's task component C = sum_t (P P^T G')(P P^T G')^T accumulates. At the end of an
    experience the leading eigenvectors of (I - M M^T) C (I - M M^T) holding ``energy`` of its trace
    join M. Biases and 1-D parameters are left alone.
    """

    name = "coso"
    family = "gradient-transform"
    citation = Citation(
        "Continuous Subspace Optimization for Continual Learning",
        "Quan Cheng, Yuanyu Wan, Lingyu Wu, Chenping Hou, Lijun Zhang",
        2025,
        "https://arxiv.org/abs/2505.11816",
    )
    fidelity = Fidelity.reconstructed(
        "from the abstract: gradient-SVD subspaces, orthogonal to a historical subspace that a per-task "
        "component updates at each task's end; the projection side (output dimension), the plain projected "
        "gradient handed to the run's optimizer (the paper optimizes in the low-rank space), an exact gradient "
        "covariance as the task component (the paper sketches it with Frequent Directions) and its energy "
        "threshold are chosen here; the paper fine-tunes pre-trained ViTs, here every matrix trains from scratch"
    )
    defaults = {"rank": 8, "update_every": 20, "energy": 0.9}
    space = {
        "rank": IntRange(1, 64, log=True, limits=Limits(1)),
        "update_every": IntRange(1, 500, log=True, limits=Limits(1)),
        "energy": Uniform(0.5, 0.999, limits=Limits(0.0, 1.0, low_open=True)),
    }
    requires = frozenset({"experiences"})

    def __init__(self, hp=None) -> None:
        super().__init__(hp)
        self.bases: dict[int, object] = {}  # parameter position -> M (out x k)
        self.projectors: dict[int, object] = {}
        self.components: dict[int, object] = {}
        self.local_step = 0

    @staticmethod
    def matrices(model):
        return [(i, p) for i, p in enumerate(model.parameters()) if p.ndim >= 2]

    def project(self, i: int, G):
        """The transformed gradient of matrix ``i`` (out x rest); updates its projector and component."""
        import torch

        M = self.bases.get(i)
        if M is not None:
            G = G - M @ (M.T @ G)
        if i not in self.projectors or self.local_step % self.hp["update_every"] == 0:
            U = torch.linalg.svd(G, full_matrices=False)[0]
            self.projectors[i] = U[:, : min(self.hp["rank"], U.shape[1])]
        P = self.projectors[i]
        out = P @ (P.T @ G)
        self.components[i] = self.components.get(i, 0) + out @ out.T
        return out

    @hookimpl
    def regsuite_after_backward(self, model, state):
        import torch

        with torch.no_grad():
            for i, p in self.matrices(model):
                if p.grad is not None:
                    p.grad.copy_(self.project(i, p.grad.reshape(p.shape[0], -1)).reshape(p.shape))
        self.local_step += 1

    @hookimpl
    def regsuite_on_experience_start(self, model, experience, state):
        self.projectors, self.components, self.local_step = {}, {}, 0

    def absorb(self, i: int) -> None:
        """Add the leading directions of matrix ``i``'s task component (outside M) to its basis M."""
        import torch

        C = self.components.get(i)
        if C is None:
            return
        M = self.bases.get(i)
        if M is not None:
            Q = torch.eye(C.shape[0], dtype=C.dtype, device=C.device) - M @ M.T
            C = Q @ C @ Q
        values, vectors = torch.linalg.eigh(C)
        values, vectors = values.flip(0).clamp_min(0), vectors.flip(1)
        total = float(values.sum())
        if total <= 0:
            return
        k = int((values.cumsum(0) < self.hp["energy"] * total).sum()) + 1
        new = vectors[:, :k]
        merged = new if M is None else torch.cat([M, new], 1)
        self.bases[i] = torch.linalg.qr(merged)[0][:, : min(merged.shape[1], C.shape[0])]

    @hookimpl
    def regsuite_on_experience_end(self, model, experience, state):
        for i, _ in self.matrices(model):
            self.absorb(i)
        self.components = {}


@hookimpl
def regsuite_methods():
    return [UER, CoSO]
