"""Second-wave seed methods whose rules were recovered late (issue 20): VRGD.

VRGD needs the gradients of k disjoint parts of the batch (the paper's k data-parallel devices),
which a gradient transform cannot see (it gets only the mean gradient in ``p.grad``). It is
therefore a step procedure: one primary forward pass over the whole batch, k backward passes
through the same graph (one per part), the element-wise GSNR scaling of the mean gradient, then
the run's gradient transforms and the run's optimizer, so it composes with any optimizer
(``vrgd+sgd`` is the paper's VR-SGD, ``vrgd`` with a momentum SGD its VR-Momentum).
"""

from __future__ import annotations

from regsuite import Citation, Claim, Fidelity, IntRange, Method, Uniform, hookimpl

# Guards 0/0 where every part's gradient of a coordinate is identical (zero variance) or a
# tensor's mean GSNR is 0 (all its gradients 0); the paper gives no epsilon. Not a tuning knob.
_TINY = 1e-30


def gsnr_scale(part_grads, gamma: float):
    """The VR-SGD factor r for one layer (one parameter tensor), from its k part gradients.

    g = mean_d g_d;  sigma^2 = mean_d g_d^2 - g^2;  r = g^2 / sigma^2 (the GSNR);
    r <- r / mean_j r_j (the layer's mean GSNR becomes 1);  r <- clamp(r, gamma, 1).
    Returns (r, g): the update uses r * g in place of g.
    """
    import torch

    stacked = torch.stack(part_grads)
    g = stacked.mean(0)
    # E[g_d^2] - g^2 as the paper writes it; rounding can make it slightly negative.
    variance = (stacked.square().mean(0) - g.square()).clamp_min(0.0)
    r = g.square() / (variance + _TINY)
    r = r / (r.mean() + _TINY)
    return r.clamp(min=gamma, max=1.0), g


def _rows(obj, index, n: int):
    """``obj`` restricted to the rows ``index`` of a batch of ``n`` examples (tensors whose first
    dimension is n, inside dicts, lists and tuples); everything else unchanged."""
    import torch

    if isinstance(obj, torch.Tensor):
        return obj[index] if obj.dim() > 0 and obj.shape[0] == n else obj
    if isinstance(obj, dict):
        return {k: _rows(v, index, n) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_rows(v, index, n) for v in obj)
    return obj


def _batch_size(batch) -> int:
    import torch

    for value in batch.values() if isinstance(batch, dict) else ():
        if isinstance(value, torch.Tensor) and value.dim() > 0:
            return int(value.shape[0])
    raise ValueError("vrgd splits the batch by examples: the batch has no tensor with an example dimension")


class VRGD(Method):
    """VRGD (VR-SGD): scale each coordinate of the mean gradient by its normalised, clipped GSNR.

    Algorithm 1 of Jiang et al.: the batch is split into k parts (the paper's devices, each with
    B = batch / k examples); g_d is the mean gradient of part d, g = mean_d g_d,
    sigma_t^2 = mean_d g_d (x) g_d - g (x) g, r = g^2 / sigma_t^2 (eq. 2 with device-wise
    variance, eq. 7); per layer r <- r / mean_j r_j (eq. 8); r <- gamma where r < gamma and
    r <- 1 where r > 1 (eq. 9); theta_t = theta_{t-1} - lambda r (x) g (eq. 10). The run's
    optimizer takes r (x) g as its gradient ("GSNR is used to adapt the gradient mean before"
    the optimizer's own moments, Section 4.2). Defaults from the paper: gamma = 0.1, k = 8 (the
    paper takes the fewest devices that hold the batch, but at least 8). A "layer" is one
    parameter tensor. Cost: one forward and k backward passes per step.
    """

    name = "vrgd"
    family = "procedure"
    citation = Citation(
        "Accelerating Large Batch Training via Gradient Signal to Noise Ratio (GSNR)",
        "Guo-qing Jiang, Jinlong Liu, Zixiang Ding, Lin Guo, Wei Lin",
        2023,
        "https://arxiv.org/abs/2309.13681",
    )
    fidelity = Fidelity.faithful(
        "paper",
        "Algorithm 1 and eqs. 7-10 (VR-SGD; VR-Momentum with a momentum optimizer), gamma 0.1, k = 8 "
        "parts of one batch standing for 8 devices; one forward pass over the whole batch (batch-norm "
        "statistics over the batch, not per device); with Adam-type optimizers VR-Adam's momentum on "
        "the GSNR (Appendix D) is not applied",
    )
    claims = (
        Claim("VRGD can accelerate training (1\u223c2\u00d7)", "steps_ratio", 1.0,
              "large-batch BERT pretraining (VR-LAMB, 16k-128k), ImageNet ResNet-50 (VR-LARS, 2k-96k), "
              "DLRM (VR-SGD, 32k-512k); no regsuite task trains at such batch sizes"),
    )
    defaults = {"gamma": 0.1, "parts": 8}
    space = {"gamma": Uniform(0.01, 0.5), "parts": IntRange(2, 16)}

    @hookimpl
    def regsuite_train_step(self, state):
        import torch

        params = [p for p in state.model.parameters() if p.requires_grad]
        state.zero_grad()
        loss, outputs = state.forward_loss(state.batch)  # the step's one (primary) pass
        n = _batch_size(state.batch)
        k = min(int(self.hp["parts"]), n)
        if k < 2:
            raise ValueError(f"vrgd needs at least 2 examples per batch to split into parts, got {n}")
        per_part = [[] for _ in params]
        parts = torch.tensor_split(torch.arange(n, device=loss.device), k)
        for i, index in enumerate(parts):
            part_loss = state.loss_of(_rows(outputs, index, n), _rows(state.batch, index, n))
            grads = torch.autograd.grad(part_loss, params, retain_graph=i < k - 1, allow_unused=True)
            for bucket, p, g in zip(per_part, params, grads):
                bucket.append(torch.zeros_like(p) if g is None else g.detach())
        with torch.no_grad():
            for p, bucket in zip(params, per_part):
                r, g = gsnr_scale(bucket, self.hp["gamma"])
                p.grad = r * g
        state.transform_gradients()
        state.optimizer_step()
        return loss.detach()


@hookimpl
def regsuite_methods():
    return [VRGD]
