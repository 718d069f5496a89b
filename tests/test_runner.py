import json

import pytest

from regsuite.plan import build_plan
from regsuite.runner import execute_run, run_plan
from regsuite.store import Store


def one(registry, method, task="digits-mlp", **kw):
    return build_plan(registry, tasks=[task], methods=[method], seeds=1, **kw).runs[0]


def test_same_seed_gives_identical_metrics_and_curves(registry):
    spec = one(registry, "sam+cutout")
    row1, curves1 = execute_run(registry, spec)
    row2, curves2 = execute_run(registry, spec)
    assert row1["status"] == "ok", row1["error"]
    assert row1["metrics"] == row2["metrics"]
    assert [c["value"] for c in curves1] == [c["value"] for c in curves2]
    other = build_plan(registry, tasks=["digits-mlp"], methods=["sam+cutout"], seeds=1, seed_offset=1).runs[0]
    assert execute_run(registry, other)[0]["metrics"] != row1["metrics"]


def test_row_carries_provenance(registry):
    row, curves = execute_run(registry, one(registry, "sgd", task="fixture/vectors"))
    assert row["status"] == "ok"
    assert row["torch_version"].startswith("2.13")
    assert json.loads(row["libraries"])["pytorch-optimizer"] == "4.1.0"
    plugins = {p["name"] for p in json.loads(row["plugins"])}
    assert {"optimizers", "vision", "fixture_plugin"} <= plugins
    assert row["device"].startswith("cpu")
    assert json.loads(row["hparams"])["sgd"]["lr"] == 0.05
    assert row["steps"] == 20 and row["samples"] == 400 and row["step_time_ms"] > 0
    assert {c["split"] for c in curves} == {"train", "test"}


def test_non_finite_loss_is_recorded_as_diverged(registry):
    row, _ = execute_run(registry, one(registry, "fixture-explode", task="fixture/vectors"))
    assert row["status"] == "diverged"
    assert "became" in row["error"] and row["primary_value"] is None


def test_exception_after_weights_became_non_finite_is_diverged(registry):
    row, _ = execute_run(registry, one(registry, "fixture-poison", task="fixture/vectors"))
    assert row["status"] == "diverged"
    assert row["error"].startswith("weights became non-finite, then RuntimeError: linalg.svd")


def test_plugin_exception_is_recorded_with_traceback(registry):
    row, _ = execute_run(registry, one(registry, "fixture-raise", task="fixture/vectors"))
    assert row["status"] == "error"
    assert "Traceback" in row["error"] and "fixture plugin failed on purpose" in row["error"]


def test_plan_continues_after_failures_and_resumes_from_the_store(registry, tmp_path):
    runs = build_plan(
        registry, tasks=["fixture/vectors"], methods=["fixture-raise", "fixture-explode", "sgd"], seeds=2
    ).runs
    store = Store(tmp_path)
    counts = run_plan(registry, runs, store, progress=False)
    assert counts == {"cached": 0, "ok": 2, "diverged": 2, "error": 2, "timeout": 0}
    # Re-running skips finished runs (ok, diverged) and retries errors.
    again = run_plan(registry, runs, store, progress=False)
    assert again["cached"] == 4 and again["error"] == 2
    forced = run_plan(registry, runs, store, force=True, progress=False)
    assert forced["cached"] == 0
    stored = Store(tmp_path).runs()
    assert len(stored) == 6 and set(stored["run_id"]) == {r.run_id for r in runs}


def test_hooks_are_called_in_composition_order_and_contract_order(registry):
    from regsuite.context import RunContext
    from regsuite.runner import build_hooks

    spec = one(registry, "fixture-record+fixture-record-b", task="fixture/vectors")
    hooks = build_hooks(registry, spec)
    assert hooks.loss == () and hooks.train_step == ()  # nobody implements them: nothing to call
    ctx = RunContext(seed=0, device=None, tier="smoke", hooks=hooks, hparams=spec.hparams)
    import torch

    model = torch.nn.Linear(2, 2)
    state = ctx.new_state(model, budget=None, forward=lambda m, b: m(b["x"]),
                          task_loss=lambda o, b: torch.nn.functional.cross_entropy(o, b["y"]))
    state.setup_optimizer()
    state.train_step({"x": torch.randn(4, 2), "y": torch.tensor([0, 1, 0, 1])})
    assert state.batch["seen"] == "ab"  # transforms chained in composition order
    extra = state.finish()
    assert state.extras["calls"] == [
        "a:run_start", "b:run_start", "a:transform", "b:transform", "a:penalty", "b:penalty",
        "a:after_backward", "b:after_backward", "a:after_step", "b:after_step", "a:run_end", "b:run_end",
    ]
    assert extra == {"recorded_calls": 12.0}


def test_penalty_enters_the_gradient(registry):
    """One plain SGD step with the l2 penalty: w1 = w0 - lr * (g + lam * w0), computed by hand."""
    import torch

    from regsuite.context import RunContext
    from regsuite.runner import build_hooks

    spec = one(registry, "l2", task="fixture/vectors", hp=["l2.lam=0.1", "sgd.momentum=0", "sgd.lr=0.5"])
    hooks = build_hooks(registry, spec)
    ctx = RunContext(seed=0, device=None, tier="smoke", hooks=hooks, hparams=spec.hparams)
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    model = torch.nn.Module()
    model.w = w
    # task loss = sum(w): gradient 1 per coordinate; penalty 0.05 * ||w||^2: gradient 0.1 * w
    state = ctx.new_state(model, budget=None, forward=lambda m, b: m.w, task_loss=lambda o, b: o.sum())
    state.setup_optimizer()
    state.train_step({})
    expected = torch.tensor([1.0 - 0.5 * (1 + 0.1 * 1.0), -2.0 - 0.5 * (1 + 0.1 * -2.0)])
    assert torch.allclose(w.detach(), expected)


def test_state_memory_counts_nested_and_wrapped_optimizer_state():
    import torch

    from regsuite.state import state_memory_mb

    model = torch.nn.Linear(256, 256, bias=False)  # 65,536 float32 = 0.25 MiB
    model.weight.grad = torch.zeros_like(model.weight)  # + 0.25 MiB

    class Inner(torch.optim.SGD):
        pass

    inner = Inner(model.parameters(), lr=0.1)
    inner.state[model.weight] = {"factors": [torch.zeros(256, 256), torch.zeros(256, 256)], "step": 3}

    class Wrapper:
        def __init__(self, optimizer):
            self.optimizer = optimizer
            self.state = {model.weight: {"slow": torch.zeros(256, 256)}}

    state = type("S", (), {"model": model, "optimizer": Wrapper(inner)})()
    # weight + grad + two factors + slow weights = 5 * 0.25 MiB
    assert state_memory_mb(state) == pytest.approx(1.25)


def test_a_censored_time_to_target_primary_is_a_result_not_an_error():
    from types import SimpleNamespace

    from regsuite.runner import _censored_primary

    task = SimpleNamespace(primary=SimpleNamespace(name="steps_to_target"))
    assert _censored_primary(task, {"target_censored": 1.0, "target_budget_steps": 4000.0})
    assert not _censored_primary(task, {"target_censored": 0.0})  # reached but missing: a real error
    other = SimpleNamespace(primary=SimpleNamespace(name="test_accuracy"))
    assert not _censored_primary(other, {"target_censored": 1.0})
