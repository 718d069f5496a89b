"""Step procedures against hand-composed updates on a two-tensor softmax classifier (weight and bias,
cross-entropy: not quadratic, so finite differences are inexact and biases matter), and
compositions end to end through the runner. Gradients come from the numpy formulas in stepkit."""

import math

import numpy as np
import pytest

from regsuite.plan import build_plan
from regsuite.runner import execute_run
from stepkit import B0, LR, W0, X, grads, make_state, norm, probs, softmax, weights


def one_step(registry, *components, **kw):
    state, model = make_state(registry, *components, **kw)
    from stepkit import batch

    state.train_step(batch())
    return weights(model)


def assert_at(got, expected, rel=1e-10):
    assert got[0] == pytest.approx(expected[0], rel=rel)
    assert got[1] == pytest.approx(expected[1], rel=rel)


def test_sam_descends_from_w_with_the_gradient_at_the_worst_nearby_weights(registry):
    rho = 0.3
    gW, gb = grads(W0, B0)
    n = norm(gW, gb)
    pW, pb = grads(W0 + rho * gW / n, B0 + rho * gb / n)
    assert_at(one_step(registry, ("sam", {"rho": rho})), (W0 - LR * pW, B0 - LR * pb))


def test_asam_scales_the_weight_tensors_only_not_the_biases(registry):
    """Kwon et al.'s code: T_w = |w| + eta for 'weight' tensors, the identity for biases."""
    rho, eta = 0.5, 0.01
    gW, gb = grads(W0, B0)
    tW = np.abs(W0) + eta
    n = norm(tW * gW, gb)  # ||T g|| with T = 1 on the bias
    eW, eb = rho * tW * tW * gW / n, rho * gb / n
    pW, pb = grads(W0 + eW, B0 + eb)
    got = one_step(registry, ("asam", {"rho": rho, "eta": eta}))
    assert_at(got, (W0 - LR * pW, B0 - LR * pb))
    # Scaling the bias too (|b| + eta, b near 0) would barely perturb it: a different step.
    tb = np.abs(B0) + eta
    n_all = norm(tW * gW, tb * gb)
    qW, qb = grads(W0 + rho * tW * tW * gW / n_all, B0 + rho * tb * tb * gb / n_all)
    assert np.abs(got[1] - (B0 - LR * qb)).max() > 1e-4


def test_amp_projects_each_tensor_onto_its_own_eps_ball(registry):
    """The reference code clips each tensor's deviation to norm eps separately."""
    gW, gb = grads(W0, B0)
    eps = math.sqrt(norm(gW) * norm(gb))  # between the two norms: W's step is clipped, b's is not
    assert norm(gb) < eps < norm(gW)
    dW, db = gW * eps / norm(gW), gb
    pW, pb = grads(W0 + dW, B0 + db)
    got = one_step(registry, ("amp", {"eps": eps, "inner_lr": 1.0, "iters": 1}))
    assert_at(got, (W0 - LR * pW, B0 - LR * pb))
    # One global ball of radius eps would have scaled the bias's ascent too.
    s = eps / norm(gW, gb)
    qW, qb = grads(W0 + s * gW, B0 + s * gb)
    assert np.abs(got[1] - (B0 - LR * qb)).max() > 1e-4


def test_amp_two_inner_steps_accumulate_and_clip_per_tensor(registry):
    zeta, eps = 2.0, 0.3

    def clip(d):
        return d * min(1.0, eps / norm(d))

    gW, gb = grads(W0, B0)
    d1 = clip(zeta * gW), clip(zeta * gb)
    hW, hb = grads(W0 + d1[0], B0 + d1[1])
    d2 = clip(d1[0] + zeta * hW), clip(d1[1] + zeta * hb)
    pW, pb = grads(W0 + d2[0], B0 + d2[1])
    got = one_step(registry, ("amp", {"eps": eps, "inner_lr": zeta, "iters": 2}))
    assert_at(got, (W0 - LR * pW, B0 - LR * pb))


def test_fd_gr_uses_the_forward_difference_of_gradients(registry):
    gamma, eps = 0.3, 0.05
    gW, gb = grads(W0, B0)
    aW, ab = grads(W0 + eps * gW, B0 + eps * gb)
    uW, ub = gW + gamma / eps * (aW - gW), gb + gamma / eps * (ab - gb)
    assert_at(one_step(registry, ("fd-gr", {"gamma": gamma, "eps": eps})), (W0 - LR * uW, B0 - LR * ub))


def hessian_times(W, b, vW, vb, h=1e-5):
    """H v by a central difference of the hand-written gradient (error O(h^2) ~ 1e-10 here)."""
    plus, minus = grads(W + h * vW, b + h * vb), grads(W - h * vW, b - h * vb)
    return (plus[0] - minus[0]) / (2 * h), (plus[1] - minus[1]) / (2 * h)


def test_grad_norm_penalty_adds_gamma_times_the_hessian_gradient_product(registry):
    gamma = 0.3
    gW, gb = grads(W0, B0)
    hW, hb = hessian_times(W0, B0, gW, gb)
    exact = one_step(registry, ("grad-norm-penalty", {"gamma": gamma}))
    assert_at(exact, (W0 - LR * (gW + gamma * hW), B0 - LR * (gb + gamma * hb)), rel=1e-7)
    # fd-gr approximates the same step; on this non-quadratic loss only up to O(eps).
    fd = one_step(registry, ("fd-gr", {"gamma": gamma, "eps": 1e-3}))
    assert np.abs(fd[0] - exact[0]).max() < 1e-4 and np.abs(fd[0] - exact[0]).max() > 1e-9


def test_gam_adds_the_gradient_of_the_worst_gradient_norm(registry):
    rho, alpha, r = 0.2, 0.5, 0.01
    g0 = grads(W0, B0)

    def grad_of_grad_norm(W, b, g):  # forward difference along g/||g||, as the procedure does
        n = norm(*g)
        s = grads(W + r * g[0] / n, b + r * g[1] / n)
        return (s[0] - g[0]) / r, (s[1] - g[1]) / r

    u = grad_of_grad_norm(W0, B0, g0)
    d = rho * u[0] / norm(*u), rho * u[1] / norm(*u)
    g1 = grads(W0 + d[0], B0 + d[1])
    pen = grad_of_grad_norm(W0 + d[0], B0 + d[1], g1)
    expected = W0 - LR * (g0[0] + alpha * rho * pen[0]), B0 - LR * (g0[1] + alpha * rho * pen[1])
    assert_at(one_step(registry, ("gam", {"rho": rho, "alpha": alpha, "r": r})), expected, rel=1e-8)


def test_flooding_ascends_below_the_flood_level(registry):
    loss = float(np.mean(-np.log(probs(W0, B0)[np.arange(4), [0, 1, 2, 1]])))
    gW, gb = grads(W0, B0)
    assert_at(one_step(registry, ("flooding", {"b": loss + 0.5})), (W0 + LR * gW, B0 + LR * gb))
    assert_at(one_step(registry, ("flooding", {"b": loss - 0.5})), (W0 - LR * gW, B0 - LR * gb))


def kl_logit_grad(reference_logits, lam, tau):
    """d/dz of lam * tau^2 * mean_i KL(softmax(ref_i/tau) || softmax(z_i/tau)) = lam * tau (q - p) / n."""
    p = softmax(reference_logits / tau)
    return lambda z: lam * tau * (softmax(z / tau) - p) / len(z)


@pytest.mark.parametrize("kl_start, active", [(1, True), (2, False)])
def test_saf_compares_with_the_outputs_of_lag_visits_ago_after_the_warm_up(registry, kl_start, active):
    """lag 2, the same batch every step: steps 0 and 1 record z0, z1; step 2 (visit 2) adds
    lam tau^2 KL(softmax(z0/tau) || softmax(z/tau)) when visit 2 > kl_start."""
    from stepkit import batch

    lam, tau = 0.5, 2.0
    state, model = make_state(registry, ("saf", {"lam": lam, "tau": tau, "lag": 2, "kl_start": kl_start}))
    W, b = W0, B0
    z0 = X @ W.T + b
    for _ in range(2):
        state.train_step(batch())
        g = grads(W, b)
        W, b = W - LR * g[0], b - LR * g[1]
    assert_at(weights(model), (W, b))  # nothing applies before visit lag
    state.train_step(batch())
    g = grads(W, b, extra=kl_logit_grad(z0, lam, tau) if active else None)
    assert_at(weights(model), (W - LR * g[0], b - LR * g[1]))


def test_runner_refuses_methods_the_task_cannot_serve(registry):
    plan = build_plan(registry, tasks=["fixture/vectors"], methods=["cutmix", "jacobian-nuclear", "mixup", "l2"], seeds=1)
    assert [r.method for r in plan.runs] == ["l2"]
    assert any("cutmix" in s and "images" in s for s in plan.skipped)
    # the fixture's loss is cross-entropy on batch["y"]: mixup's soft targets would be ignored there
    assert any(s.startswith("mixup") and "soft-targets" in s for s in plan.skipped)


@pytest.mark.parametrize("composition", [
    "sam+cutout", "adamw+harmonic-cosine", "mixup+label-smoothing+focal", "sam+ps-kd+mixout", "saf+cutmix+gor",
])
def test_compositions_run_end_to_end(registry, composition, monkeypatch):
    from regsuite import Budget
    from regsuite.suites.vision.tasks import DigitsMLP

    monkeypatch.setattr(DigitsMLP, "budget", Budget(steps=80, log_every=20))  # ~4 epochs: enough to learn
    spec = build_plan(registry, tasks=["digits-mlp"], methods=[composition], seeds=1).runs[0]
    row = execute_run(registry, spec)[0]
    assert row["status"] == "ok", row["error"]
    assert row["primary_value"] > 0.5 and math.isfinite(row["primary_value"])


def test_every_procedure_declares_its_fidelity(registry):
    from regsuite.plugins import procedures

    for cls in procedures.regsuite_methods():
        assert cls.fidelity is not None and cls.fidelity.problems() == [], cls.name
