"""Weight compander and mixout: the maps by hand, and their installation on a model."""

import math

import pytest
import torch

from regsuite.plan import build_plan
from regsuite.runner import build_hooks


def install(registry, method, model, hp=()):
    spec = build_plan(registry, tasks=["digits-mlp"], methods=[method], seeds=1, hp=list(hp)).runs[0]
    build_hooks(registry, spec).run_start[0](model=model, state=None)


def test_compander_values_and_inverse():
    from regsuite.plugins.reparameterizations import compand, expand

    v = torch.tensor([0.3, -0.3, 0.0])
    w = compand(v, 0.5, 0.01)
    assert w.tolist() == pytest.approx([math.sqrt(0.31) - 0.1, -(math.sqrt(0.31) - 0.1), 0.0], rel=1e-6)
    assert expand(w, 0.5, 0.01).tolist() == pytest.approx(v.tolist(), abs=1e-6)


def test_weight_compander_keeps_the_function_and_reparameterizes_the_gradient(registry):
    torch.manual_seed(0)
    layer = torch.nn.Linear(3, 2)
    x = torch.randn(4, 3)
    before = layer(x).detach()
    w0 = layer.weight.detach().clone()
    install(registry, "weight-compander", layer, ["weight-compander.alpha=0.5", "weight-compander.beta=0.01"])
    assert torch.allclose(layer(x), before, atol=1e-6)
    v = layer.parametrizations.weight.original
    assert any(p is v for p in layer.parameters())
    layer(x).sum().backward()
    # dL/dv = dL/dw * dw/dv, dw/dv = alpha (|v| + beta)^(alpha - 1);  dL/dw[i, j] = sum_n x[n, j]
    dw = x.sum(0).expand_as(w0)
    slope = 0.5 * (v.detach().abs() + 0.01) ** -0.5
    assert torch.allclose(v.grad, dw * slope, rtol=1e-5)


def test_mixout_map_by_hand():
    from regsuite.plugins.reparameterizations import mixout

    out = mixout(torch.tensor([1.0, 2.0]), torch.tensor([0.0, 10.0]), 0.5, torch.tensor([1.0, 0.0]))
    assert out.tolist() == pytest.approx([(0 + 0 - 0) / 0.5, (2 + 0 - 5) / 0.5])


def mixed_mlp(p):
    """Input layer Linear(3, 200) (left alone), hidden Linear(200, 100) (mixed), after a +1 drift."""
    from regsuite.plugins.reparameterizations import Mixout

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 200), torch.nn.ReLU(), torch.nn.Linear(200, 100, bias=False))
    u = model[2].weight.detach().clone()
    Mixout({"p": p}).regsuite_run_start(model, None)
    with torch.no_grad():
        model[2].parametrizations.weight.original.copy_(u + 1.0)  # trained away from the start by +1
    return model, u


def test_mixout_swaps_whole_input_columns_toward_the_initial_weights_in_training_only():
    model, u = mixed_mlp(0.5)
    assert not hasattr(model[0], "parametrizations")  # the input layer reads raw inputs: not mixed
    w = model[2].weight
    # a kept column is (w - p u)/(1 - p) = (u + 1 - u/2)/(1/2) = u + 2; a swapped one (u - p u)/(1 - p) = u
    kept = torch.isclose(w, u + 2.0, atol=1e-5).all(0)
    swapped = torch.isclose(w, u, atol=1e-5).all(0)
    assert bool((kept ^ swapped).all())  # every input unit's column is wholly kept or wholly swapped
    assert 0.35 < kept.float().mean().item() < 0.65  # 200 columns, each kept with probability 1/2
    model.eval()
    assert torch.allclose(model[2].weight, u + 1.0)


def test_mixout_gradient_is_the_derivative_of_the_mixed_weight():
    model, u = mixed_mlp(0.5)
    w = model[2].weight  # one draw of the mask
    kept = ~torch.isclose(w, u, atol=1e-5).all(0)
    w.sum().backward()
    # d sum(W~) / dW[i, j] = (1 - M_j) / (1 - p) = 2 on kept columns, 0 on swapped ones
    grad = model[2].parametrizations.weight.original.grad
    assert torch.equal(grad, (2.0 * kept.float()).expand(100, 200))


def test_mixout_leaves_convolutions_alone_and_mixes_a_linear_after_them():
    from regsuite.plugins.reparameterizations import mixout_layers

    cnn = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Flatten(), torch.nn.Linear(8, 3))
    assert mixout_layers(cnn) == [cnn[2]]
