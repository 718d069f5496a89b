"""Continual learning by rehearsal: experience replay, A-GEM and DER++.

Registered through ``regsuite.plugins.continual``. Buffers hold training samples as tensors on
the run's device; sampling uses torch generators seeded from the run seed (deterministic).
Buffered samples keep their ``task`` key, so task-incremental masking applies to them too.
"""

from __future__ import annotations

from regsuite import Citation, Fidelity, IntRange, LogUniform, Method, hookimpl

EXPERIENCES = frozenset({"experiences"})
KEYS = ("x", "y", "task")


class ReservoirBuffer:
    """Reservoir sampling (Vitter 1985): after n insertions every sample seen is stored with
    probability capacity / n. The i-th incoming sample (1-based) fills a free slot, or else
    replaces slot j ~ U{0..i-1} when j < capacity."""

    def __init__(self, capacity: int, generator) -> None:
        self.capacity = capacity
        self.generator = generator
        self.data: dict | None = None
        self.size = 0
        self.seen = 0

    def add(self, samples: dict) -> None:
        import torch

        n = len(samples["y"])
        if self.data is None:
            self.data = {k: torch.empty((self.capacity, *v.shape[1:]), dtype=v.dtype, device=v.device)
                         for k, v in samples.items()}
        for i in range(n):
            self.seen += 1
            if self.size < self.capacity:
                slot = self.size
                self.size += 1
            else:
                slot = int(torch.randint(0, self.seen, (1,), generator=self.generator))
                if slot >= self.capacity:
                    continue
            for k, v in samples.items():
                self.data[k][slot] = v[i]

    def sample(self, n: int) -> dict | None:
        import torch

        if self.size == 0:
            return None
        idx = torch.randperm(self.size, generator=self.generator)[: min(n, self.size)]
        idx = idx.to(self.data["y"].device)
        return {k: v[idx] for k, v in self.data.items()}


class ER(Method):
    """Experience replay with a reservoir buffer.

    Each step trains on the union of the incoming minibatch B_t and a minibatch B_M drawn from
    the memory M: L = CE(B_t u B_M); then B_t is offered to M by reservoir sampling. The mixed
    batch keeps the keys x, y and task only.
    """

    name = "er"
    family = "procedure"
    citation = Citation(
        "On Tiny Episodic Memories in Continual Learning",
        "Arslan Chaudhry, Marcus Rohrbach, Mohamed Elhoseiny, Thalaiyasingam Ajanthan, Puneet K. Dokania, "
        "Philip H. S. Torr, Marc'Aurelio Ranzato", 2019, "https://arxiv.org/abs/1902.10486",
    )
    fidelity = Fidelity.faithful("paper", "reservoir buffer, each step on the union of the incoming and a replayed minibatch; sizes chosen here")
    defaults = {"mem_size": 200, "replay_batch": 32}
    space = {"mem_size": IntRange(10, 100000, log=True), "replay_batch": IntRange(1, 1024, log=True)}
    requires = EXPERIENCES

    @hookimpl
    def regsuite_run_start(self, model, state):
        import torch

        self.buffer = ReservoirBuffer(self.hp["mem_size"], torch.Generator().manual_seed(state.seed + 101))

    @hookimpl
    def regsuite_transform_batch(self, batch, state):
        import torch

        incoming = {k: batch[k] for k in KEYS}
        replay = self.buffer.sample(self.hp["replay_batch"])
        self.buffer.add({k: v.detach() for k, v in incoming.items()})
        if replay is None:
            return None
        return {k: torch.cat([incoming[k], replay[k]]) for k in KEYS}


class AGEM(Method):
    """Averaged gradient episodic memory: never let the step increase the average memory loss.

    g_ref = grad of the loss on a minibatch of the episodic memory; if g . g_ref < 0 the
    gradient becomes g - (g . g_ref / g_ref . g_ref) g_ref. The memory keeps ``mem_per_experience``
    random training samples of each finished experience.
    """

    name = "a-gem"
    family = "gradient-transform"
    citation = Citation(
        "Efficient Lifelong Learning with A-GEM",
        "Arslan Chaudhry, Marc'Aurelio Ranzato, Marcus Rohrbach, Mohamed Elhoseiny", 2019,
        "https://arxiv.org/abs/1812.00420",
    )
    fidelity = Fidelity.faithful("paper", "the A-GEM projection against the gradient of a random memory minibatch; sizes chosen here")
    defaults = {"mem_per_experience": 50, "ref_batch": 256}
    space = {"mem_per_experience": IntRange(1, 10000, log=True), "ref_batch": IntRange(1, 4096, log=True)}
    requires = EXPERIENCES

    @hookimpl
    def regsuite_run_start(self, model, state):
        import torch

        self.generator = torch.Generator().manual_seed(state.seed + 202)
        self.memory: dict | None = None

    @hookimpl
    def regsuite_on_experience_end(self, model, experience, state):
        import torch

        data = experience.train
        idx = torch.randperm(len(data["y"]), generator=self.generator)[: self.hp["mem_per_experience"]]
        chosen = {k: data[k][idx].to(state.device) for k in KEYS}
        self.memory = chosen if self.memory is None else {k: torch.cat([self.memory[k], chosen[k]]) for k in KEYS}

    @hookimpl
    def regsuite_after_backward(self, model, state):
        import torch

        if self.memory is None:
            return
        params = [p for p in model.parameters() if p.requires_grad and p.grad is not None]
        n = len(self.memory["y"])
        idx = torch.randperm(n, generator=self.generator)[: self.hp["ref_batch"]].to(self.memory["y"].device)
        ref = {k: v[idx] for k, v in self.memory.items()}
        ref_loss = state.task_loss(state.forward(model, ref), ref)
        ref_grads = torch.autograd.grad(ref_loss, params, allow_unused=True)
        ref_grads = [torch.zeros_like(p) if g is None else g for p, g in zip(params, ref_grads)]
        project(params, ref_grads)


def project(params, ref_grads) -> None:
    """A-GEM's projection, in place on ``p.grad``: g <- g - min(0, g.g_ref) / (g_ref.g_ref) * g_ref."""
    import torch

    with torch.no_grad():
        dot = sum((p.grad * r).sum() for p, r in zip(params, ref_grads))
        if dot < 0:
            scale = dot / sum(r.pow(2).sum() for r in ref_grads).clamp_min(1e-12)
            for p, r in zip(params, ref_grads):
                p.grad.sub_(scale * r)


class DERpp(Method):
    """Dark experience replay++: replay logits and labels from a reservoir buffer.

    L = CE(B_t) + alpha * mean (f(x') - z')^2 + beta * CE(f(x''), y''), with (x', z') and (x'', y'')
    two independent buffer minibatches, z' the logits recorded when x' was inserted. The squared
    error is averaged over logits, as in the authors' code (mammoth).
    Step contract: the primary pass draws the two replay minibatches and a probe of a step
    procedure reuses them; the incoming batch (with the primary pass's logits) enters the buffer
    after the optimizer step.
    """

    name = "derpp"
    family = "regularizer"
    citation = Citation(
        "Dark Experience for General Continual Learning: a Strong, Simple Baseline",
        "Pietro Buzzega, Matteo Boschini, Angelo Porrello, Davide Abati, Simone Calderara", 2020,
        "https://arxiv.org/abs/2004.07211",
    )
    fidelity = Fidelity.faithful("authors' code", "mammoth's DER++ (logit MSE averaged over logits, two independent buffer minibatches)")
    defaults = {"alpha": 0.1, "beta": 0.5, "mem_size": 200, "replay_batch": 32}
    version = "2"  # buffer and sampler advance once per optimizer step (probes drew new minibatches)
    space = {
        "alpha": LogUniform(1e-3, 10.0),
        "beta": LogUniform(1e-3, 10.0),
        "mem_size": IntRange(10, 100000, log=True),
        "replay_batch": IntRange(1, 1024, log=True),
    }
    requires = EXPERIENCES

    @hookimpl
    def regsuite_run_start(self, model, state):
        import torch

        self.buffer = ReservoirBuffer(self.hp["mem_size"], torch.Generator().manual_seed(state.seed + 303))
        self.replay = None  # this step's (first, second) replay minibatches, from its primary pass
        self.pending = None  # this step's incoming samples and logits, added after the optimizer step

    @hookimpl
    def regsuite_penalty(self, model, outputs, batch, state):
        import torch.nn.functional as F

        if not state.probe:
            first = self.buffer.sample(self.hp["replay_batch"])
            second = self.buffer.sample(self.hp["replay_batch"]) if first is not None else None
            self.replay = (first, second)
            self.pending = {**{k: batch[k].detach() for k in KEYS}, "logits": outputs.detach()}
        first, second = self.replay if self.replay is not None else (None, None)
        if first is None:
            return None
        mse = F.mse_loss(state.forward(model, first), first["logits"])
        ce = state.task_loss(state.forward(model, second), second)
        return self.hp["alpha"] * mse + self.hp["beta"] * ce

    @hookimpl
    def regsuite_after_step(self, model, state):
        if self.pending is not None:
            self.buffer.add(self.pending)
        self.pending = self.replay = None
