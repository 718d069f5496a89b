"""Methods that choose which training examples a run trains on (``regsuite_select_training_data``).

* ``data-diet`` (Paul, Ganguli, Dziugaite 2021): score every training example early in training
  (EL2N or GraNd, averaged over several initialisations), drop the easiest, train from scratch on
  the rest.

They run only on tasks that provide ``data_selection`` (the vision tasks), whose loop calls the hook
before the batch stream is built.
"""

from __future__ import annotations

from regsuite import Choice, Citation, Fidelity, Method, Uniform, hookimpl
from regsuite.claims import Claim
from regsuite.space import Limits

SCORES = ("el2n", "grand")


def el2n_scores(model, forward, tensors: dict, device=None, chunk: int = 1024):
    """EL2N(x, y) = || softmax(f(x)) - onehot(y) ||_2 per example, in eval mode, without gradients."""
    import torch
    import torch.nn.functional as F

    was_training = model.training
    model.eval()
    out = []
    n = len(tensors["y"])
    with torch.no_grad():
        for start in range(0, n, chunk):
            batch = {k: v[start : start + chunk].to(device) if device is not None else v[start : start + chunk]
                     for k, v in tensors.items()}
            logits = forward(model, batch)
            probs = logits.to(torch.promote_types(logits.dtype, torch.float32)).softmax(-1)  # bf16/fp16 up
            error = probs - F.one_hot(batch["y"], probs.shape[-1]).float()
            out.append(error.norm(dim=-1).cpu())
    model.train(was_training)
    return torch.cat(out)


def grand_scores(model, forward, tensors: dict, device=None):
    """GraNd(x, y) = || grad_w CE(f(w, x), y) ||_2 per example (all trainable weights), in eval mode.

    Per-example gradients through ``torch.func`` (vmap of grad over a functional call of the task's
    forward), in chunks sized so that one chunk's gradients stay near 2^26 numbers.
    """
    import torch
    import torch.nn.functional as F
    from torch.func import functional_call, grad, vmap

    class Bound(torch.nn.Module):  # the task's forward as a module, so functional_call can rebind weights
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, batch):
            return forward(self.model, batch)

    bound = Bound()
    params = {n: p.detach() for n, p in bound.named_parameters() if p.requires_grad}
    frozen = {n: p.detach() for n, p in bound.named_parameters() if not p.requires_grad}
    buffers = {n: b for n, b in bound.named_buffers()}

    def loss_one(p, example):
        batch = {k: v.unsqueeze(0) for k, v in example.items()}
        logits = functional_call(bound, {**p, **frozen, **buffers}, (batch,))
        return F.cross_entropy(logits.to(torch.promote_types(logits.dtype, torch.float32)), batch["y"])

    per_example = vmap(grad(loss_one), in_dims=(None, 0))
    size = sum(p.numel() for p in params.values())
    chunk = max(1, min(512, 2**26 // max(size, 1)))
    was_training = model.training
    model.eval()
    out = []
    n = len(tensors["y"])
    for start in range(0, n, chunk):
        batch = {k: v[start : start + chunk].to(device) if device is not None else v[start : start + chunk]
                 for k, v in tensors.items()}
        grads = per_example(params, batch)
        squared = sum(g.flatten(1).pow(2).sum(1) for g in grads.values())
        out.append(squared.sqrt().detach().cpu())
    model.train(was_training)
    return torch.cat(out)


def keep_hardest(scores, prune: float):
    """Indices of the examples that survive pruning the fraction ``prune`` with the lowest scores.

    n - round(prune * n) examples are kept: the highest scores, ties broken by the lower index.
    Returned sorted.
    """
    import numpy as np

    scores = np.asarray(scores, dtype=np.float64)
    n = len(scores)
    keep = n - int(round(prune * n))
    order = np.lexsort((np.arange(n), -scores))  # by score descending, then index ascending
    return np.sort(order[:keep])


def init_seed(seed: int, k: int) -> int:
    """The seed of scoring initialisation k of run seed ``seed`` (independent of the run's own stream)."""
    import numpy as np

    return int(np.random.SeedSequence([seed, 2107_07075, k]).generate_state(1, dtype=np.uint64)[0] >> 1)


class DataDiet(Method):
    """Data Diet: train on the examples hardest early in training (EL2N or GraNd scores).

    For each of K independent initialisations w_0^k, train t steps on the full training set (the
    run's optimizer and schedule, the task's loss and batch stream), then score every training
    example in eval mode:
      EL2N(x, y)  = E_k || softmax(f(w_t^k, x)) - onehot(y) ||_2
      GraNd(x, y) = E_k || grad_w CE(f(w_t^k, x), y) ||_2
    Drop the fraction ``prune`` with the lowest scores (keep the hardest) and train the run's model
    from scratch, for its full budget, on the rest (paper, Section 2 and the authors' scripts). t is
    ``score_at`` x the run's steps (the paper's EL2N at epoch 20 of 200 is 0.1). The scoring
    trainings' steps and time count in the run's cost; other methods of a composition act on the
    main training only.
    """

    name = "data-diet"
    family = "procedure"
    citation = Citation("Deep Learning on a Data Diet: Finding Important Examples Early in Training",
                        "Mansheej Paul, Surya Ganguli, Gintare Karolina Dziugaite", 2021,
                        "https://arxiv.org/abs/2107.07075")
    fidelity = Fidelity.faithful(
        "paper", "EL2N and GraNd as defined there, scored in eval mode on the unaugmented training set and "
        "averaged over 10 initialisations, the highest kept, then the full step budget on the kept set (as "
        "the authors' scripts do); the scoring time is the paper's fraction of training (EL2N at epoch 20 of "
        "200 = 0.1 of the run's steps), and the scoring trainings take plain steps of the run's optimizer "
        "and schedule (other methods of a composition act on the main training only)")
    requires = frozenset({"data_selection", "classification"})
    defaults = {"score": "el2n", "prune": 0.5, "score_at": 0.1, "inits": 10}
    space = {
        "score": Choice(list(SCORES)),
        "prune": Uniform(0.1, 0.7, limits=Limits(0.0, 1.0, high_open=True)),
        "score_at": Uniform(0.0, 0.3, limits=Limits(0.0, 1.0)),
    }
    claims = (
        Claim("using EL2N scores calculated a few epochs into training, we can prune half of the CIFAR10 "
              "training set while slightly improving test accuracy", "accuracy_delta", 0.0,
              "CIFAR-10, ResNet18, 200 epochs; EL2N at epoch 20 averaged over 10 initialisations; 50% of "
              "the training set pruned, against training on all of it",
              task="vision/mnist1d-mlp", versus="sgd"),
    )
    version = "1"

    @hookimpl
    def regsuite_select_training_data(self, data, state):
        scores = self.scores(data, state)
        kept = keep_hardest(scores.numpy(), self.hp["prune"])
        self.kept_fraction = len(kept) / len(data)
        return kept

    def scores(self, data, state):
        """The mean score of every training example over ``inits`` short scoring trainings."""
        import torch

        if self.hp["score"] not in SCORES:
            raise ValueError(f"data-diet: score must be one of {', '.join(SCORES)}, got {self.hp['score']!r}")
        if self.hp["inits"] < 1:
            raise ValueError(f"data-diet: inits must be at least 1, got {self.hp['inits']}")
        steps = int(round(self.hp["score_at"] * state.budget.steps))
        score = el2n_scores if self.hp["score"] == "el2n" else grand_scores
        device = state.device
        devices = [device.index or 0] if device is not None and device.type == "cuda" else []
        total = torch.zeros(len(data), dtype=torch.float64)
        for k in range(self.hp["inits"]):
            seed = init_seed(state.seed, k)
            # Own random stream: the run's model, data order and dropout draw what they would without selection.
            with torch.random.fork_rng(devices=devices):
                torch.manual_seed(seed)
                model = data.make_model()
                self._train(model, data, state, steps, torch.Generator().manual_seed(seed))
                total += score(model, state.forward, data.tensors, device).double()
        return total / self.hp["inits"]

    @staticmethod
    def _train(model, data, state, steps: int, generator) -> None:
        """``steps`` plain steps of the run's optimizer (and schedule) on the full training set."""
        if steps == 0:
            return
        optimizer = state.hooks.first("configure_optimizer", model=model, budget=state.budget)
        scheduler = state.hooks.first("configure_scheduler", optimizer=optimizer, budget=state.budget)
        stream = data.make_batches(data.tensors, generator)
        model.train()
        for _ in range(steps):
            batch = next(stream)
            optimizer.zero_grad(set_to_none=True)
            state.task_loss(state.forward(model, batch), batch).backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
        data.charge(steps)

    @hookimpl
    def regsuite_run_end(self, model, state):
        fraction = getattr(self, "kept_fraction", None)
        return {"data_kept_fraction": fraction} if fraction is not None else None


@hookimpl
def regsuite_methods():
    return [DataDiet]
