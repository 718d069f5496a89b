"""Grokking suite: modular tables by hand, the fixed split, the model, and runs end to end."""

import numpy as np
import pytest

from regsuite.suites.grokking import data, models, tasks


def test_tables_by_hand():
    x, y = data.table(5, "add")
    assert x.shape == (25, 2) and list(x[7]) == [1, 2] and y[7] == 3 and y[24] == (4 + 4) % 5
    _, y = data.table(5, "mul")
    assert y[7] == 2 and y[24] == 16 % 5
    _, y = data.table(5, "quad")
    assert y[7] == (1 + 2 + 4) % 5 and y[24] == (16 + 16 + 16) % 5
    with pytest.raises(ValueError, match="operation"):
        data.table(5, "pow")


def test_subtraction_division_and_the_other_operations_by_hand():
    # Row-major, a major: index 7 of the 5 x 5 table is (a, b) = (1, 2); index 24 is (4, 4).
    x, y = data.table(5, "sub")
    assert list(x[7]) == [1, 2] and y[7] == 4 and y[24] == 0  # 1 - 2 = -1 = 4 mod 5
    assert list(y[:5]) == [0, 4, 3, 2, 1]  # 0 - b: 0, -1, -2, -3, -4 mod 5
    _, y = data.table(5, "square-sum")
    assert y[7] == (1 + 4) % 5 and y[24] == (16 + 16) % 5
    # Division: b runs over 1..4 only (20 pairs); inverses mod 5: 1 -> 1, 2 -> 3, 3 -> 2, 4 -> 4.
    x, y = data.table(5, "div")
    assert x.shape == (20, 2) and (x[:, 1] > 0).all() and list(x[5]) == [1, 2]
    assert list(y[4:8]) == [1, 3, 2, 4]  # 1 / b for b = 1, 2, 3, 4
    assert y[4 * 4 + 2] == 3  # (4, 3): 4 / 3 = 4 * 2 = 8 = 3 mod 5
    # Power et al.'s mixed rule: a / b for odd b, a - b for even b. Row a = 3: 3/1 = 3, 3 - 2 = 1, 3/3 = 1, 3 - 4 = 4.
    _, y = data.table(5, "div-or-sub")
    assert list(y.reshape(5, 4)[3]) == [3, 1, 1, 4]


def test_subtraction_is_not_commutative_and_its_split_is_40_percent():
    _, y = data.table(59, "sub")
    table = y.reshape(59, 59)
    # a - b = b - a mod 59 only where 2(a - b) = 0, i.e. on the diagonal a = b (59 is odd).
    assert (table != table.T).sum() == 59 * 59 - 59
    s = data.splits(59, "sub", 0.4)
    # round(0.4 * 3481) = 1,392 training pairs; 2,089 held out -> 1,044 validation, 1,045 test.
    assert [len(s[k][0]) for k in ("train", "val", "test")] == [1392, 1044, 1045]
    assert all((s[k][1] == (s[k][0][:, 0] - s[k][0][:, 1]) % 59).all() for k in s)


def test_quad_is_not_a_group_operation():
    # (a + b) mod 5: every row of the table is a permutation of 0..4 (a Latin square).
    _, y = data.table(5, "add")
    assert all(sorted(row) == [0, 1, 2, 3, 4] for row in y.reshape(5, 5))
    # a^2 + ab + b^2 mod 5, row a = 0 is b^2: 0, 1, 4, 9 = 4, 16 = 1; row a = 1: 1, 3, 7 = 2, 13 = 3, 21 = 1.
    _, y = data.table(5, "quad")
    assert list(y.reshape(5, 5)[0]) == [0, 1, 4, 4, 1] and list(y.reshape(5, 5)[1]) == [1, 3, 2, 3, 1]
    # 5 = 2 mod 3: the form is anisotropic (zero only at (0, 0)); each nonzero value taken p + 1 = 6 times.
    assert list(np.bincount(y, minlength=5)) == [1, 6, 6, 6, 6]


def test_split_is_fixed_disjoint_and_covers_the_table():
    s = data.splits(59, "add", 0.5)
    # 3,481 pairs: round(0.5 * 3481) = 1,740 training, 1,741 held out -> 870 validation, 871 test.
    assert [len(s[k][0]) for k in ("train", "val", "test")] == [1740, 870, 871]
    keys = [set(map(tuple, s[k][0])) for k in ("train", "val", "test")]
    assert not (keys[0] & keys[1]) and not (keys[0] & keys[2]) and not (keys[1] & keys[2])
    assert len(keys[0] | keys[1] | keys[2]) == 59 * 59
    assert all((s[k][1] == s[k][0].sum(1) % 59).all() for k in s)
    again = data.splits(59, "add", 0.5)
    assert (again["val"][0] == s["val"][0]).all()
    with pytest.raises(ValueError, match="fraction"):
        data.splits(59, "add", 1.0)


def test_one_hot_model_equals_an_embedding_lookup():
    import torch

    model = models.embedding_mlp(7, dim=4, hidden=8)
    x = np.array([[2, 5], [0, 6]])
    oh = torch.from_numpy(data.one_hot(x, 7))
    assert oh.shape == (2, 2, 7) and oh.sum() == 4 and oh[0, 1, 5] == 1
    table = model.embed.weight.T  # (p, dim): row a is a's embedding
    expected = model.out(torch.relu(model.hidden(torch.cat([table[[2, 0]], table[[5, 6]]], 1))))
    assert torch.allclose(model(oh), expected, atol=1e-6)


def run(task, method="adamw"):
    import torch

    from regsuite.context import RunContext
    from regsuite.plan import RunSpec, resolve_components, resolve_hparams
    from regsuite.registry import build_registry
    from regsuite.runner import build_hooks, seed_everything

    reg = build_registry(())
    components = resolve_components(reg, method, task)
    hp = resolve_hparams(reg, components, task, [])
    spec = RunSpec(task.suite, "1", task.key(), task.tier, method, components, hp, 0)
    seed_everything(0)
    ctx = RunContext(seed=0, device=torch.device("cpu"), tier=task.tier, hooks=build_hooks(reg, spec), hparams=hp)
    return task.run(ctx), ctx


def test_smoke_task_groks_and_stops_early():
    metrics, ctx = run(tasks.ModAddSmoke())
    assert metrics["target_censored"] == 0.0 and metrics["val_accuracy"] >= 0.9
    steps = metrics["steps_to_target"]
    # Evaluated every 50 steps; the run ends at the evaluation that reached the target.
    assert steps % 50 == 0 and steps < 1000 and ctx.counters["steps"] == steps
    assert metrics["train_accuracy"] == 1.0


def test_a_target_not_reached_is_censored():
    from regsuite import Budget

    short = type("Short", (tasks.ModAdd,), {"budget": Budget(steps=20, eval_every=10, log_every=10)})()
    metrics, ctx = run(short)
    assert metrics["target_censored"] == 1.0 and metrics["target_budget_steps"] == 20.0
    assert "steps_to_target" not in metrics and ctx.counters["steps"] == 20


@pytest.mark.parametrize("method", ["grokfast", "stablemax", "harmonic-euclidean", "mixup", "label-smoothing"])
def test_grokking_methods_apply_and_run(method, registry):
    from regsuite import Budget

    task = registry.tasks["grokking/mod-add"]
    method_cls = registry.method(method)
    assert method_cls.requires <= task.provides
    short = type("Short", (tasks.ModAdd,), {"budget": Budget(steps=10, eval_every=5, log_every=5)})()
    metrics, _ = run(short, method)
    assert 0 <= metrics["test_accuracy"] <= 1 and metrics["target_censored"] in (0.0, 1.0)


def test_sub_task_runs_end_to_end():
    from regsuite import Budget

    short = type("Short", (tasks.ModSub40,), {"budget": Budget(steps=50, eval_every=25, log_every=25)})()
    metrics, ctx = run(short)
    assert metrics["target_censored"] == 1.0 and ctx.counters["steps"] == 50
    assert ctx.counters["samples"] == 50 * 128  # batch 128
    assert 0 <= metrics["val_accuracy"] <= 1 and metrics["train_loss"] > 0


def test_suite_is_registered(registry):
    assert "grokking/mod-sub-40" in registry.tasks
    assert "grokking/mod-quad" not in registry.tasks and "grokking/mod-mul" not in registry.tasks
    sub = registry.tasks["grokking/mod-sub-40"]
    assert (sub.operation, sub.train_fraction, sub.budget.steps, sub.budget.eval_every) == ("sub", 0.4, 6000, 50)
    # cross_entropy reads y_soft; training batches carry per-example "index"
    assert {"soft-targets", "example-index"} <= registry.tasks["grokking/mod-add"].provides
    assert registry.tasks["grokking/mod-add"].budget.eval_every == 25
    suite = registry.suites["grokking"]
    assert {"grokfast", "stablemax"} <= set(suite.default_methods)
    t = registry.tasks["grokking/mod-add"]
    assert t.primary.name == "steps_to_target" and t.primary.direction == "min" and t.target.stop_early
    assert t.target.metric == "val_accuracy"  # never the test split


def test_adam_is_adamw_without_weight_decay(registry):
    from regsuite.plan import resolve_components, resolve_hparams

    task = registry.tasks["grokking/mod-add"]
    adamw = resolve_hparams(registry, resolve_components(registry, "adamw", task), task, [])["adamw"]
    adam = resolve_hparams(registry, resolve_components(registry, "adam", task), task, [])["adam"]
    assert adamw["weight_decay"] == 1.0 and "weight_decay" not in adam
    assert (adam["lr"], adam["beta1"], adam["beta2"]) == (adamw["lr"], adamw["beta1"], adamw["beta2"]) == (3e-3, 0.9, 0.98)
