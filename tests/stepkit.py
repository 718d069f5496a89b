"""A tiny multi-tensor classifier and hand-written (numpy) gradients for step-procedure tests.

Model: logits z = x W^T + b (W: 3x2, b: 3), loss = mean softmax cross-entropy: non-quadratic,
two tensors, one of them a bias. ``model.features`` is the input (an identity featurizer), so the
domain-generalization methods that read features and the linear head can run on it too.
Every expected value in the tests is composed from :func:`grads` below, never from regsuite code.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch

X = np.array([[1.0, 2.0], [-1.0, 0.5], [0.5, -1.5], [2.0, 1.0]])
Y = np.array([0, 1, 2, 1])
DOMAIN = np.array([0, 0, 1, 1])
W0 = np.array([[0.5, -0.2], [0.1, 0.3], [-0.4, 0.2]])
B0 = np.array([0.05, -0.1, 0.2])
LR = 0.1


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def probs(W, b, x=X):
    return softmax(x @ W.T + b)


def grads(W, b, x=X, y=Y, target=None, weights=None, extra=None):
    """Gradient of sum_i w_i * CE(target_i, softmax(x_i W^T + b)) w.r.t. (W, b); one-hot targets and
    w_i = 1/n (the mean) by default. ``weights`` allow GroupDRO's q-weighted per-domain means;
    ``extra(z)`` is an additional gradient with respect to the logits z (e.g. a KL term's)."""
    n = len(x)
    t = np.eye(3)[y] if target is None else target
    w = np.full(n, 1.0 / n) if weights is None else weights
    delta = (probs(W, b, x) - t) * w[:, None]
    if extra is not None:
        delta = delta + extra(x @ W.T + b)
    return delta.T @ x, delta.sum(0)


def norm(*tensors):
    return np.sqrt(sum((t**2).sum() for t in tensors))


class Linear(torch.nn.Module):
    def __init__(self, W=W0, b=B0):
        super().__init__()
        self.classifier = torch.nn.Linear(2, 3, dtype=torch.float64)
        with torch.no_grad():
            self.classifier.weight.copy_(torch.tensor(W))
            self.classifier.bias.copy_(torch.tensor(b))

    def forward(self, x):
        self.features = x
        return self.classifier(x)


def batch(**extra):
    b = {"x": torch.tensor(X), "y": torch.tensor(Y), "index": torch.arange(len(X)), "domain": torch.tensor(DOMAIN)}
    b.update(extra)
    return b


def hooks_of(registry, *components):
    """A RunHooks for ``components``, each a method name, (name, hp) or Method instance; plain SGD
    (lr LR, no momentum) is added as the optimizer."""
    import pluggy

    from regsuite import hookspec
    from regsuite.state import RunHooks

    pm = pluggy.PluginManager(hookspec.PROJECT)
    pm.add_hookspecs(hookspec)
    methods = []
    for item in (*components, ("sgd", {"lr": LR, "momentum": 0.0})):
        if hasattr(item, "hp"):  # a Method instance (test-only methods)
            method, name = item, item.name
        else:
            name, hp = (item, {}) if isinstance(item, str) else item
            method = registry.method(name)(hp)
        pm.register(method, name=name)
        methods.append(method)
    return RunHooks(pm, methods)


def make_state(registry, *components, steps=4, model=None, seed=0):
    """A TrainState over :class:`Linear` with mean cross-entropy as the task loss."""
    import torch.nn.functional as F

    from regsuite.state import TrainState

    model = model or Linear()
    state = TrainState(
        model=model, hooks=hooks_of(registry, *components), ctx=SimpleNamespace(seed=seed, states=[]),
        budget=SimpleNamespace(steps=steps), forward=lambda m, b: m(b["x"]),
        task_loss=lambda out, b: F.cross_entropy(out, b["y"]),
    )
    state.setup_optimizer()
    return state, model


def weights(model):
    return model.classifier.weight.detach().numpy().copy(), model.classifier.bias.detach().numpy().copy()
