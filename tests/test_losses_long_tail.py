"""Long-tail losses against hand-computed values; the class counts the loop publishes; where they apply.

Every expected number below was worked out by hand from the papers' formulas (the arithmetic in
the comments), never from the implementation.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from regsuite import Budget
from regsuite.class_prior import KEY, class_counts, publish
from regsuite.plugins.losses_long_tail import ClassBalanced, LDAMDRW, LogitAdjustment, VectorScaling
from regsuite.soft_targets import weighted_expected_loss


def state_with(counts, step=0, steps=10):
    return SimpleNamespace(extras={KEY: torch.tensor(counts, dtype=torch.float64)}, step=step,
                           budget=Budget(steps=steps))


def test_published_counts_are_the_label_histogram_with_empty_classes_counted_once():
    state = SimpleNamespace(extras={})
    publish(state, torch.tensor([0, 0, 1, 3]))
    assert class_counts(state, 5).tolist() == [2.0, 1.0, 1.0, 1.0, 1.0]  # classes 2 and 4: none, counted as 1
    publish(SimpleNamespace(extras=(floats := {})), torch.tensor([0.5, 1.0]))  # not labels: nothing published
    assert floats == {}
    with pytest.raises(ValueError, match="reach class 3"):
        class_counts(state, 3)
    with pytest.raises(RuntimeError, match="class-prior"):
        class_counts(SimpleNamespace(extras={}), 3)


def test_logit_adjustment_adds_tau_log_prior():
    # counts 3, 1: pi = 0.75, 0.25; z = (1, 0) -> (1 + log 0.75, log 0.25) = (0.71232, -1.38629).
    # L_0 = log(1 + e^(-2.09861)) = 0.115671; L_1 = 2.09861 + 0.115671 = 2.214283.
    per = LogitAdjustment().per_class(torch.tensor([[1.0, 0.0]]), torch.tensor([3.0, 1.0]), None)
    assert per[0].tolist() == pytest.approx([0.115671, 2.214283], abs=1e-6)
    # tau = 0 is plain cross-entropy: log(1 + e^-1) = 0.313262.
    per = LogitAdjustment({"tau": 0.0}).per_class(torch.tensor([[1.0, 0.0]]), torch.tensor([3.0, 1.0]), None)
    assert per[0, 0].item() == pytest.approx(0.313262, abs=1e-6)


def test_vs_loss_scales_then_shifts_each_logit():
    # counts 4, 1, gamma 0.5: Delta = (1, 0.5); tau 1: iota = (log 0.8, log 0.2); z = (2, 2)
    # -> (2 + log 0.8, 1 + log 0.2) = (1.776856, -0.609438); L_0 = 0.087983, L_1 = 2.474278.
    per = VectorScaling({"gamma": 0.5, "tau": 1.0}).per_class(torch.tensor([[2.0, 2.0]]), torch.tensor([4.0, 1.0]),
                                                              None)
    assert per[0].tolist() == pytest.approx([0.087983, 2.474278], abs=1e-6)


def test_ldam_margin_is_max_m_times_n_to_the_minus_quarter_over_its_max():
    # counts 16, 1: n^-1/4 = (0.5, 1), max_m 0.5 -> Delta = (0.25, 0.5). z = (1, 1), s = 1:
    # L_0 = log(1 + e^(1 - 0.75)) = log(1 + e^0.25) = 0.825939; L_1 = log(1 + e^0.5) = 0.974077.
    loss = LDAMDRW({"max_m": 0.5})
    per = loss.per_class(torch.tensor([[1.0, 1.0]]), torch.tensor([16.0, 1.0]), None)
    assert per[0].tolist() == pytest.approx([0.825939, 0.974077], abs=1e-6)
    # s = 2: L_0 = log(1 + e^(2 - 1.5)) = 0.974077; L_1 = log(1 + e^(2 - 1)) = 1.313262.
    per = LDAMDRW({"max_m": 0.5, "s": 2.0}).per_class(torch.tensor([[1.0, 1.0]]), torch.tensor([16.0, 1.0]), None)
    assert per[0].tolist() == pytest.approx([0.974077, 1.313262], abs=1e-6)
    # Large logits stay finite (no exp of s * z is formed).
    assert torch.isfinite(LDAMDRW({"s": 30.0}).per_class(torch.tensor([[80.0, -80.0]]), torch.tensor([16.0, 1.0]),
                                                         None)).all()


def test_drw_switches_to_class_balanced_weights_at_80_percent_of_the_budget():
    loss = LDAMDRW({"max_m": 0.5})
    logits = torch.tensor([[1.0, 1.0], [1.0, 1.0]])
    batch = {"y": torch.tensor([0, 1])}
    # Before step 8 of 10: the plain mean (0.825939 + 0.974077) / 2 = 0.900008.
    assert loss.regsuite_loss(logits, batch, state_with([16, 1], step=7)).item() == pytest.approx(0.900008, abs=1e-6)
    # From step 8: beta 0.9999, w = (1e-4 / (1 - 0.9999^16), 1) = (0.0625094, 1) normalised to sum 2
    # -> (0.117730, 1.882270); weighted mean = (0.117730 * 0.825939 + 1.882270 * 0.974077) / 2 = 0.965357.
    assert loss.regsuite_loss(logits, batch, state_with([16, 1], step=8)).item() == pytest.approx(0.965357, abs=1e-6)


def test_class_balanced_weights_by_the_inverse_effective_number():
    # beta 0.9: w = (0.1 / (1 - 0.9^16), 0.1 / 0.1) = (0.122746, 1) normalised to sum 2 -> (0.218651, 1.781349).
    loss = ClassBalanced({"beta": 0.9})
    z = torch.zeros(2, 2)
    assert loss.regsuite_loss(z[:1], {"y": torch.tensor([0])}, state_with([16, 1])).item() == pytest.approx(
        0.218651 * math.log(2), abs=1e-6)
    # The batch mean of w_y L_y (not divided by the weights' sum): (0.218651 + 1.781349) log 2 / 2 = log 2.
    assert loss.regsuite_loss(z, {"y": torch.tensor([0, 1])}, state_with([16, 1])).item() == pytest.approx(
        math.log(2), abs=1e-6)


def test_weighted_mean_with_one_hot_soft_targets_equals_the_hard_label_one():
    per = torch.tensor([[1.0, 3.0], [2.0, 5.0]])
    w = torch.tensor([1.0, 3.0])
    # Hard labels (0, 1): (1 * 1 + 3 * 5) / (1 + 3) = 4.
    hard = weighted_expected_loss(per, {"y": torch.tensor([0, 1])}, w)
    soft = weighted_expected_loss(per, {"y": torch.tensor([0, 1]), "y_soft": torch.eye(2)}, w)
    assert hard.item() == pytest.approx(4.0) and soft.item() == pytest.approx(4.0)
    # A 50/50 soft target on example 0: (0.5 * 1 * 1 + 0.5 * 3 * 3 + 3 * 5) / (0.5 + 1.5 + 3) = 20 / 5 = 4.
    mixed = weighted_expected_loss(per, {"y_soft": torch.tensor([[0.5, 0.5], [0.0, 1.0]])}, w)
    assert mixed.item() == pytest.approx(4.0)


def test_long_tail_losses_run_only_where_the_task_provides_class_counts():
    from regsuite.leaderboard import applicable_methods
    from regsuite.registry import build_registry

    reg = build_registry(())
    names = ("logit-adjustment", "vs-loss", "ldam-drw", "class-balanced")
    on_lt, _ = applicable_methods(reg, reg.tasks["vision/mnist1d-lt-mlp"])
    on_balanced, why = applicable_methods(reg, reg.tasks["vision/mnist1d-mlp"])
    assert set(names) <= set(on_lt) and "sam+vs-loss" in on_lt
    assert not set(names) & set(on_balanced)
    assert any(line.startswith("vs-loss:") and "class-prior" in line for line in why)
