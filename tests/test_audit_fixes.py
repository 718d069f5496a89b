"""Method bugs found by auditing the committed leaderboard (rows that were not the method they name).

Expected values are worked out by hand in each test.
"""

import math

import pytest
import torch

from regsuite.plan import build_plan
from regsuite.runner import build_hooks


def hooks_for(registry, method, hp=()):
    spec = build_plan(registry, tasks=["digits-mlp"], methods=[method], seeds=1, hp=list(hp)).runs[0]
    return build_hooks(registry, spec)


# ---------------------------------------------------------------- harmonic losses on a DomainNet


def featurizer_then_classifier():
    """The domain-generalization suite's model shape: a featurizer with its own Linear layers,
    then a ``classifier`` Linear registered after it (suites/domain_generalization/models.py)."""
    from regsuite.suites.domain_generalization.models import domain_net

    featurizer = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU())
    model = domain_net(featurizer, 2, 2)
    with torch.no_grad():
        featurizer[0].weight.copy_(torch.eye(2))
        featurizer[0].bias.zero_()
        model.classifier.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 2.0]]))
    return model


def test_harmonic_head_replaces_the_classifier_of_a_featurizer_then_classifier_model(registry):
    # Version 1 replaced the featurizer's Linear (the last Linear child of the last parent it visited),
    # so the "harmonic" rows of colored-digits-standard trained a plain Linear head on ReLU(-n log d)
    # features: every trial stayed at ln 2 and predicted one class.
    model = featurizer_then_classifier()
    hooks_for(registry, "harmonic-euclidean", ["harmonic-euclidean.n=2"]).run_start[0](model=model, state=None)
    assert isinstance(model.featurizer[0], torch.nn.Linear)
    assert not isinstance(model.classifier, torch.nn.Linear)
    # features = relu(x) = x; centres (1, 0) and (0, 2); p_k ~ d_k^-2
    # x = (0, 0): d = (1, 2), p ~ (1, 1/4) = (0.8, 0.2)
    # x = (0.1, 1.9): d^2 = (0.81 + 3.61, 0.01 + 0.01) = (4.42, 0.02), p ~ (1/4.42, 50)
    p = model(torch.tensor([[0.0, 0.0], [0.1, 1.9]])).softmax(-1)
    second = [(1 / 4.42) / (1 / 4.42 + 50), 50 / (1 / 4.42 + 50)]
    assert p[0].tolist() == pytest.approx([0.8, 0.2], rel=1e-5)
    assert p[1].tolist() == pytest.approx(second, rel=1e-5)
    assert sorted(n for n, _ in model.named_parameters()) == [
        "classifier.weight", "featurizer.0.bias", "featurizer.0.weight"]  # the classifier's bias dropped


@pytest.mark.parametrize("method", ["harmonic-cosine", "harmonic-manhattan", "harmonic-chebyshev"])
def test_every_harmonic_distance_replaces_the_classifier(registry, method):
    model = featurizer_then_classifier()
    hooks_for(registry, method).run_start[0](model=model, state=None)
    assert isinstance(model.featurizer[0], torch.nn.Linear) and not isinstance(model.classifier, torch.nn.Linear)


# ---------------------------------------------------------------- focal loss with gamma < 1


def focal(registry, logits, gamma):
    hooks = hooks_for(registry, "focal", [f"focal.gamma={gamma}"])
    z = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
    loss = hooks.loss[0](outputs=z, batch={"y": torch.tensor([1])}, state=None)
    loss.backward()
    return loss.item(), z.grad[0].tolist()


def test_focal_value_at_gamma_one_half(registry):
    # p = softmax([0, ln 3]) = (1/4, 3/4): FL = -(1/4)^(1/2) ln(3/4)
    value, _ = focal(registry, [[0.0, math.log(3)]], 0.5)
    assert value == pytest.approx(-0.5 * math.log(0.75), rel=1e-9)


def test_focal_gradient_is_finite_where_the_probability_rounds_to_one(registry):
    # Logits (0, 40): p_y = 1 - u with u = sigmoid(-40) ~ 4.2e-18, so exp(log p_y) is 1.0 in float64 and
    # version 1's (1 - p_y)^gamma had base 0: its gradient was inf * 0 = NaN for gamma < 1.
    # With d = z_1 - z_0: L = -u^g log(1 - u), dp/dd = p u, du/dd = -p u, so
    # dL/dd = g u^(g-1) p u log p - u^g (1/p) p u = u^g (g p log p - u).
    g = 0.5
    u = math.exp(-40) / (1 + math.exp(-40))
    log_p = -math.log1p(math.exp(-40))
    p = 1 - u
    value, grad = focal(registry, [[0.0, 40.0]], g)
    assert value == pytest.approx(-(u**g) * log_p, rel=1e-9)  # ~8.8e-27 (version 1: exactly 0)
    dl_dd = u**g * (g * p * log_p - u)  # ~ -1.5 u^1.5
    assert grad == pytest.approx([-dl_dd, dl_dd], rel=1e-6)


# ---------------------------------------------------------------- jacobian-nuclear on a DomainNet


def test_jacobian_nuclear_reads_a_featurizer_then_classifier_net_as_one_sequence(registry):
    # Version 1 raised "needs the model to be an nn.Sequential" on every colored-digits-standard trial.
    # featurizer h(x) = 2x (one module), classifier g(z) = 3z; split 0 = half of the 2 modules = 1, so
    # the bound is (||J_h||_F^2 + ||J_g||_F^2) / 2 = (4 + 9) / 2 = 6.5 in expectation; lam 0.1 -> 0.65.
    from regsuite.suites.domain_generalization.models import domain_net

    featurizer = torch.nn.Sequential(torch.nn.Linear(1, 1, bias=False))
    model = domain_net(featurizer, 1, 1)
    with torch.no_grad():
        featurizer[0].weight.fill_(2.0)
        model.classifier.weight.fill_(3.0)
        model.classifier.bias.zero_()
    hooks = hooks_for(registry, "jacobian-nuclear", ["jacobian-nuclear.lam=0.1"])
    torch.manual_seed(0)
    value = hooks.penalty[0](model=model, outputs=None, batch={"x": torch.ones(20000, 1)}, state=None)
    assert value.item() == pytest.approx(0.65, rel=0.03)
    value.backward()  # reaches the model's own parameters
    assert featurizer[0].weight.grad is not None and model.classifier.weight.grad is not None
