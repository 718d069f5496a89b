"""Gradient transforms (family ``gradient-transform``): ``regsuite_after_backward`` hooks.

They change ``p.grad`` in place between backward and the optimizer step, so they
compose with any optimizer (``--method adamw+grad-clip``) and with step
procedures that call ``state.backward``.
"""

from __future__ import annotations

from regsuite import Claim, Citation, Fidelity, LogUniform, Method, Uniform, hookimpl


class Grokfast(Method):
    """Grokfast-EMA: amplify the slow component of each gradient with an EMA low-pass filter.

    mu_t = alpha mu_{t-1} + (1 - alpha) g_t  (mu_0 = g_0);   g_t <- g_t + lambda mu_t.
    Implementation: ``pytorch_optimizer.optimizer.grokfast.gradfilter_ema``; alpha 0.98 and lambda 2 as in the paper.
    g_t is the gradient the optimizer applies: ``regsuite_after_backward`` runs once per optimizer step
    (under sam, on the gradient at the perturbed weights; never on a procedure's intermediate gradients),
    so the EMA advances once per step.
    """

    name = "grokfast"
    claims = (
        Claim("accelerate the grokking phenomenon more than 50x", "steps_ratio", 50.0,
              "algorithmic data (modular arithmetic, transformer), MNIST, QM9, IMDb; AdamW with weight decay",
              task="grokking/mod-add", versus="adamw"),
    )  # mod-sub-40 measures it too (on the board), but the claim's comparison is declared on mod-add
    family = "gradient-transform"
    fidelity = Fidelity.faithful("authors' code (Grokfast-EMA, through pytorch-optimizer 4.1.0's gradfilter_ema)",
                                 "alpha 0.98, lambda 2 as the paper's modular-arithmetic runs")
    citation = Citation("Grokfast: Accelerated Grokking by Amplifying Slow Gradients",
                        "Jaerin Lee, Bong Gyun Kang, Kihoon Kim, Kyoung Mu Lee", 2024,
                        "https://arxiv.org/abs/2405.20233")
    defaults = {"alpha": 0.98, "lamb": 2.0}
    space = {"alpha": Uniform(0.5, 0.999), "lamb": Uniform(0.0, 10.0)}

    @hookimpl
    def regsuite_run_start(self, model, state):
        self._ema = None

    @hookimpl
    def regsuite_after_backward(self, model, state):
        from pytorch_optimizer.optimizer.grokfast import gradfilter_ema

        self._ema = gradfilter_ema(model, grads=getattr(self, "_ema", None), alpha=self.hp["alpha"],
                                   lamb=self.hp["lamb"])


class GradNormClip(Method):
    """Global gradient-norm clipping: g <- g min(1, c / ||g||_2) over all parameters together.

    Implementation: ``torch.nn.utils.clip_grad_norm_``; c = 1, the usual LLM recipe's value.
    """

    name = "grad-clip"
    family = "gradient-transform"
    fidelity = Fidelity.faithful("torch.nn.utils.clip_grad_norm_ (torch 2.13.0)",
                                 "the paper's norm clipping, over all parameters together; c = 1 from LLM recipes")
    citation = Citation("On the difficulty of training Recurrent Neural Networks",
                        "Razvan Pascanu, Tomas Mikolov, Yoshua Bengio", 2013, "https://arxiv.org/abs/1211.5063")
    defaults = {"max_norm": 1.0}
    space = {"max_norm": LogUniform(1e-3, 100.0)}

    @hookimpl
    def regsuite_after_backward(self, model, state):
        import torch

        torch.nn.utils.clip_grad_norm_(model.parameters(), self.hp["max_norm"])


class CoordinateClip(Method):
    """Coordinate-wise clipping: g_i <- sign(g_i) min(|g_i|, tau), tau the (1 - fraction) quantile of |g|.

    Clips only the few largest-magnitude coordinates, those Pan & Li find responsible for the
    bad directional sharpness of SGD's step. The threshold is adaptive: the largest
    ``fraction`` of coordinates of the whole model's gradient are clipped (default 10%, our
    choice within the paper's "small fraction"). Own implementation (a quantile and a clamp).
    """

    name = "coord-clip"
    family = "gradient-transform"
    fidelity = Fidelity.adapted("the threshold is the (1 - fraction) quantile of |g| over the whole model, "
                                "fraction 0.1 our choice (the paper clips a small fraction of coordinates)")
    citation = Citation("Toward Understanding Why Adam Converges Faster Than SGD for Transformers",
                        "Yan Pan, Yuanzhi Li", 2023, "https://arxiv.org/abs/2306.00204")
    defaults = {"fraction": 0.1}
    space = {"fraction": Uniform(0.001, 0.5)}

    @hookimpl
    def regsuite_after_backward(self, model, state):
        import torch

        grads = [p.grad for p in model.parameters() if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.detach().abs().flatten() for g in grads])
        keep = flat.numel() - int(self.hp["fraction"] * flat.numel())
        if keep >= flat.numel() or keep < 1:
            return
        tau = flat.kthvalue(keep).values  # the keep-th smallest |g|: larger coordinates are clipped to it
        for g in grads:
            g.clamp_(-tau, tau)


@hookimpl
def regsuite_methods():
    return [Grokfast, GradNormClip, CoordinateClip]
