"""The framework finishes what a task's loop leaves out: run_end hooks, step count, train time."""

import json

import pytest

import task_contract_plugin as plugin
from regsuite.plan import build_plan
from regsuite.registry import build_registry
from regsuite.runner import build_hooks, execute_run


@pytest.fixture(scope="module")
def reg():
    return build_registry(("task_contract_plugin",))


def spec(reg, task, **hp):
    options = [f"contract-run-end.{k}={v}" for k, v in hp.items()]
    return build_plan(reg, tasks=[task], methods=["sgd+contract-run-end"], seeds=1, hp=options).runs[0]


def test_run_end_metrics_reach_the_row_when_the_loop_does_not_finish(reg):
    row, _ = execute_run(reg, spec(reg, "contract/bare-loop"))
    assert row["status"] == "ok", row["error"]
    metrics = json.loads(row["metrics"])
    # run_end ran once, after the loop's 4 optimizer steps
    assert metrics["contract_steps_seen"] == 4.0
    assert metrics["contract_run_end_calls"] == 1.0
    assert row["steps"] == 4


def test_a_loop_that_finishes_is_not_finished_twice(reg):
    from regsuite.context import RunContext
    from regsuite.runner import resolve_device

    s = spec(reg, "contract/finishing-loop")
    hooks = build_hooks(reg, s)
    ctx = RunContext(seed=0, device=resolve_device("cpu"), tier="smoke", hooks=hooks, hparams={})
    metrics = ctx.complete(reg.tasks[s.task].run(ctx))
    counter = next(m for m in hooks.methods if m.name == "contract-run-end")
    assert counter.run_end_calls == 1
    assert metrics["contract_run_end_calls"] == 1


def test_step_time_is_measured_inside_the_steps(reg):
    row, _ = execute_run(reg, spec(reg, "contract/bare-loop", sleep=plugin.STEP_SLEEP_S))
    assert row["status"] == "ok", row["error"]
    # Each step sleeps 50 ms; the loop sleeps 300 ms outside the steps, which must not count.
    train_s = row["step_time_ms"] * row["steps"] / 1000
    assert row["step_time_ms"] >= 50.0
    assert train_s <= row["wall_s"] - plugin.OUTSIDE_S
