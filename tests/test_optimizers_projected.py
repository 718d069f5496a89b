"""GaLore, DCT-GaLore and LAWN, checked against steps worked out in numpy from the papers' rules."""

from __future__ import annotations

import types

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from regsuite import Budget  # noqa: E402
from regsuite.plugins import optimizers_projected as proj  # noqa: E402

BUDGET = Budget(steps=4)


def _model(rows, cols):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(cols, rows), torch.nn.Linear(rows, 2)).double()


def _set_grads(model, grads):
    for p, g in zip(model.parameters(), grads):
        p.grad = torch.tensor(g)


def _adam(m, v, g, t, lr, b1=0.9, b2=0.999, eps=1e-6):
    """pytorch-optimizer's GaLore Adam: step lr sqrt(1 - b2^t) / (1 - b1^t), eps added to sqrt(v)."""
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    return m, v, lr * np.sqrt(1 - b2**t) / (1 - b1**t) * m / (np.sqrt(v) + eps)


def _grads(model, k):
    rng = np.random.default_rng(k)
    return [rng.normal(size=tuple(p.shape)) for p in model.parameters()]


def test_galore_projects_the_hidden_matrix_on_its_top_singular_vector():
    model = _model(2, 3)  # hidden: the 2 x 3 first weight (rows < cols: left projection); head and biases Adam
    hp = {"lr": 0.01, "rank_frac": 0.5, "scale": 0.25, "update_proj_gap": 200, "weight_decay": 0.1}
    opt = proj.GaLore(hp).regsuite_configure_optimizer(model, BUDGET)
    w = model[0].weight.detach().numpy().copy()
    b = model[0].bias.detach().numpy().copy()
    mw = vw = np.zeros((1, 3))
    mb = vb = np.zeros(2)
    p_left = None
    for t in (1, 2):
        grads = _grads(model, t)
        _set_grads(model, grads)
        opt.step()
        gw, gb = grads[0], grads[1]
        if p_left is None:  # chosen at the first step, kept for update_proj_gap steps
            u, _, _ = np.linalg.svd(gw)
            p_left = u[:, :1]  # rank = int(0.5 * 2) = 1
        mw, vw, upd = _adam(mw, vw, p_left.T @ gw, t, 0.01)
        w = (w - 0.25 * p_left @ upd) * (1 - 0.01 * 0.1)  # step, then decoupled decay
        mb, vb, updb = _adam(mb, vb, gb, t, 0.01)
        b = (b - updb) * (1 - 0.01 * 0.1)
        # The library takes the SVD in float32 (it casts non-float32 gradients), hence 1e-6.
        np.testing.assert_allclose(model[0].weight.detach().numpy(), w, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(model[0].bias.detach().numpy(), b, rtol=1e-10, atol=1e-12)


def test_dct_basis_is_scipys_orthonormal_dct_ii():
    from scipy.fft import dct

    for n in (2, 3, 8):
        expected = dct(np.eye(n), norm="ortho", axis=0).T  # columns: the basis vectors
        q = proj.dct_basis(n, dtype=torch.float64).numpy()
        np.testing.assert_allclose(q, expected, atol=1e-12)
        np.testing.assert_allclose(q.T @ q, np.eye(n), atol=1e-12)


def test_dct_galore_selects_dct_columns_by_l1_alignment_every_gap():
    from scipy.fft import dct

    model = _model(4, 3)  # hidden: 4 x 3 (rows >= cols: right projection through the 3 x 3 DCT)
    hp = {"lr": 0.01, "rank_frac": 0.67, "scale": 0.25, "update_proj_gap": 1, "weight_decay": 0.0}
    opt = proj.DCTGaLore(hp).regsuite_configure_optimizer(model, BUDGET)
    q = dct(np.eye(3), norm="ortho", axis=0).T
    w = model[0].weight.detach().numpy().copy()
    m = v = np.zeros((4, 2))
    # Step 1's gradient is built in the DCT basis, G = S Q^T, so that the L1 and L2 rankings of S's
    # columns differ: L1 keeps columns {0, 2} (4, 2.6 > 2.5), L2 would keep {1, 2} (2.5, 2.6 > 2).
    spread = np.array([[1.0, 2.5, 2.6], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    for t in (1, 2):
        grads = _grads(model, 10 + t)
        if t == 1:
            grads[0] = spread @ q.T
        _set_grads(model, grads)
        opt.step()
        g = grads[0]
        scores = np.abs(g @ q).sum(axis=0)
        if t == 1:
            assert opt.state[model[0].weight]["projector"].indices.tolist() == [0, 2]
        cols = np.sort(np.argsort(-scores)[:2])  # rank int(0.67 * 3) = 2, re-selected every step (gap 1)
        p = q[:, cols]
        m, v, upd = _adam(m, v, g @ p, t, 0.01)
        w = w - 0.25 * upd @ p.T
        np.testing.assert_allclose(model[0].weight.detach().numpy(), w, rtol=1e-10, atol=1e-12)
    assert opt.state[model[0].weight]["projector"].indices.tolist() == cols.tolist()


def test_final_homogeneous_block_starts_after_the_last_normalization():
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU(),
                                torch.nn.Linear(4, 5), torch.nn.ReLU(), torch.nn.Linear(5, 2))
    assert proj.final_homogeneous_weights(model) == [model[3].weight, model[5].weight]
    plain = _model(2, 3)
    assert proj.final_homogeneous_weights(plain) == [plain[0].weight, plain[1].weight]


def test_lawn_keeps_the_end_of_free_phase_norms_after_each_base_step():
    model = _model(2, 3)
    method = proj.LAWN({"base": "sgd", "free_frac": 0.25})  # 1 free step of the 4
    opt = method.regsuite_configure_optimizer(model, BUDGET)
    ws = [p.detach().numpy().copy() for p in model.parameters()]  # w0, b0, w1, b1
    bufs = [np.zeros_like(x) for x in ws]
    norms = None
    for step in range(3):
        grads = _grads(model, 20 + step)
        _set_grads(model, grads)
        opt.step()
        method.regsuite_after_step(model, types.SimpleNamespace(step=step))
        for i, g in enumerate(grads):  # torch SGD defaults of regsuite's sgd: lr 0.05, momentum 0.9
            bufs[i] = g if step == 0 else 0.9 * bufs[i] + g
            ws[i] = ws[i] - 0.05 * bufs[i]
        if step == 0:
            norms = [np.linalg.norm(ws[0]), np.linalg.norm(ws[2])]  # recorded, not yet constrained
        else:
            ws[0] = ws[0] * norms[0] / np.linalg.norm(ws[0])
            ws[2] = ws[2] * norms[1] / np.linalg.norm(ws[2])
        for p, expected in zip(model.parameters(), ws):
            np.testing.assert_allclose(p.detach().numpy(), expected, rtol=1e-10, atol=1e-12)
    assert np.linalg.norm(model[0].weight.detach().numpy()) == pytest.approx(norms[0], rel=1e-12)


def test_lawn_without_free_phase_keeps_the_initial_norms():
    model = _model(2, 3)
    c = float(model[0].weight.detach().norm())
    method = proj.LAWN({"base": "adam", "free_frac": 0.0})
    opt = method.regsuite_configure_optimizer(model, BUDGET)
    _set_grads(model, _grads(model, 30))
    opt.step()
    assert float(model[0].weight.detach().norm()) != pytest.approx(c, rel=1e-6)
    method.regsuite_after_step(model, types.SimpleNamespace(step=0))
    assert float(model[0].weight.detach().norm()) == pytest.approx(c, rel=1e-12)


def test_methods_declare_valid_metadata_and_are_registered(registry):
    for cls in proj.regsuite_methods():
        assert cls.metadata_problems() == [], cls.name
        assert cls.fidelity is not None and cls.citation is not None
        assert registry.method(cls.name) is cls
