"""Gradient surgery (family ``gradient-transform``): methods that change the gradient the optimizer
applies from its parts, not only from the final ``p.grad``.

* ``perp-grad`` (⊥Grad) needs only ``p.grad`` and the weights: a ``regsuite_after_backward`` hook.
* ``pcgrad`` and ``median-grad`` need one task-loss gradient per group of the batch (per training
  domain, per microbatch); ``bloop`` needs the training-loss gradient apart from the auxiliary
  (penalty) gradient. They take over ``regsuite_train_step``, with one forward pass (the step's
  primary pass) whose graph is differentiated group by group.

**What is split, and what is not.** The step's loss L is the task loss (or a loss method's
replacement) plus the run's penalties. The per-group losses are the *task* loss of each group's
rows of the same outputs, computed inside ``state.probing()`` so that no per-step state advances a
second time. The applied gradient is ``grad(L) - grad(task loss of the batch) + aggregate(group
gradients)``: the task-loss part of the gradient is replaced by the surgery's aggregate, and
penalties (and a loss method's difference from the task loss) pass through unchanged. With plain
cross-entropy and no penalty this is exactly the paper's update.
"""

from __future__ import annotations

from regsuite import Citation, Fidelity, IntRange, LogUniform, Method, Uniform, hookimpl
from regsuite.space import NON_NEGATIVE, Limits


def trainable(state):
    return [p for p in state.model.parameters() if p.requires_grad]


def rows(value, idx, n: int):
    """``value`` restricted to the batch rows ``idx`` (tensors whose first dimension is the batch)."""
    import torch

    if torch.is_tensor(value) and value.dim() > 0 and len(value) == n:
        return value[idx]
    if isinstance(value, (tuple, list)):
        return type(value)(rows(v, idx, n) for v in value)
    return value


def grads_of(loss, params, retain: bool = True):
    """d loss / d params as a list (zeros where a parameter does not enter the loss)."""
    import torch

    found = torch.autograd.grad(loss, params, retain_graph=retain, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, found)]


def flat(tensors):
    import torch

    return torch.cat([t.reshape(-1) for t in tensors])


def unflat(vector, like):
    out, start = [], 0
    for t in like:
        out.append(vector[start:start + t.numel()].view_as(t))
        start += t.numel()
    return out


def surgery_step(state, groups, aggregate):
    """One step whose task-loss gradient is ``aggregate(G)``, G the (groups x parameters) matrix of
    the groups' task-loss gradients (flattened); see the module docstring. Returns the step's loss."""
    import torch

    params = trainable(state)
    batch = state.batch
    n = len(batch["y"])
    state.zero_grad()
    loss, outputs = state.forward_loss(batch)  # the primary pass: penalties and loss methods see the whole batch
    with state.probing():  # task losses of the same outputs: no per-step state may advance here
        task = state.task_loss(outputs, batch)
        parts = [state.task_loss(rows(outputs, idx, n), rows_of_batch(batch, idx, n)) for idx in groups]
    g = torch.stack([flat(grads_of(part, params)) for part in parts])
    extra = loss - task  # penalties, and a loss method's difference from the task loss
    if extra.requires_grad:
        extra.backward()  # p.grad = grad(L) - grad(task); the task part becomes the aggregate
    with torch.no_grad():
        for p, u in zip(params, unflat(aggregate(g), params)):
            p.grad = u if p.grad is None else p.grad + u
    state.transform_gradients()
    state.optimizer_step()
    return loss.detach()


def rows_of_batch(batch, idx, n: int) -> dict:
    return {k: rows(v, idx, n) for k, v in batch.items()}


def pcgrad(g, generator):
    """PCGrad (Yu et al. 2020, Algorithm 1) on the rows of ``g``: for each task i, in a random order of
    the other tasks j, g_i^PC <- g_i^PC - (g_i^PC . g_j / ||g_j||^2) g_j whenever g_i^PC . g_j < 0
    (g_j the *original* gradient); returns the projected gradients (tasks x parameters)."""
    import torch

    out = g.clone()
    k = len(g)
    sq = (g * g).sum(1)
    for i in range(k):
        others = [j for j in torch.randperm(k, generator=generator).tolist() if j != i]
        for j in others:
            dot = out[i] @ g[j]
            if dot < 0 and sq[j] > 0:
                out[i] = out[i] - dot / sq[j] * g[j]
    return out


class PCGrad(Method):
    """PCGrad over training domains: project each domain's gradient off the others' it conflicts with.

    For domains i != j in a random order: if g_i . g_j < 0, g_i <- g_i - (g_i . g_j / ||g_j||^2) g_j
    (Yu et al. 2020, Algorithm 1; g_j unprojected); the update is the mean of the projected g_i.
    g_i is the gradient of domain i's task loss (``batch["domain"]``); penalties are added unprojected.
    """

    name = "pcgrad"
    family = "gradient-transform"
    citation = Citation("Gradient Surgery for Multi-Task Learning",
                        "Tianhe Yu, Saurabh Kumar, Abhishek Gupta, Sergey Levine, Karol Hausman, Chelsea Finn",
                        2020, "https://arxiv.org/abs/2001.06782")
    requires = frozenset({"domain_labels"})
    fidelity = Fidelity.adapted("tasks are the training domains of a DG batch; the projected gradients are "
                                "averaged (the paper sums them) so that the step matches ERM's mean loss")
    defaults: dict = {}
    space: dict = {}

    @hookimpl
    def regsuite_train_step(self, state):
        import torch

        domain = state.batch["domain"]
        groups = [torch.nonzero(domain == d).flatten() for d in torch.unique(domain).tolist()]
        # The random task order is drawn per step from (seed, step): reproducible, no state to carry.
        generator = torch.Generator().manual_seed(state.seed * 1_000_003 + state.step)
        weights = torch.tensor([len(i) for i in groups], dtype=torch.float32) / len(domain)
        # Mean over the batch = per-domain means weighted by domain size (equal sizes: the plain mean).
        return surgery_step(state, groups,
                            lambda g: (pcgrad(g, generator) * weights.to(g.device, g.dtype)[:, None]).sum(0))


class MedianGradient(Method):
    """Sample-median gradient descent: the coordinate-wise median of M microbatch gradients replaces their mean.

    Split the batch into M equal microbatches, g_m = grad of microbatch m's task loss;
    the applied gradient is  g_k = median_m (g_m)_k  for each coordinate k (Schaipp et al. 2024,
    Sample Median GD with the coordinate-wise median). Penalties are added unaltered.
    """

    name = "median-grad"
    family = "gradient-transform"
    citation = Citation("Tracking the Median of Gradients with a Stochastic Proximal Point Method",
                        "Fabian Schaipp, Guillaume Garrigos, Umut Simsekli, Robert M. Gower", 2024,
                        "https://arxiv.org/abs/2402.12828")
    fidelity = Fidelity.reconstructed("from the abstract and the brief: the median across samples of the "
                                      "paper's framework, coordinate-wise, over M microbatches (M = 8 our "
                                      "choice); its across-iterations estimators are not implemented")
    requires = frozenset({"classification"})  # microbatches are rows of batch["y"]
    defaults = {"microbatches": 8}
    space = {"microbatches": IntRange(3, 16, limits=Limits(2))}

    @hookimpl
    def regsuite_train_step(self, state):
        import torch

        n = len(state.batch["y"])
        m = min(self.hp["microbatches"], n)
        groups = list(torch.arange(n, device=state.batch["y"].device).chunk(m))
        return surgery_step(state, groups, sample_median)


def sample_median(g):
    """Coordinate-wise sample median of the rows of ``g``: the middle value, or for an even count the
    mean of the two middle values (``torch.median`` would take the lower one)."""
    s = g.sort(dim=0).values
    m = len(s)
    return s[m // 2] if m % 2 else (s[m // 2 - 1] + s[m // 2]) / 2


class Bloop(Method):
    """Bloop: the training gradient plus the part of the auxiliary gradient orthogonal to the training
    gradient's moving average.

    g_ema <- beta g_ema + (1 - beta) g_train  (g_ema = g_train at the first step);
    d = g_train + lam * (g_aux - (g_aux . g_ema / ||g_ema||^2) g_ema),
    over all parameters together (Hsieh et al. 2024, Bloop with an EMA). Here g_train is the
    gradient of the task loss (or of the run's loss method) and g_aux that of the run's penalties
    (``--method sgd+bloop+l2``): without a penalty the step is plain training.
    """

    name = "bloop"
    family = "gradient-transform"
    citation = Citation("Careful with that Scalpel: Improving Gradient Surgery with an EMA",
                        "Yu-Guan Hsieh, James Thornton, Eugene Ndiaye, Michal Klein, Marco Cuturi, "
                        "Pierre Ablin", 2024, "https://arxiv.org/abs/2402.02998")
    fidelity = Fidelity.adapted("the auxiliary loss is the sum of the run's penalties; beta 0.99 and "
                                "lam 1 are our defaults (the paper tunes both per experiment)")
    defaults = {"beta": 0.99, "lam": 1.0}
    space = {"beta": Uniform(0.5, 0.999, limits=Limits(0.0, 1.0, high_open=True)),
             "lam": LogUniform(0.01, 10.0, limits=NON_NEGATIVE)}

    @hookimpl
    def regsuite_run_start(self, model, state):
        self.ema = None

    @hookimpl
    def regsuite_train_step(self, state):
        import torch

        params = trainable(state)
        state.zero_grad()
        loss, outputs = state.forward_loss(state.batch)
        with state.probing():  # the training loss of the same outputs, without the penalties
            train = None
            if state.hooks.loss:
                train = state.hooks.loss[0](outputs=outputs, batch=state.batch, state=state)
            if train is None:
                train = state.task_loss(outputs, state.batch)
        g_train = flat(grads_of(train, params))
        aux = loss - train
        g_aux = flat(grads_of(aux, params, retain=False)) if aux.requires_grad else torch.zeros_like(g_train)
        with torch.no_grad():
            beta = self.hp["beta"]
            self.ema = g_train.clone() if self.ema is None else beta * self.ema + (1 - beta) * g_train
            d = g_train + self.hp["lam"] * project_out(g_aux, self.ema)
            for p, u in zip(params, unflat(d, params)):
                p.grad = u.clone()
        state.transform_gradients()
        state.optimizer_step()
        return loss.detach()


def project_out(a, b):
    """a minus its component along b (a itself when b is zero)."""
    sq = b @ b
    return a - (a @ b) / sq * b if sq > 0 else a


class PerpGrad(Method):
    """⊥Grad: drop the gradient component along the weights, keeping the gradient's norm.

    For each parameter tensor w with gradient g (flattened):
    g_perp = g - (w . g / (w . w + eps)) w;   g <- g_perp * ||g|| / ||g_perp||   (eps = 1e-30).
    It removes naive loss minimisation (growing ||w|| along the logits' direction), which the paper
    shows drives softmax collapse and delays grokking; it applies to any task.
    Compose it without decoupled weight decay, as the paper does (its ⊥AdamW and ⊥SGD runs use the
    authors' default weight_decay 0): the projection removes the loss's radial pull, the only force
    against the decay, so with decay every tensor shrinks by (1 - lr wd) a step and the logits vanish.
    On grokking/mod-add (AdamW, wd 1) ``perp-grad`` never fits the training set (loss ~ln 59);
    ``adam+perp-grad`` (the same lr and betas, no decay) reached the target at step 750.
    Implementation: ``pytorch_optimizer``'s ``BaseOptimizer.apply_orthogonal_gradients`` (the rule of
    the authors' ``orthograd.py``), on the gradient the optimizer applies.
    """

    name = "perp-grad"
    family = "gradient-transform"
    citation = Citation("Grokking at the Edge of Numerical Stability",
                        "Lucas Prieto, Melih Barsbey, Pedro A. M. Mediano, Tolga Birdal", 2025,
                        "https://arxiv.org/abs/2501.04697")
    fidelity = Fidelity.faithful("pytorch-optimizer 4.1.0 (BaseOptimizer.apply_orthogonal_gradients)",
                                 "the authors' orthograd.py rule per tensor, eps 1e-30; a gradient parallel "
                                 "to its weights becomes zero")
    defaults: dict = {}
    space: dict = {}

    @hookimpl
    def regsuite_after_backward(self, model, state):
        import torch
        from pytorch_optimizer.base.optimizer import BaseOptimizer

        with torch.no_grad():
            BaseOptimizer.apply_orthogonal_gradients(
                [p for p in model.parameters() if p.grad is not None], eps=1e-30)


@hookimpl
def regsuite_methods():
    return [PCGrad, MedianGradient, Bloop, PerpGrad]
