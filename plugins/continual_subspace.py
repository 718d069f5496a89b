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


@hookimpl
def regsuite_methods():
    return [UER]
