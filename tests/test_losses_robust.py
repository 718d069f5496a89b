"""aldr-kl and anyloss against hand-computed values; the per-step temperature contract; conformance."""

from __future__ import annotations

import math

import pytest
import torch

from regsuite.plugins.losses_robust import AdaptiveLDR, AnyLoss, ldr_kl, soft_confusion
from regsuite.registry import build_registry
from regsuite.testing import conformance


class _State:
    def __init__(self, step=0, probe=False):
        self.step, self.probe = step, probe


def test_ldr_kl_is_lambda_log_mean_exp_of_margin_shifted_differences():
    s = torch.tensor([[0.5, 1.5]])
    # y = 0: differences (0, 1 + 1.5 - 0.5) = (0, 2); lam = 0.5: 0.5 log((e^0 + e^4) / 2).
    want = 0.5 * math.log((1 + math.exp(4)) / 2)
    assert ldr_kl(s, torch.tensor([0]), 0.5, 1.0).item() == pytest.approx(want)


def test_aldr_first_visit_by_hand():
    z, y = torch.tensor([[1.0, 3.0]]), torch.tensor([0])
    m = AdaptiveLDR({"lambda_0": 1.0, "alpha": 2.0, "margin": 1.0})
    loss = m.regsuite_loss(z, {"y": y, "index": torch.tensor([4])}, _State())
    # s = z / (|1| + |3|) * 2 = (0.5, 1.5); p = softmax(s / 1) + 1e-5, renormalised.
    e = math.exp(1.0)
    p = [1 / (1 + e) + 1e-5, e / (1 + e) + 1e-5]
    p = [q / sum(p) for q in p]
    kl = sum(q * math.log(2 * q) for q in p)
    lam = 1.0 * (1 - kl / (2.0 * math.log(2)))
    ldr = lam * math.log((1 + math.exp(2 / lam)) / 2)  # differences (0, 2)
    extra = -0.5 * 2.0 * math.log(2) / 1.0 * (lam - 1.0) ** 2
    assert loss.item() == pytest.approx(ldr + extra, rel=1e-6)
    # Nothing is stored before the step ends; afterwards example 4 holds its lambda, others lambda_0.
    assert m.lambdas[4].item() == 1.0
    m.regsuite_after_step(None, _State())
    assert m.lambdas[4].item() == pytest.approx(lam) and m.lambdas[0].item() == 1.0


def test_aldr_probe_reuses_the_primary_pass_temperatures():
    m = AdaptiveLDR()
    batch = {"y": torch.tensor([0, 1]), "index": torch.tensor([0, 1])}
    primary = m.regsuite_loss(torch.tensor([[2.0, -1.0], [0.3, 0.2]]), batch, _State(step=3))
    lam = m.pending[2].clone()
    # A probe at other weights (other logits) uses the same lambdas, not ones from its own logits.
    m.regsuite_loss(torch.tensor([[-1.0, 2.0], [1.0, 0.1]]), batch, _State(step=3, probe=True))
    assert torch.equal(m.pending[2], lam) and primary.dim() == 0
    with pytest.raises(RuntimeError, match="index"):
        AdaptiveLDR().regsuite_loss(torch.zeros(1, 2), {"y": torch.tensor([0])}, _State())


def _probs_logits():
    # sigmoid(+-ln 3) = 0.75, 0.25: logits (-ln 3, ln 3) give probabilities (0.25, 0.75).
    l3 = math.log(3)
    return torch.tensor([[-l3, l3], [l3, -l3], [l3, -l3]]), torch.tensor([1, 1, 0])


def test_anyloss_macro_f1_by_hand():
    logits, y = _probs_logits()
    a, b = 1 / (1 + math.exp(-1)), 1 / (1 + math.exp(1))  # A(0.75), A(0.25) at L = 4
    # Class 1: labels (1, 1, 0), A = (a, b, b): TP = a + b = 1, FN = 1, FP = b  -> F1 = 2 / (3 + b).
    # Class 0: labels (0, 0, 1), A = (b, a, a): TP = a, FN = b, FP = b + a = 1 -> F1 = 2a / (2a + 1 + b).
    f1 = 0.5 * (2 / (3 + b) + 2 * a / (2 * a + 1 + b))
    loss = AnyLoss({"metric": "f1", "scale": 4.0}).loss(logits, y)
    assert loss.item() == pytest.approx(1 - f1, rel=1e-6)
    tp, fn, fp, tn = soft_confusion(logits.sigmoid(), y, 4.0)
    assert tp.tolist() == pytest.approx([a, 1.0]) and tn.tolist() == pytest.approx([1.0, a])
    # Balanced accuracy: class 1 (TPR 1/2 + TNR a / (a + b) = a) / 2, class 0 (a + 1/2) / 2: the same.
    ba = AnyLoss({"metric": "balanced_accuracy", "scale": 4.0}).loss(logits, y)
    assert ba.item() == pytest.approx(1 - (0.5 + a) / 2, rel=1e-6)


def test_anyloss_ignores_classes_absent_from_the_batch():
    logits, y = _probs_logits()
    three = torch.cat([logits, torch.full((3, 1), -30.0)], 1)  # a third class never predicted nor present
    # (its A(p) ~ 0: no TP and no FN, so it must not count as an F1 of 0)
    one = AnyLoss({"metric": "f1", "scale": 4.0})
    assert one.loss(three, y).item() == pytest.approx(one.loss(logits, y).item(), rel=1e-6)


@pytest.mark.parametrize("name", ["aldr-kl", "anyloss"])
def test_losses_conform(name):
    failed = [r for r in conformance([name], reg=build_registry()) if not r.ok]
    assert not failed, failed
