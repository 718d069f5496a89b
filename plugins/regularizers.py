"""Penalty regularizers (family ``regularizer``), implementing ``regsuite_penalty``.

"Weight matrices" below are the weights of ``nn.Linear`` and ``nn.Conv*`` layers, seen as
(out, fan_in) matrices: one row per output unit or filter. All penalties are written here from
the papers' equations (no library implements them).
"""

from __future__ import annotations

from regsuite import Choice, Citation, Fidelity, IntRange, LogUniform, Method, hookimpl


def weight_matrices(model):
    """(module, weight as an (out, fan_in) matrix) for every linear and convolution layer."""
    from torch import nn

    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)) and module.weight.requires_grad:
            yield module, module.weight.reshape(module.weight.shape[0], -1)


def gram_deviation(w):
    """||W W^T - I||_F^2 over the smaller side (rows when out <= fan_in, else columns)."""
    import torch

    g = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    return (g - torch.eye(len(g), device=w.device, dtype=w.dtype)).pow(2).sum()


class L2Penalty(Method):
    """L2 penalty on all weights, added to the loss (coupled, unlike AdamW's decay).

    L = L_task + (lambda / 2) * sum_i ||w_i||_2^2
    """

    name = "l2"
    family = "regularizer"
    citation = Citation(
        "A Simple Weight Decay Can Improve Generalization",
        "Anders Krogh, John A. Hertz",
        1991,
        "https://papers.nips.cc/paper/1991/hash/8eefcfdf5990e441f0fb6f3fad709e21-Abstract.html",
    )
    fidelity = Fidelity.faithful("paper", "the quadratic penalty (lambda/2) ||w||^2 on every weight; lambda chosen here")
    defaults = {"lam": 5e-4}
    space = {"lam": LogUniform(1e-6, 1e-1)}

    @hookimpl
    def regsuite_penalty(self, model, outputs, batch, state):
        return 0.5 * self.hp["lam"] * sum(p.pow(2).sum() for p in model.parameters() if p.requires_grad)


class L1Penalty(Method):
    """L1 (lasso) penalty on all weights, which drives small weights to exactly zero.

    L = L_task + lambda * sum_i |w_i|
    """

    name = "l1"
    family = "regularizer"
    citation = Citation(
        "Regression Shrinkage and Selection via the Lasso",
        "Robert Tibshirani",
        1996,
        "https://doi.org/10.1111/j.2517-6161.1996.tb02080.x",
    )
    fidelity = Fidelity.faithful("paper", "the lasso penalty lambda ||w||_1 on every weight; lambda chosen here")
    defaults = {"lam": 1e-5}
    space = {"lam": LogUniform(1e-8, 1e-2)}

    @hookimpl
    def regsuite_penalty(self, model, outputs, batch, state):
        return self.hp["lam"] * sum(p.abs().sum() for p in model.parameters() if p.requires_grad)


class NormLoss(Method):
    """Norm loss: pull every filter's weight vector toward the unit sphere.

    L = L_task + lambda * sum_layers sum_i (1 - ||w_i||_2)^2,  w_i = the i-th output unit's weights.
    """

    name = "norm-loss"
    family = "regularizer"
    citation = Citation(
        "Norm Loss: An efficient yet effective regularization method for deep neural networks",
        "Theodoros Georgiou, Sebastian Schmitt, Thomas Baeck, Wei Chen, Michael Lew",
        2021,
        "https://arxiv.org/abs/2103.06583",
    )
    fidelity = Fidelity.reconstructed(
        "from the abstract: a penalty pulling every filter's norm to one (toward the Oblique "
        "manifold); the paper's exact form (square, per-layer normalisation) and lambda are unconfirmed"
    )
    defaults = {"lam": 1e-3}
    space = {"lam": LogUniform(1e-6, 1.0)}

    @hookimpl
    def regsuite_penalty(self, model, outputs, batch, state):
        return self.hp["lam"] * sum((1 - w.norm(dim=1)).pow(2).sum() for _, w in weight_matrices(model))


class SoftOrthogonality(Method):
    """Soft orthogonality (SO): L = L_task + lambda * sum_layers ||W W^T - I||_F^2.

    W is the (out, fan_in) weight matrix; when a layer has more filters than inputs the Gram
    matrix of the columns is used instead (rows cannot be orthonormal then).
    """

    name = "soft-orthogonality"
    family = "regularizer"
    citation = Citation(
        "Can We Gain More from Orthogonality Regularizations in Training Deep CNNs?",
        "Nitin Bansal, Xiaohan Chen, Zhangyang Wang",
        2018,
        "https://arxiv.org/abs/1810.09102",
    )
    fidelity = Fidelity.adapted(
        "a layer with more filters than inputs uses the Gram of the columns (the paper's filter Gram "
        "cannot reach I there); lambda chosen here, not the paper's decayed schedule"
    )
    defaults = {"lam": 1e-4}
    space = {"lam": LogUniform(1e-7, 1e-1)}

    @hookimpl
    def regsuite_penalty(self, model, outputs, batch, state):
        return self.hp["lam"] * sum(gram_deviation(w) for _, w in weight_matrices(model))


class GroupOrthogonalization(Method):
    """Group orthogonalization regularization (GOR): orthonormal filters within groups only.

    Filters (rows of W) are split into consecutive groups G_1..G_m of ``group_size`` rows;
    L = L_task + lambda * sum_layers sum_g ||W_g W_g^T - I||_F^2. Cheaper than full SO and only
    constrains filters that share a group.
    """

    name = "gor"
    family = "regularizer"
    citation = Citation(
        "Group Orthogonalization Regularization For Vision Models Adaptation and Robustness",
        "Yoav Kurtz, Noga Bar, Raja Giryes",
        2023,
        "https://arxiv.org/abs/2306.10001",
    )
    fidelity = Fidelity.faithful("paper", "orthonormality within consecutive groups of filters; lambda and group size chosen here")
    defaults = {"lam": 1e-4, "group_size": 8}
    space = {"lam": LogUniform(1e-7, 1e-1), "group_size": IntRange(1, 256, log=True)}

    @hookimpl
    def regsuite_penalty(self, model, outputs, batch, state):
        total = 0.0
        for _, w in weight_matrices(model):
            for group in w.split(self.hp["group_size"], dim=0):
                total = total + gram_deviation(group)
        return self.hp["lam"] * total


class CauchySchwarz(Method):
    """Cauchy-Schwarz regularizers: the CS inequality's gap, zero exactly on the wanted set.

    binary (per filter w in R^n, from <w o w, 1>^2 <= ||w o w||^2 ||1||^2):
        R(w) = n * sum_i w_i^4 - (sum_i w_i^2)^2 >= 0, zero iff all |w_i| are equal (w in {-a, a}^n
        for a scale a the regularizer chooses itself);
    orthogonal (per layer, from <W^T W, I>_F^2 <= ||W^T W||_F^2 ||I||_F^2 on the smaller Gram G):
        R(W) = m * ||G||_F^2 - tr(G)^2 >= 0, zero iff G = a I.
    L = L_task + lambda * sum_layers R.
    """

    name = "cauchy-schwarz"
    family = "regularizer"
    citation = Citation(
        "Cauchy-Schwarz Regularizers",
        "Sueda Taner, Ziyi Wang, Christoph Studer",
        2025,
        "https://arxiv.org/abs/2503.01639",
    )
    fidelity = Fidelity.faithful("paper", "the binary and orthogonal CS regularizers; lambda chosen here")
    defaults = {"lam": 1e-3, "kind": "binary"}
    space = {"lam": LogUniform(1e-7, 1.0), "kind": Choice(["binary", "orthogonal"])}

    @hookimpl
    def regsuite_penalty(self, model, outputs, batch, state):
        total = 0.0
        for _, w in weight_matrices(model):
            if self.hp["kind"] == "binary":
                sq = w * w
                total = total + (w.shape[1] * (sq * sq).sum(1) - sq.sum(1) ** 2).sum()
            else:
                g = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
                total = total + len(g) * (g * g).sum() - g.trace() ** 2
        return self.hp["lam"] * total


def gram_spectral_bound(matrix, iters: int = 6):
    """Upper bound on the largest singular value of ``matrix`` (batched over leading dims).

    Gram iteration G_{t+1} = G_t^H G_t from G_0 = W gives sigma_1(W) <= ||G_t||_F^(1/2^t),
    tightening super-exponentially in t. Each iterate is rescaled by its Frobenius norm (the log
    scale is carried) so nothing overflows.
    """
    import torch

    g = matrix
    log_scale = torch.zeros(matrix.shape[:-2], device=matrix.device)
    for t in range(iters):
        norm = torch.linalg.matrix_norm(g).clamp_min(1e-30)
        g = g / norm[..., None, None]
        log_scale = log_scale + norm.log() / 2**t
        g = g.mH @ g
    return (log_scale + torch.linalg.matrix_norm(g).clamp_min(1e-30).log() / 2**iters).exp()


class GramLipschitz(Method):
    """Lipschitz regularization with Gram-iteration spectral-norm bounds.

    L = L_task + (lambda / 2) * sum_layers sigma_hat_l^2, with sigma_hat_l a differentiable upper
    bound on the layer's spectral norm: Gram iteration on the weight matrix for linear layers; for
    convolutions (circular padding, n x n inputs) the bound is the maximum over the 2-D DFT
    frequencies of the Gram bound of the (out x in) matrix K_hat(omega), as in the paper.
    The input size of each convolution is recorded on the first forward pass.
    """

    name = "gram-lipschitz"
    family = "regularizer"
    citation = Citation(
        "Efficient Bound of Lipschitz Constant for Convolutional Layers by Gram Iteration",
        "Blaise Delattre, Quentin Barthelemy, Alexandre Araujo, Alexandre Allauzen",
        2023,
        "https://arxiv.org/abs/2305.16173",
    )
    fidelity = Fidelity.faithful("paper", "Gram-iteration bounds, DFT frequencies for circular convolutions; lambda chosen here")
    defaults = {"lam": 1e-3, "iters": 6}
    space = {"lam": LogUniform(1e-6, 1.0), "iters": IntRange(1, 12)}

    def __init__(self, hp=None) -> None:
        super().__init__(hp)
        self.input_sizes: dict[int, tuple[int, int]] = {}

    @hookimpl
    def regsuite_run_start(self, model, state):
        from torch import nn

        for module in model.modules():
            if isinstance(module, nn.Conv2d):
                def record(mod, args, sizes=self.input_sizes):
                    sizes.setdefault(id(mod), tuple(args[0].shape[-2:]))

                module.register_forward_pre_hook(record)

    def layer_bound(self, module):
        import torch
        from torch import nn

        w = module.weight
        if isinstance(module, nn.Conv2d) and id(module) in self.input_sizes:
            h, wd = self.input_sizes[id(module)]
            spectrum = torch.fft.fft2(w, s=(max(h, w.shape[-2]), max(wd, w.shape[-1])))  # (out, in, h, w)
            return gram_spectral_bound(spectrum.permute(2, 3, 0, 1), self.hp["iters"]).max()
        return gram_spectral_bound(w.reshape(w.shape[0], -1), self.hp["iters"])

    @hookimpl
    def regsuite_penalty(self, model, outputs, batch, state):
        return 0.5 * self.hp["lam"] * sum(self.layer_bound(m) ** 2 for m, _ in weight_matrices(model))


class JacobianNuclearNorm(Method):
    """Jacobian nuclear-norm regularization of f = g o h, with the denoising approximation.

    ||J_f(x)||_* <= (||J_h(x)||_F^2 + ||J_g(h(x))||_F^2) / 2, and each squared Frobenius norm is
    estimated without Jacobians: ||J_u(z)||_F^2 ~ E_e ||u(z + sigma e) - u(z)||^2 / sigma^2,
    e ~ N(0, I), one sample per example. L = L_task + lam * mean_x of the bound. The model must
    be an ``nn.Sequential`` (applied to ``batch["x"]``), or a ``featurizer`` ``nn.Sequential`` then a
    ``classifier`` (the domain-generalization suite's nets), read as the sequence of the featurizer's
    modules and the classifier; h is the first ``split`` modules of that sequence (0: half).
    """

    name = "jacobian-nuclear"
    family = "regularizer"
    citation = Citation(
        "Nuclear Norm Regularization for Deep Learning",
        "Christopher Scarvelis, Justin Solomon",
        2024,
        "https://arxiv.org/abs/2405.14544",
    )
    fidelity = Fidelity.faithful("paper", "the denoising estimate of the Frobenius bound, one noise sample per example; split at half by default")
    defaults = {"lam": 1e-3, "sigma": 0.1, "split": 0}
    space = {"lam": LogUniform(1e-6, 1.0), "sigma": LogUniform(1e-3, 1.0), "split": IntRange(0, 64)}
    requires = frozenset({"images"})
    version = "2"  # 2: also a featurizer-then-classifier net (v1 failed every trial on colored-digits-standard)

    @staticmethod
    def layers(model):
        from torch import nn

        if isinstance(model, nn.Sequential):
            return model
        featurizer, classifier = getattr(model, "featurizer", None), getattr(model, "classifier", None)
        if isinstance(featurizer, nn.Sequential) and isinstance(classifier, nn.Module):
            return nn.Sequential(*featurizer, classifier)  # the same modules (shared parameters), in forward order
        raise RuntimeError("jacobian-nuclear needs an nn.Sequential model, or a featurizer nn.Sequential then a classifier")

    @hookimpl
    def regsuite_penalty(self, model, outputs, batch, state):
        import torch

        layers = self.layers(model)
        split = self.hp["split"] or len(layers) // 2
        h, g = layers[:split], layers[split:]
        sigma, x = self.hp["sigma"], batch["x"]
        z = h(x)

        def frobenius_sq(fn, inp, out):
            noisy = fn(inp + sigma * torch.randn_like(inp))
            return (noisy - out).flatten(1).pow(2).sum(1) / sigma**2

        bound = 0.5 * (frobenius_sq(h, x, z) + frobenius_sq(g, z, g(z)))
        return self.hp["lam"] * bound.mean()


@hookimpl
def regsuite_methods():
    return [
        L2Penalty, L1Penalty, NormLoss, SoftOrthogonality, GroupOrthogonalization, CauchySchwarz,
        GramLipschitz, JacobianNuclearNorm,
    ]
