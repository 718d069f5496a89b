"""The run-hook step contract: per-step state advances once per optimizer step under any procedure.

Compositions of stateful methods with two-pass procedures are checked against per-step values worked
out by hand (numpy gradients from stepkit) on a two-tensor softmax classifier.
"""

import numpy as np
import pytest
import torch

from regsuite import Citation, Method, hookimpl
from stepkit import B0, DOMAIN, LR, W0, X, Y, batch, grads, make_state, norm, probs, softmax, weights

CITE = Citation("A test method", "Nobody", 2024, "https://example.org")


def sam_step(W, b, rho, **kw):
    """w - lr * grad L(w + rho g/||g||) for the (possibly weighted, soft-target) CE of stepkit.grads."""
    g = grads(W, b, **kw)
    n = norm(*g)
    p = grads(W + rho * g[0] / n, b + rho * g[1] / n, **kw)
    return W - LR * p[0], b - LR * p[1]


def assert_at(got, expected, rel=1e-9):
    assert got[0] == pytest.approx(expected[0], rel=rel)
    assert got[1] == pytest.approx(expected[1], rel=rel)


class Recorder(Method):
    """Records, per pass, whether it is a probe, and the weights the gradient transforms see."""

    name = "recorder"
    family = "regularizer"
    citation = CITE

    def __init__(self, hp=None):
        super().__init__(hp)
        self.passes, self.transformed_at, self.steps = [], [], 0

    @hookimpl
    def regsuite_penalty(self, model, outputs, batch, state):
        self.passes.append(state.probe)

    @hookimpl
    def regsuite_after_backward(self, model, state):
        self.transformed_at.append(model.classifier.weight.detach().numpy().copy())

    @hookimpl
    def regsuite_after_step(self, model, state):
        self.steps += 1


@pytest.mark.parametrize("procedure, passes", [
    (("sam", {"rho": 0.3}), [False, True]),
    (("fd-gr", {}), [False, True]),
    (("amp", {"iters": 2}), [False, True, True]),
    (("gam", {}), [False, True, True, True]),
    (("grad-norm-penalty", {}), [False]),
])
def test_the_first_pass_is_primary_later_ones_are_probes_and_transforms_run_once_at_w(registry, procedure, passes):
    rec = Recorder()
    state, model = make_state(registry, rec, procedure)
    state.train_step(batch())
    assert rec.passes == passes
    assert rec.steps == 1 and len(rec.transformed_at) == 1
    assert rec.transformed_at[0] == pytest.approx(W0, rel=1e-12)  # weights back at w, not at w + e


def test_probing_marks_a_pass_as_a_probe_explicitly(registry):
    rec = Recorder()
    state, _ = make_state(registry, rec)
    state.batch = batch()
    with state.probing():
        state.forward_loss(state.batch)
    state.forward_loss(state.batch)
    assert rec.passes == [True, False]


def test_a_pass_outside_train_step_does_not_take_the_steps_primary_pass(registry):
    rec = Recorder()
    state, _ = make_state(registry, rec, ("sam", {"rho": 0.3}))
    state.batch = batch()
    state.forward_loss(state.batch)  # e.g. a loop logging the initial loss
    state.train_step(batch())
    assert rec.passes == [False, False, True]


class TwiceTransformed(Method):
    name = "twice-transformed"
    family = "procedure"
    citation = CITE

    @hookimpl
    def regsuite_train_step(self, state):
        for _ in range(2):
            state.zero_grad()
            loss, _ = state.forward_loss(state.batch)
            state.backward(loss)
        state.optimizer_step()
        return loss


class TwiceStepped(Method):
    name = "twice-stepped"
    family = "procedure"
    citation = CITE

    @hookimpl
    def regsuite_train_step(self, state):
        state.default_step(state.batch)
        state.optimizer_step()


@pytest.mark.parametrize("procedure, message", [
    (TwiceTransformed(), "gradient transforms ran twice in step 0"),
    (TwiceStepped(), "optimizer_step called twice in step 0"),
])
def test_a_second_transform_or_optimizer_step_in_one_step_is_an_error(registry, procedure, message):
    state, _ = make_state(registry, procedure)
    with pytest.raises(RuntimeError, match=message):
        state.train_step(batch())


class NormalisedLinear(torch.nn.Module):
    def __init__(self):
        super().__init__()
        from stepkit import Linear

        self.bn = torch.nn.BatchNorm1d(2, dtype=torch.float64)
        self.classifier = Linear().classifier

    def forward(self, x):
        self.features = self.bn(x)
        return self.classifier(self.features)


def test_batchnorm_statistics_advance_once_per_step_under_sam(registry):
    state, model = make_state(registry, ("sam", {"rho": 0.3}), model=NormalisedLinear())
    state.train_step(batch())
    # One update with momentum 0.1 from (0, 1): 0.1 * batch mean, 0.9 + 0.1 * unbiased batch variance.
    assert model.bn.running_mean.numpy() == pytest.approx(0.1 * X.mean(0), rel=1e-12)
    assert model.bn.running_var.numpy() == pytest.approx(0.9 + 0.1 * X.var(0, ddof=1), rel=1e-12)
    assert int(model.bn.num_batches_tracked) == 1


# ------------------------------------------------------------- compositions, by hand


def test_ps_kd_under_sam_uses_last_steps_predictions_in_both_passes(registry):
    rho, aT, T = 0.3, 0.8, 4
    state, model = make_state(registry, ("ps-kd", {"alpha_T": aT}), ("sam", {"rho": rho}), steps=T)
    W1, b1 = sam_step(W0, B0, rho)  # step 0: alpha = 0, the labels only
    alpha = aT * 1 / T
    target = (1 - alpha) * np.eye(3)[Y] + alpha * probs(W0, B0)  # p_{t-1}: step 0's primary pass
    W2, b2 = sam_step(W1, b1, rho, target=target)
    for _ in range(2):
        state.train_step(batch())
    assert_at(weights(model), (W2, b2))
    assert state.hooks.methods[0].memory.numpy() == pytest.approx(probs(W1, b1), rel=1e-9)


def test_ps_kd_under_fd_gr_differences_gradients_of_the_same_target(registry):
    gamma, eps, aT, T = 0.1, 0.01, 0.8, 4
    state, model = make_state(registry, ("ps-kd", {"alpha_T": aT}), ("fd-gr", {"gamma": gamma, "eps": eps}), steps=T)

    def fd_step(W, b, **kw):
        g = grads(W, b, **kw)
        a = grads(W + eps * g[0], b + eps * g[1], **kw)
        return W - LR * (g[0] + gamma / eps * (a[0] - g[0])), b - LR * (g[1] + gamma / eps * (a[1] - g[1]))

    W1, b1 = fd_step(W0, B0)
    target = 0.8 * np.eye(3)[Y] + 0.2 * probs(W0, B0)
    for _ in range(2):
        state.train_step(batch())
    assert_at(weights(model), fd_step(W1, b1, target=target))


def test_saf_under_sam_compares_both_passes_with_the_previous_visit(registry):
    lam, tau, rho = 0.5, 2.0, 0.3
    state, model = make_state(registry, ("saf", {"lam": lam, "tau": tau, "lag": 1, "kl_start": 0}), ("sam", {"rho": rho}))
    W1, b1 = sam_step(W0, B0, rho)  # visit 0: nothing recorded yet
    p0 = softmax((X @ W0.T + B0) / tau)

    def kl(z):  # d/dz lam tau^2 mean KL(p0 || softmax(z / tau))
        return lam * tau * (softmax(z / tau) - p0) / len(z)

    for _ in range(2):
        state.train_step(batch())
    assert_at(weights(model), sam_step(W1, b1, rho, extra=kl))


def test_saf_under_sam_with_lag_two_reads_the_outputs_of_two_visits_ago_in_both_passes(registry):
    lam, tau, rho = 0.5, 2.0, 0.3
    state, model = make_state(registry, ("saf", {"lam": lam, "tau": tau, "lag": 2, "kl_start": 0}), ("sam", {"rho": rho}))
    W1, b1 = sam_step(W0, B0, rho)  # visits 0 and 1: fewer than lag recorded outputs, no KL
    W2, b2 = sam_step(W1, b1, rho)
    p0 = softmax((X @ W0.T + B0) / tau)  # visit 2 compares with visit 0, not visit 1

    def kl(z):
        return lam * tau * (softmax(z / tau) - p0) / len(z)

    for _ in range(3):
        state.train_step(batch())
    assert_at(weights(model), sam_step(W2, b2, rho, extra=kl))


def domain_risks(W, b):
    p = probs(W, b)[np.arange(len(Y)), Y]
    return np.array([-np.log(p[DOMAIN == d]).mean() for d in (0, 1)])


def test_groupdro_under_sam_takes_one_weight_step_per_optimizer_step(registry):
    eta, rho = 0.5, 0.3
    state, model = make_state(registry, ("groupdro", {"eta": eta}), ("sam", {"rho": rho}))
    W, b, q = W0, B0, np.array([0.5, 0.5])
    for _ in range(2):
        q = q * np.exp(eta * domain_risks(W, b))
        q = q / q.sum()
        per_example = q[DOMAIN] / np.bincount(DOMAIN)[DOMAIN]  # sum_e q_e R_e as per-example weights
        W, b = sam_step(W, b, rho, weights=per_example)
        state.train_step(batch())
        assert state.extras["groupdro"].numpy() == pytest.approx(q, rel=1e-9)
    assert_at(weights(model), (W, b))


def head_variances(W, b):
    """Per domain, the population variance of per-example CE gradients w.r.t. [vec(W), b]."""
    delta = probs(W, b) - np.eye(3)[Y]
    g = np.concatenate([(delta[:, :, None] * X[:, None, :]).reshape(len(X), -1), delta], axis=1)
    return [g[DOMAIN == d].var(0) for d in (0, 1)]


def test_fishr_under_sam_advances_its_moving_average_once_per_step(registry):
    ema, rho = 0.9, 0.3  # anneal_steps 100: the penalty weight is 0, the weights follow SAM on CE
    state, model = make_state(registry, ("fishr", {"lam": 10.0, "anneal_steps": 100, "ema": ema}), ("sam", {"rho": rho}))
    W, b, v = W0, B0, [0.0, 0.0]
    for _ in range(2):
        v = [ema * old + (1 - ema) * new for old, new in zip(v, head_variances(W, b))]
        W, b = sam_step(W, b, rho)
        state.train_step(batch())
    for d in (0, 1):
        assert state.extras["fishr"][d].numpy() == pytest.approx(v[d], rel=1e-9)


def test_ridg_under_sam_moves_its_class_bank_once_per_step(registry):
    m, rho = 0.3, 0.3  # reg 0: the weights follow SAM on CE
    state, model = make_state(registry, ("ridg", {"reg": 0.0, "momentum": m}), ("sam", {"rho": rho}))
    W, b, bank = W0, B0, None
    for _ in range(2):
        r = W[:, None, :] * X[None, :, :]  # R[k, i] = W_k * x_i
        means = np.stack([r[:, Y == c].mean(1) for c in range(3)])
        bank = means if bank is None else (1 - m) * bank + m * means
        W, b = sam_step(W, b, rho)
        state.train_step(batch())
    assert state.extras["ridg"]["bank"].numpy() == pytest.approx(bank, rel=1e-9)  # in the weights' dtype


def test_grokfast_under_sam_filters_the_applied_gradient_once_per_step(registry):
    alpha, lamb, rho = 0.8, 2.0, 0.3
    state, model = make_state(registry, ("grokfast", {"alpha": alpha, "lamb": lamb}), ("sam", {"rho": rho}))
    W, b, mu = W0, B0, None
    for _ in range(2):
        g = grads(W, b)
        n = norm(*g)
        p = grads(W + rho * g[0] / n, b + rho * g[1] / n)  # the gradient SAM applies
        mu = p if mu is None else tuple(alpha * m_ + (1 - alpha) * p_ for m_, p_ in zip(mu, p))
        W, b = W - LR * (p[0] + lamb * mu[0]), b - LR * (p[1] + lamb * mu[1])
        state.train_step(batch())
    assert_at(weights(model), (W, b))
    ema = state.hooks.methods[0]._ema
    assert ema["classifier.weight"].numpy() == pytest.approx(mu[0], rel=1e-9)


# ------------------------------------------------------------- the conformance check


@pytest.fixture(scope="module")
def contract_registry():
    from regsuite.registry import build_registry

    return build_registry(("fixture_plugin", "step_contract_plugin"))


def step_contract(reg, name):
    from regsuite.testing import check_method

    return next(r for r in check_method(reg, name, task="vision/digits-mlp") if r.check == "step-contract")


def test_the_conformance_check_catches_state_advanced_in_a_probe_pass(contract_registry):
    broken = step_contract(contract_registry, "per-pass-average")
    assert not broken.ok
    assert "per-pass-average" in broken.detail and "PerPassAverage.average" in broken.detail


def test_the_conformance_check_passes_state_committed_once_per_step(contract_registry):
    assert step_contract(contract_registry, "per-step-average").ok
    assert step_contract(contract_registry, "ps-kd").ok


def test_hessian_alignment_draws_its_probes_once_per_step_under_sam(registry):
    probes, seed = 3, 7
    state, _ = make_state(registry, ("hessian-alignment", {"probes": probes}), ("sam", {"rho": 0.3}), seed=seed)
    for _ in range(2):
        state.train_step(batch())
    expected = torch.Generator().manual_seed(seed)
    for _ in range(2 * probes):  # two steps of `probes` Rademacher vectors over the head's 3*2 + 3 entries
        torch.randint(0, 2, (9,), generator=expected)
    assert torch.equal(state.extras["hessian-alignment"].get_state(), expected.get_state())


def test_icnn_dual_fits_its_potential_on_the_primary_pass_outputs_under_sam(registry):
    """The f-step after the T-step uses T(x) at the weights the step started from, not at w + e."""
    model = torch.nn.Linear(2, 2)  # float32, like the ICNN potential
    W, b = np.array([[0.5, -0.2], [0.1, 0.3]]), np.array([0.05, -0.1])
    with torch.no_grad():
        model.weight.copy_(torch.tensor(W))
        model.bias.copy_(torch.tensor(b))
    state, _ = make_state(registry, ("icnn-dual", {"width": 4}), ("sam", {"rho": 0.3}), model=model)
    x = torch.tensor(X, dtype=torch.float32)
    state.train_step({"x": x, "y": x.flip(0)})
    outputs, _ = state.hooks.methods[0]._last
    assert outputs.numpy() == pytest.approx(X @ W.T + b, rel=1e-6)
