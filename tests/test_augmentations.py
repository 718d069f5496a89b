"""Mixup, CutMix and label smoothing: the rules checked on the batches they produce."""

from types import SimpleNamespace

import pytest
import torch

from regsuite.plan import build_plan
from regsuite.runner import build_hooks


def transform(registry, method, batch, hp=()):
    spec = build_plan(registry, tasks=["digits-mlp"], methods=[method], seeds=1, hp=list(hp)).runs[0]
    hooks = build_hooks(registry, spec)
    state = SimpleNamespace(extras={"num_classes": 4})
    return hooks.transform_batch[0](batch=batch, state=state)


def four_images():
    """Example i is the constant image i + 1, with label i (so every target row identifies its source)."""
    x = torch.arange(1.0, 5.0).view(4, 1, 1, 1).expand(4, 1, 6, 6).clone()
    return {"x": x, "y": torch.arange(4)}


def test_mixup_mixes_inputs_and_targets_with_the_same_lambda(registry):
    torch.manual_seed(0)
    out = transform(registry, "mixup", four_images(), ["mixup.alpha=1.0"])
    q = out["y_soft"]
    assert q.sum(1).tolist() == pytest.approx([1.0] * 4)
    for i in range(4):
        partner = max((k for k in range(4) if k != i), key=lambda k: q[i, k]) if q[i, i] < 1 else i
        lam = q[i, i].item() if partner != i else 1.0
        # x'_i = lam * (i + 1) + (1 - lam) * (partner + 1), the same everywhere in the image
        assert out["x"][i].unique().tolist() == pytest.approx([lam * (i + 1) + (1 - lam) * (partner + 1)], rel=1e-5)


def test_cutmix_targets_match_the_pasted_area(registry):
    torch.manual_seed(1)
    for _ in range(5):
        out = transform(registry, "cutmix", four_images(), ["cutmix.alpha=1.0"])
        for i in range(4):
            kept = (out["x"][i] == i + 1).float().mean().item()
            assert out["y_soft"][i, i].item() == pytest.approx(kept) or out["y_soft"][i, i].item() == pytest.approx(1.0)
            pasted = out["x"][i][out["x"][i] != i + 1].unique()
            assert len(pasted) <= 1  # one box from one partner
            if len(pasted):
                assert out["y_soft"][i, int(pasted.item()) - 1].item() == pytest.approx(1 - kept)


def test_cutmix_box_has_the_paper_side_ratio():
    from regsuite.plugins.augmentations import cutmix_box

    g = torch.Generator().manual_seed(0)
    boxes = [cutmix_box(16, 16, 0.75, generator=g) for _ in range(200)]
    # sides int(16 * sqrt(0.25)) = 8, centred uniformly and clipped: never larger than 8 x 8
    assert all(b - t <= 8 and r - l <= 8 for t, b, l, r in boxes)
    assert any(b - t == 8 and r - l == 8 for t, b, l, r in boxes)


def test_label_smoothing_transform_and_soft_cross_entropy(registry):
    from regsuite.soft_targets import soft_cross_entropy

    out = transform(registry, "label-smoothing", {"y": torch.tensor([0])}, ["label-smoothing.eps=0.2"])
    assert out["y_soft"][0].tolist() == pytest.approx([0.8 + 0.05, 0.05, 0.05, 0.05])
    logits = torch.tensor([[2.0, 0.0, 0.0, 0.0]])
    z = torch.log(torch.exp(torch.tensor(2.0)) + 3).item()
    expected = -(0.85 * (2 - z) + 3 * 0.05 * (-z))
    assert soft_cross_entropy(logits, out).item() == pytest.approx(expected, rel=1e-6)


def test_mixup_then_label_smoothing_equals_the_smoothed_mixture(registry):
    torch.manual_seed(0)
    mixed = transform(registry, "mixup", four_images())
    smoothed = transform(registry, "label-smoothing", mixed, ["label-smoothing.eps=0.1"])
    assert torch.allclose(smoothed["y_soft"], 0.9 * mixed["y_soft"] + 0.1 / 4)


def test_num_classes_is_probed_once_without_touching_batch_norm():
    from regsuite.soft_targets import num_classes

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.BatchNorm1d(3), torch.nn.Linear(3, 7))
    calls = []
    state = SimpleNamespace(model=model, extras={}, forward=lambda m, b: calls.append(1) or m(b["x"]))
    assert num_classes({"x": torch.randn(5, 3), "y": torch.zeros(5, dtype=torch.long)}, state) == 7
    assert num_classes({"x": torch.randn(5, 3)}, state) == 7 and len(calls) == 1
    assert model.training and model[1].num_batches_tracked.item() == 0
