"""Domain generalization methods: each penalty's value on a tiny case computed by hand here (numpy/math)."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from regsuite.plugins import domain_generalization as dg
from regsuite.plugins import domain_generalization_penalties as penalties
from regsuite.suites.domain_generalization.models import domain_net


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def ce(z, y):
    return float(np.mean(-np.log(softmax(z)[np.arange(len(y)), y])))


def state(step=10**6, seed=0, optimizer=None):
    return SimpleNamespace(step=step, seed=seed, extras={}, optimizer=optimizer, probe=False)


# A tiny labelled batch: two domains of four examples, two classes, 2-d features, a fixed linear head.
X = np.array([[1.0, 0.0], [0.5, -1.0], [0.0, 2.0], [-1.0, 0.5],
              [2.0, 1.0], [0.0, -0.5], [1.5, 1.5], [-0.5, -2.0]])
Y = np.array([0, 1, 1, 0, 1, 0, 0, 1])
DOMAIN = np.array([0, 0, 0, 0, 1, 1, 1, 1])
W = np.array([[0.3, -0.2], [-0.1, 0.4]])
B = np.array([0.05, -0.05])


def linear_model():
    """A DomainNet whose featurizer is the identity: features = x, logits = x W^T + b."""
    model = domain_net(torch.nn.Identity(), 2, 2)
    with torch.no_grad():
        model.classifier.weight.copy_(torch.tensor(W))
        model.classifier.bias.copy_(torch.tensor(B))
    return model.double()


def batch():
    return {"x": torch.tensor(X), "y": torch.tensor(Y), "domain": torch.tensor(DOMAIN)}


def forward(model):
    b = batch()
    return model, model(b["x"]), b


def head_grad(xs, ys):
    """Closed-form gradient of the mean CE w.r.t. (W, b): ((P - Y)^T X / n, mean(P - Y))."""
    delta = softmax(xs @ W.T + B) - np.eye(2)[ys]
    return delta.T @ xs / len(xs), delta.mean(0)


def test_erm_is_the_mean_of_per_domain_risks_not_the_pooled_mean():
    z = np.array([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    y = np.array([0, 1, 0])
    b = {"y": torch.tensor(y), "domain": torch.tensor([0, 0, 1])}
    expected = 0.5 * (ce(z[:2], y[:2]) + ce(z[2:], y[2:]))
    got = dg.ERM().regsuite_loss(torch.tensor(z), b, state()).item()
    assert got == pytest.approx(expected, rel=1e-6)
    assert abs(got - ce(z, y)) > 1e-3  # differs from pooling when the domains have unequal sizes


def test_irm_penalty_is_the_squared_scale_gradient_of_each_domain_and_never_negative():
    model, out, b = forward(linear_model())
    z = X @ W.T + B

    def dscale(idx):  # d/ds mean CE(s z, y) at s = 1 is mean(-z_y + sum_k p_k z_k)
        zi, yi = z[idx], Y[idx]
        return np.mean(-zi[np.arange(len(yi)), yi] + (softmax(zi) * zi).sum(1))

    domains = [np.nonzero(DOMAIN == d)[0] for d in (0, 1)]
    # Domain 0's two half-batches pull the scale in opposite directions: the half-batch product
    # (DomainBed's estimate, the old penalty) is negative there, a reward the network can exploit.
    assert dscale(domains[0][0::2]) * dscale(domains[0][1::2]) < 0
    expected = np.mean([dscale(idx) ** 2 for idx in domains])
    method = dg.IRM({"lam": 7.0, "anneal_steps": 5})
    assert method.regsuite_penalty(model, out, b, state(step=5)).item() == pytest.approx(7 * expected, rel=1e-6)
    assert method.regsuite_penalty(model, out, b, state(step=4)).item() == pytest.approx(expected, rel=1e-6)
    # Random logits and labels: the penalty is a square, so never below zero.
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        logits, y = torch.randn(8, 3, generator=gen) * 3, torch.randint(0, 3, (8,), generator=gen)
        assert penalties.irm_penalty(logits, y).item() >= 0


def test_vrex_penalty_is_the_variance_of_domain_risks_and_resets_the_optimizer_at_the_jump():
    model, out, b = forward(linear_model())
    z = X @ W.T + B
    r = [ce(z[DOMAIN == d], Y[DOMAIN == d]) for d in (0, 1)]
    expected = ((r[0] - np.mean(r)) ** 2 + (r[1] - np.mean(r)) ** 2) / 2
    method = dg.VREx({"lam": 10.0, "anneal_steps": 3})
    assert method.regsuite_penalty(model, out, b, state(step=3)).item() == pytest.approx(10 * expected, rel=1e-6)
    assert penalties.risk_variance(torch.tensor([1.0, 2.0, 4.0])).item() == pytest.approx(14 / 9)
    opt = torch.optim.Adam(model.parameters())
    model(b["x"]).sum().backward()
    opt.step()
    method.regsuite_after_step(model, state(step=1, optimizer=opt))
    assert len(opt.state) > 0  # not yet
    method.regsuite_after_step(model, state(step=2, optimizer=opt))  # the last warm-up step
    assert len(opt.state) == 0


def test_coral_penalty_matches_means_and_unbiased_covariances():
    model, out, b = forward(linear_model())
    a, c = X[:4], X[4:]
    expected = ((a.mean(0) - c.mean(0)) ** 2).mean() + ((np.cov(a.T, ddof=1) - np.cov(c.T, ddof=1)) ** 2).mean()
    got = dg.CORAL({"gamma": 2.0}).regsuite_penalty(model, out, b, state()).item()
    assert got == pytest.approx(2 * expected, rel=1e-6)


def test_mmd_is_the_biased_statistic_with_a_sum_of_gaussian_kernels():
    a, c = [0.0, 1.0], [2.0]
    gammas = (0.001, 0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)

    def k(u, v):
        return sum(math.exp(-g * (u - v) ** 2) for g in gammas)

    kaa = np.mean([k(u, v) for u in a for v in a])
    kcc = k(2.0, 2.0)
    kac = np.mean([k(u, 2.0) for u in a])
    got = penalties.mmd(torch.tensor([[0.0], [1.0]], dtype=torch.float64), torch.tensor([[2.0]], dtype=torch.float64))
    assert got.item() == pytest.approx(kaa + kcc - 2 * kac, rel=1e-9)
    model, out, b = forward(linear_model())
    value = dg.MMD({"gamma": 0.5}).regsuite_penalty(model, out, b, state()).item()
    assert value == pytest.approx(0.5 * penalties.mmd(torch.tensor(X[:4]), torch.tensor(X[4:])).item())


def test_groupdro_reweights_domains_exponentially_in_their_loss():
    model, out, b = forward(linear_model())
    z = X @ W.T + B
    r = np.array([ce(z[DOMAIN == d], Y[DOMAIN == d]) for d in (0, 1)])
    method, st = dg.GroupDRO({"eta": 0.5}), state()
    q = np.array([0.5, 0.5])
    for _ in range(2):
        q = q * np.exp(0.5 * r)
        q = q / q.sum()
        assert method.regsuite_loss(out, b, st).item() == pytest.approx(float(q @ r), rel=1e-6)
        method.regsuite_after_step(model, st)  # the weights advance once per optimizer step
    assert st.extras["groupdro"].numpy() == pytest.approx(q)


def test_fishr_matches_per_domain_variances_of_per_example_head_gradients():
    model, out, b = forward(linear_model())
    grads = []
    for xi, yi in zip(X, Y):  # per-example gradient of CE w.r.t. [vec(W), b]
        gw, gb = head_grad(xi[None], np.array([yi]))
        grads.append(np.concatenate([gw.ravel(), gb]))
    grads = np.array(grads)
    v = np.stack([grads[DOMAIN == d].var(0) for d in (0, 1)])  # population variance per coordinate
    expected = ((v - v.mean(0)) ** 2).mean(1).mean()
    method = dg.Fishr({"lam": 100.0, "anneal_steps": 2, "ema": 0.9})
    st = state(step=2)
    # First step: the moving average is (1 - ema) v, divided by (1 - ema): exactly v.
    assert method.regsuite_penalty(model, out, b, st).item() == pytest.approx(100 * expected, rel=1e-6)
    method.regsuite_after_step(model, st)  # per-step state commits once per optimizer step
    # Second step on the same batch: 0.9 * 0.1 v + 0.1 v = 0.19 v, divided by 0.1 -> 1.9 v.
    assert method.regsuite_penalty(model, out, b, st).item() == pytest.approx(100 * 1.9**2 * expected, rel=1e-6)
    assert method.regsuite_penalty(model, out, b, state(step=1)).item() == 0.0  # weight 0 in warm-up
    # The closed-form per-example gradients equal autograd's.
    auto = []
    for i in range(len(X)):
        model.zero_grad()
        F.cross_entropy(model(torch.tensor(X[i : i + 1])), torch.tensor(Y[i : i + 1])).backward()
        auto.append(torch.cat([model.classifier.weight.grad.flatten(), model.classifier.bias.grad]).numpy())
    assert penalties.head_sample_grads(torch.tensor(X), torch.tensor(X @ W.T + B), torch.tensor(Y)).numpy() == \
        pytest.approx(np.array(auto))


def head_hessian(xs, ys):
    """Exact Hessian of mean CE w.r.t. [vec(W) row-major, b]: mean_i (diag p - p p^T) (x) phi phi^T."""
    n_feat = xs.shape[1]
    coords = [(k, j) for k in range(2) for j in range(n_feat)] + [(k, n_feat) for k in range(2)]
    h = np.zeros((len(coords), len(coords)))
    for xi in xs:
        p = softmax(xi @ W.T + B)
        a = np.diag(p) - np.outer(p, p)
        phi = np.append(xi, 1.0)
        for r, (k, j) in enumerate(coords):
            for c, (k2, j2) in enumerate(coords):
                h[r, c] += a[k, k2] * phi[j] * phi[j2] / len(xs)
    return h


def test_hutchinson_with_every_rademacher_probe_gives_the_exact_hessian_diagonal():
    model = linear_model()
    xs, ys = X[:4], Y[:4]
    loss = F.cross_entropy(model(torch.tensor(xs)), torch.tensor(ys))
    head = list(model.classifier.parameters())
    grads = torch.autograd.grad(loss, head, create_graph=True)
    probes = [torch.tensor(z, dtype=torch.float64) for z in np.array(np.meshgrid(*[[-1, 1]] * 6)).reshape(6, -1).T]
    diag = penalties.hutchinson_diagonal(grads, head, probes)
    assert diag.detach().numpy() == pytest.approx(np.diag(head_hessian(xs, ys)), rel=1e-6)


def test_hessian_alignment_penalty_with_explicit_hessians():
    model, out, b = forward(linear_model())
    method = dg.HessianAlignment({"alpha": 0.3, "beta": 2.0, "probes": 4})
    got = method.regsuite_penalty(model, out, b, state(seed=5)).item()
    gen = torch.Generator().manual_seed(5)  # the probes the method draws, then the formula by hand
    probes = [(torch.randint(0, 2, (6,), generator=gen) * 2 - 1).double().numpy() for _ in range(4)]
    gs, ds = [], []
    for d in (0, 1):
        gw, gb = head_grad(X[DOMAIN == d], Y[DOMAIN == d])
        gs.append(np.concatenate([gw.ravel(), gb]))
        h = head_hessian(X[DOMAIN == d], Y[DOMAIN == d])
        ds.append(np.mean([z * (h @ z) for z in probes], axis=0))
    gs, ds = np.array(gs), np.array(ds)
    expected = 0.3 * ((ds - ds.mean(0)) ** 2).sum() + 2.0 * ((gs - gs.mean(0)) ** 2).sum()
    assert got == pytest.approx(expected, rel=1e-6)


def test_ridg_pulls_rationales_to_the_class_bank():
    model, out, b = forward(linear_model())
    method, st = dg.RIDG({"reg": 0.5, "momentum": 0.25}), state()
    r = W[:, None, :] * X[None, :, :]  # rationale R[k, i] = W_k * x_i

    def loss(bank):
        return sum(((r[:, Y == c] - bank[c][:, None]) ** 2).sum(2).mean() for c in (0, 1))

    bank = {c: r[:, Y == c].mean(1) for c in (0, 1)}  # first step: the bank is the batch's class mean
    assert method.regsuite_penalty(model, out, b, st).item() == pytest.approx(0.5 * loss(bank), rel=1e-6)
    method.regsuite_after_step(model, st)
    model2, out2, _ = forward(linear_model())
    b2 = {**b, "y": torch.tensor(1 - Y)}  # swap labels: the bank moves by momentum toward the new means
    new_bank = {c: 0.75 * bank[c] + 0.25 * r[:, (1 - Y) == c].mean(1) for c in (0, 1)}
    r_loss = sum(((r[:, (1 - Y) == c] - new_bank[c][:, None]) ** 2).sum(2).mean() for c in (0, 1))
    assert method.regsuite_penalty(model2, out2, b2, st).item() == pytest.approx(0.5 * r_loss, rel=1e-6)


def test_irm_gramian_penalty_solves_with_the_feature_gramian():
    model, out, b = forward(linear_model())
    ridge, values = 0.1, []
    for d in (0, 1):
        xs, ys = X[DOMAIN == d], Y[DOMAIN == d]
        gw, gb = head_grad(xs, ys)
        g = np.concatenate([gw, gb[:, None]], axis=1)  # (K, d + 1)
        phi = np.concatenate([xs, np.ones((len(xs), 1))], axis=1)
        gram = phi.T @ phi / len(xs) + ridge * np.eye(3)
        values.append((np.linalg.inv(gram) @ g.T) ** 2)
    expected = np.mean([v.sum() for v in values])
    method = dg.IRMGramian({"lam": 3.0, "anneal_steps": 0, "ridge": ridge})
    assert method.regsuite_penalty(model, out, b, state()).item() == pytest.approx(3 * expected, rel=1e-6)


def test_dsp_reg_shrinks_parameters_by_normalised_cross_domain_gradient_variance():
    model, out, b = forward(linear_model())
    g = []
    for d in (0, 1):
        gw, gb = head_grad(X[DOMAIN == d], Y[DOMAIN == d])
        g.append(np.concatenate([gw.ravel(), gb]))
    g = np.array(g)
    var = g.var(0)
    s = var / var.mean()
    theta = np.concatenate([W.ravel(), B])
    expected = 0.5 * 0.2 * (s * theta**2).sum()
    got = dg.DSPReg({"lam": 0.2}).regsuite_penalty(model, out, b, state()).item()
    assert got == pytest.approx(expected, rel=1e-5)


def test_inter_domain_mixup_mixes_paired_domain_minibatches_and_their_losses():
    x = torch.arange(12, dtype=torch.float64).view(6, 2)
    b = {"x": x, "y": torch.tensor([0, 1, 0, 1, 1, 0]), "domain": torch.tensor([0, 0, 1, 1, 2, 2])}
    method, st = dg.InterDomainMixup({"alpha": 0.5}), state(seed=3)
    mixed = method.regsuite_transform_batch(b, st)
    lam = mixed["lam"].numpy()
    firsts = mixed["domain"].numpy()
    assert sorted(set(firsts.tolist())) == [0, 1, 2] and np.all((lam > 0) & (lam < 1))
    pair = {}
    for slot in range(3):
        rows = slice(2 * slot, 2 * slot + 2)
        i = firsts[2 * slot]
        # y_mix comes from the partner domain; recover it from the mixed input x = lam x_i + (1 - lam) x_j.
        xi = x[b["domain"] == i].numpy()
        l0 = lam[2 * slot]
        xj = (mixed["x"][rows].numpy() - l0 * xi) / (1 - l0)
        j = int(xj[0, 0] // 4)  # rows of domain d start at 4 * d
        assert j != i and np.allclose(xj, x[b["domain"] == j].numpy())
        assert mixed["y_mix"][rows].tolist() == b["y"][b["domain"] == j].tolist()
        pair[i] = j
    assert sorted(pair.values()) == [0, 1, 2]  # a cyclic permutation: every domain is a partner once
    logits = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0], [0.5, 0.5], [1.0, 3.0], [0.0, 0.0]], dtype=torch.float64)
    z, ya, yb = logits.numpy(), mixed["y"].numpy(), mixed["y_mix"].numpy()
    lp = np.log(softmax(z))
    expected = np.mean(lam * -lp[np.arange(6), ya] + (1 - lam) * -lp[np.arange(6), yb])
    assert method.regsuite_loss(logits, mixed, st).item() == pytest.approx(expected, rel=1e-9)
