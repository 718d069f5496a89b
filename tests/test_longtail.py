"""Long-tailed MNIST-1D: the exponential profile, group accuracies, and a short run end to end."""

from __future__ import annotations

import numpy as np
import pytest

from regsuite.suites.vision import mnist1d
from regsuite.suites.vision.longtail import MNIST1DLongTailMLP, group_accuracy, long_tail_indices

SMALL = {**mnist1d.ARGS, "num_samples": 500}


def test_exponential_profile_keeps_n_max_ratio_to_the_minus_c_over_c_minus_1():
    y = np.repeat(np.arange(3), 8)  # 8 examples of each of 3 classes
    keep = long_tail_indices(y, 3, ratio=4.0, seed=0)
    # n_c = round(8 * 4^(-c/2)): 8, 4, 2.
    assert np.bincount(y[keep]).tolist() == [8, 4, 2]
    assert (np.diff(keep) > 0).all()  # sorted, no repeats
    # Ratio 1 keeps everything; a class smaller than its quota keeps what it has.
    assert len(long_tail_indices(y, 3, ratio=1.0)) == 24
    y2 = np.array([0] * 10 + [1] * 2)
    assert np.bincount(y2[long_tail_indices(y2, 2, ratio=2.0)]).tolist() == [10, 2]  # quota 5, has 2
    with pytest.raises(ValueError, match=">= 1"):
        long_tail_indices(y, 3, ratio=0.5)
    # The kept examples depend on the seed only.
    assert (long_tail_indices(y, 3, 4.0, seed=3) == long_tail_indices(y, 3, 4.0, seed=3)).all()


def test_group_accuracy_counts_only_the_groups_labels():
    import torch

    # A model whose logits are its input: x is the one-hot of the prediction wanted.
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Identity())
    model.register_parameter("dummy", torch.nn.Parameter(torch.zeros(1)))
    pred = np.array([0, 1, 2, 2, 0, 1])
    y = np.array([0, 1, 2, 1, 2, 1])
    x = np.eye(3, dtype=np.float32)[pred]
    # Labels {1, 2}: examples 1, 2, 3, 4, 5 -> correct 1, 2, 5: 3/5. Label {0}: example 0 correct: 1.
    assert group_accuracy(model, x, y, np.array([1, 2])) == pytest.approx(0.6)
    assert group_accuracy(model, x, y, np.array([0])) == 1.0


@pytest.mark.parametrize("method", ["sgd", "ldam-drw"])
def test_long_tail_task_runs_and_its_group_accuracies_add_up(tmp_path, monkeypatch, method):
    import torch

    from regsuite import Budget
    from regsuite.context import RunContext
    from regsuite.plan import RunSpec, resolve_components, resolve_hparams
    from regsuite.registry import build_registry
    from regsuite.runner import build_hooks, seed_everything

    from regsuite.suites import mnist1d_data

    monkeypatch.setattr(mnist1d_data, "ARGS", SMALL)
    monkeypatch.setattr(mnist1d_data, "HELD_OUT_ARGS", {**SMALL, "seed": 7})
    monkeypatch.setattr(mnist1d_data, "LONG_TAIL_POOL_ARGS", {**SMALL, "seed": 11})
    monkeypatch.setattr(mnist1d, "VAL_SIZE", 100)
    monkeypatch.setattr(mnist1d, "LARGE_VAL_SIZE", 100)
    mnist1d.load.cache_clear()
    task = type("Short", (MNIST1DLongTailMLP,), {"budget": Budget(steps=30, eval_every=10, log_every=10)})()
    reg = build_registry(())
    assert "vision/mnist1d-lt-mlp" in reg.tasks
    components = resolve_components(reg, method, task)
    hp = resolve_hparams(reg, components, task, [])
    spec = RunSpec(task.suite, "1", task.key(), task.tier, method, components, hp, 0)
    seed_everything(0)
    ctx = RunContext(seed=0, device=torch.device("cpu"), tier=task.tier, hooks=build_hooks(reg, spec), hparams=hp,
                     data_dir=tmp_path)
    metrics = task.run(ctx)
    arrays = task.splits(ctx)
    train_y, test_y = arrays["train"][1], arrays["test"][1]
    mnist1d.load.cache_clear()
    counts = np.bincount(train_y, minlength=10)
    # The 500-example pool has 50 a class (below n_max = 2,000): n_c = round(50 * 10^(-c/9)), 50 down to 5.
    assert counts.tolist() == [round(50 * 10 ** (-c / 9)) for c in range(10)]
    # Drawn from the pool, not from the main draw's training split; never from validation or test.
    main_train = {row.tobytes() for row in mnist1d.splits(str(tmp_path / "generated"))["train"][0]}
    held = {row.tobytes() for row in np.concatenate([arrays["val"][0], arrays["test"][0]])}
    assert not any(row.tobytes() in main_train or row.tobytes() in held for row in arrays["train"][0])
    # The loop published the training histogram for the long-tail losses (regsuite.class_prior).
    assert ctx.states[-1].extras["class_counts"].tolist() == counts.tolist()
    # The test split's accuracy is the count-weighted mean of the two groups' accuracies.
    tail = np.isin(test_y, [7, 8, 9]).sum()
    mixed = (metrics["test_minority_accuracy"] * tail
             + metrics["test_majority_accuracy"] * (len(test_y) - tail)) / len(test_y)
    assert metrics["test_accuracy"] == pytest.approx(mixed, abs=1e-6)
    assert 0 <= metrics["val_minority_accuracy"] <= 1
