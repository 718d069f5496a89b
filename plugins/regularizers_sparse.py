"""Regularizers that shape weights or features: HyperSparse (adaptive sparsifying shrinkage) and the
long-tail neural-collapse feature regularizer."""

from __future__ import annotations

from regsuite import Citation, Fidelity, IntRange, LogUniform, Method, Uniform, hookimpl
from regsuite.space import POSITIVE, Limits

CLASSIFICATION = frozenset({"classification"})


def prunable_weights(model):
    """Weights of Linear and Conv layers (what the HyperSparse authors prune), in module order."""
    import torch

    kinds = (torch.nn.Linear, torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)
    return [m.weight for m in model.modules() if isinstance(m, kinds)]


def hypersparse_scale(weights, prune_rate: float) -> float:
    """s = 0.6585 / |w|_(k), |w|_(k) the prune_rate quantile of all weight magnitudes (sorted ascending)."""
    import math

    import torch

    flat = torch.cat([w.detach().abs().reshape(-1) for w in weights]).sort().values
    idx = min(math.floor(prune_rate * len(flat)), len(flat) - 1)
    return 0.6585 / max(float(flat[idx]), 1e-12)


def hypersparse_loss(weights, s: float):
    """Authors' form: sum_i |w_i| T / sg(T) - |w_i|, T = sum_j tanh(s |w_j|).

    Its value is 0; its gradient is sign(w_i) s sech^2(s |w_i|) (sum_j |w_j|) / T: about 1 (an L1 pull)
    for weights far below the prune_rate quantile, fading to 0 for the large weights that are kept.
    """
    import torch

    a = torch.cat([w.abs().reshape(-1) for w in weights])
    total = torch.tanh(s * a).sum()
    return (a * total / total.detach() - a).sum()


class HyperSparse(Method):
    """HyperSparse with Adaptive Regularized Training (ART): growing shrinkage of the small weights.

    Phases over the step budget: warm-up (no penalty) for ``warmup_frac``; ART until
    ``warmup_frac + art_frac``, adding lambda_t L_HS(w) with lambda_t = lambda_init eta^(t / epoch_steps)
    (t: steps since warm-up) and L_HS of :func:`hypersparse_loss`; then the prune_rate smallest
    weights by magnitude (all Linear/Conv weights together) are masked to 0 and the rest is
    fine-tuned with the mask held (gradients and weights of pruned entries zeroed every step).
    Reports ``sparsity`` (fraction of zero prunable weights) at the end.
    """

    name = "hypersparse"
    family = "regularizer"
    citation = Citation(
        "HyperSparse Neural Networks: Shifting Exploration to Exploitation through Adaptive Regularization",
        "Patrick Glandorf, Timo Kaiser, Bodo Rosenhahn",
        2023,
        "https://arxiv.org/abs/2308.07163",
    )
    fidelity = Fidelity.adapted(
        "L_HS and s = 0.6585 / |w|_(prune_rate) as the authors' code; ART ends at a fixed fraction of the step "
        "budget (the authors end it when the pruned model's training accuracy passes the dense one's) and lambda "
        "grows per epoch_steps steps (theirs: per epoch); lambda_init and eta chosen here",
        source="authors' code",
    )
    defaults = {"prune_rate": 0.9, "lambda_init": 1e-4, "eta": 1.5, "epoch_steps": 50,
                "warmup_frac": 0.1, "art_frac": 0.6}
    space = {
        "prune_rate": Uniform(0.5, 0.99, limits=Limits(0.0, 1.0, high_open=True)),
        "lambda_init": LogUniform(1e-6, 1e-2, limits=POSITIVE),
        "eta": LogUniform(1.01, 3.0, limits=Limits(1.0)),
        "epoch_steps": IntRange(10, 500, log=True, limits=Limits(1)),
        "warmup_frac": Uniform(0.0, 0.3, limits=Limits(0.0, 1.0)),
        "art_frac": Uniform(0.2, 0.8, limits=Limits(0.0, 1.0)),
    }

    def __init__(self, hp=None) -> None:
        super().__init__(hp)
        self.mask = None  # per prunable weight, once pruned
        self.scale = None  # (step, s) of this step's primary pass

    def phase_bounds(self, total: int) -> tuple[int, int]:
        start = int(round(self.hp["warmup_frac"] * total))
        return start, min(total, start + int(round(self.hp["art_frac"] * total)))

    def coefficient(self, step: int, total: int) -> float:
        """lambda_t during ART, 0 outside it."""
        start, end = self.phase_bounds(total)
        if not start <= step < end:
            return 0.0
        return self.hp["lambda_init"] * self.hp["eta"] ** ((step - start) / self.hp["epoch_steps"])

    @hookimpl
    def regsuite_penalty(self, model, outputs, batch, state):
        lam = self.coefficient(state.step, state.budget.steps)
        if lam == 0.0:
            return None
        weights = prunable_weights(model)
        if self.scale is None or self.scale[0] != state.step:  # probes reuse the primary pass's s
            self.scale = (state.step, hypersparse_scale(weights, self.hp["prune_rate"]))
        return lam * hypersparse_loss(weights, self.scale[1])

    def prune(self, model) -> None:
        import torch

        weights = prunable_weights(model)
        flat = torch.cat([w.detach().abs().reshape(-1) for w in weights])
        k = int(round(self.hp["prune_rate"] * len(flat)))
        order = flat.argsort()
        keep = torch.ones_like(flat, dtype=torch.bool)
        keep[order[:k]] = False
        self.mask, offset = [], 0
        for w in weights:
            self.mask.append(keep[offset: offset + w.numel()].reshape(w.shape))
            offset += w.numel()
        self._apply(model)

    def _apply(self, model) -> None:
        import torch

        with torch.no_grad():
            for w, m in zip(prunable_weights(model), self.mask):
                w.mul_(m)

    @hookimpl
    def regsuite_after_backward(self, model, state):
        if self.mask is not None:
            for w, m in zip(prunable_weights(model), self.mask):
                if w.grad is not None:
                    w.grad.mul_(m)

    @hookimpl
    def regsuite_after_step(self, model, state):
        _, end = self.phase_bounds(state.budget.steps)
        if self.mask is None and state.step + 1 >= end:
            self.prune(model)
        elif self.mask is not None:
            self._apply(model)  # momentum or weight decay must not revive pruned weights

    @hookimpl
    def regsuite_run_end(self, model, state):
        weights = prunable_weights(model)
        zeros = sum(int((w == 0).sum()) for w in weights)
        return {"sparsity": zeros / max(1, sum(w.numel() for w in weights))}


def collapse_penalties(features, y):
    """(within, angular) for a batch of features (N, D) and labels (N,), over the classes present.

    within  = mean_i ||h_i - mu_{y_i}||^2 / mean_c ||mu_c - mu_G||^2   (NC1: features collapse to their class mean)
    angular = mean_{c != c'} (cos(mu_c - mu_G, mu_c' - mu_G) + 1 / (K - 1))^2   (NC2: a simplex ETF)
    with mu_G the mean of the present class means and K the number of classes present.
    """
    import torch

    classes = torch.unique(y)
    if len(classes) < 2:
        return None
    means = torch.stack([features[y == c].mean(0) for c in classes])
    centred = means - means.mean(0, keepdim=True)
    between = centred.pow(2).sum(1).mean().clamp_min(1e-12)
    lookup = torch.zeros(int(classes.max()) + 1, dtype=torch.long, device=y.device)
    lookup[classes] = torch.arange(len(classes), device=y.device)
    within = (features - means[lookup[y]]).pow(2).sum(1).mean() / between
    unit = torch.nn.functional.normalize(centred, dim=1)
    k = len(classes)
    cos = unit @ unit.T
    off = ~torch.eye(k, dtype=torch.bool, device=y.device)
    angular = (cos[off] + 1.0 / (k - 1)).pow(2).mean()
    return within, angular


class NeuralCollapseLongTail(Method):
    """Long-tail neural-collapse regularizer: two feature penalties on the penultimate layer.

    loss = task loss + lam_within * within + lam_angular * angular (see :func:`collapse_penalties`),
    on the input of the model's last Linear layer for the batch: features of a class pulled to
    their class mean, class means pushed towards a simplex equiangular tight frame, so that the
    neural-collapse geometry of balanced training also forms under class imbalance.
    """

    name = "nc-longtail"
    family = "regularizer"
    citation = Citation(
        "Inducing Neural Collapse in Deep Long-tailed Learning",
        "Xuantong Liu, Jianfeng Zhang, Tianyang Hu, He Cao, Lujia Pan, Yuan Yao",
        2023,
        "https://arxiv.org/abs/2302.12453",
    )
    fidelity = Fidelity.reconstructed(
        "from the abstract (two explicit feature regularizers inducing NC under imbalance); the forms used "
        "(within-class scatter over between-class scatter; squared deviation of class-mean cosines from "
        "-1/(K-1)) are the standard NC1/NC2 measures, not confirmed as the paper's"
    )
    defaults = {"lam_within": 0.1, "lam_angular": 0.1}
    space = {"lam_within": LogUniform(1e-3, 10.0), "lam_angular": LogUniform(1e-3, 10.0)}
    requires = CLASSIFICATION

    @hookimpl
    def regsuite_run_start(self, model, state):
        import torch

        last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
        if not last:
            raise RuntimeError("nc-longtail needs a model whose classifier is a torch.nn.Linear layer")

        def keep(module, args):
            self._features = args[0]

        # Only the bound remove is kept: a hook handle carries a global counter, not run state.
        self._unhook = last[-1].register_forward_pre_hook(keep).remove

    @hookimpl
    def regsuite_penalty(self, model, outputs, batch, state):
        terms = collapse_penalties(self._features.flatten(1), batch["y"])
        if terms is None:
            return None
        within, angular = terms
        return self.hp["lam_within"] * within + self.hp["lam_angular"] * angular

    @hookimpl
    def regsuite_run_end(self, model, state):
        self._unhook()
        self._features = None


@hookimpl
def regsuite_methods():
    return [HyperSparse, NeuralCollapseLongTail]
