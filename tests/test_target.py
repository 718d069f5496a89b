"""Time to target: the tracker, censoring, early stop in train_supervised, and the formatting helpers."""

import math

import pytest

from regsuite.target import (
    Target,
    TargetTracker,
    format_ratio,
    format_time_to_target,
    median_time_to_target,
    time_to_target,
)


def test_reached_at_the_first_evaluation_past_the_threshold():
    tracker = TargetTracker(Target("val_accuracy", 0.95), budget=1000)
    for step, value in ((100, 0.5), (200, 0.94), (300, 0.95), (400, 0.99), (500, 0.2)):
        tracker.update(value, step=step, samples=step * 32)
    # 0.95 >= 0.95 at step 300 counts; later values (even a drop) never move the first hit.
    assert tracker.reached and not tracker.should_stop  # stop_early not declared
    assert tracker.metrics() == {
        "target_censored": 0.0, "target_budget_steps": 1000.0, "steps_to_target": 300.0, "samples_to_target": 9600.0,
    }


def test_never_reached_is_censored_and_carries_no_time():
    tracker = TargetTracker(Target("val_accuracy", 0.95), budget=40000)
    for step in (10000, 20000, 30000, 40000):
        tracker.update(0.9, step=step)
    tracker.update(float("nan"), step=40000)  # NaN never meets a threshold
    m = tracker.metrics()
    assert m == {"target_censored": 1.0, "target_budget_steps": 40000.0}
    assert "steps_to_target" not in m and time_to_target(m) is None
    assert format_time_to_target(m) == "not reached in 40,000 steps"


def test_direction_min_and_other_axes():
    tracker = TargetTracker(Target("val_loss", 2.0, direction="min", axis="tokens", stop_early=True), budget=1e6)
    tracker.update(2.5, step=10, tokens=10_000)
    assert not tracker.should_stop
    tracker.update(2.0, step=20, tokens=20_000, wall_s=3.5)
    assert tracker.should_stop
    assert tracker.metrics() == {
        "target_censored": 0.0, "target_budget_tokens": 1e6,
        "steps_to_target": 20.0, "tokens_to_target": 20000.0, "wall_s_to_target": 3.5,
    }
    # A loop that forgets to pass the target's axis is told, not silently censored.
    with pytest.raises(ValueError, match="tokens"):
        TargetTracker(Target("val_loss", 2.0, direction="min", axis="tokens")).update(1.0, step=5)


def test_bad_targets_are_refused():
    with pytest.raises(ValueError, match="validation"):
        Target("test_accuracy", 0.9)
    with pytest.raises(ValueError, match="axis"):
        Target("val_accuracy", 0.9, axis="epochs")
    with pytest.raises(ValueError, match="direction"):
        Target("val_accuracy", 0.9, direction="up")
    with pytest.raises(ValueError, match="finite"):
        Target("val_accuracy", float("nan"))


def test_formatting_and_ratios():
    assert format_time_to_target({"target_censored": 0.0, "steps_to_target": 1200.0}) == "1,200 steps"
    assert format_time_to_target({"target_censored": 0.0, "wall_s_to_target": 3.25}, "wall_s") == "3.2 s"
    assert format_time_to_target({"target_censored": 1.0}) == "not reached"
    assert format_time_to_target({"test_accuracy": 0.9}) == ""  # the run tracked no target
    assert format_ratio(3000.0, 1000.0) == "3.0x fewer steps"
    assert format_ratio(1000.0, 1500.0) == "1.5x more steps"
    assert format_ratio(1000.0, 1000.0) == "same steps"
    assert format_ratio(None, 1000.0) == "" and format_ratio(1000.0, None) == ""
    assert format_ratio(10.0, 4.0, "wall_s") == "2.5x less time"


def test_median_counts_censored_seeds_as_never():
    assert median_time_to_target([300.0, 100.0, 200.0]) == 200.0
    # Sorted: 100, 300, inf, inf -> median (300 + inf) / 2 = inf: not reached by half the seeds.
    assert median_time_to_target([100.0, None, 300.0, None]) is None
    # Sorted: 100, 300, 500, inf, inf -> 500; the censored seeds push the median up, not down.
    assert median_time_to_target([500.0, None, 100.0, None, 300.0]) == 500.0
    assert median_time_to_target([]) is None


# ----------------------------------------------------------------------------- in the shared loop


def run_loop(registry, values, target, steps=10, eval_every=2, batch=4):
    """train_supervised on a tiny linear model with a scripted evaluation: the k-th call returns values[k]."""
    import torch

    from regsuite import Budget
    from regsuite.context import RunContext
    from regsuite.loop import infinite_batches, train_supervised
    from regsuite.plan import build_plan
    from regsuite.runner import build_hooks

    spec = build_plan(registry, tasks=["fixture/vectors"], methods=["sgd"], seeds=1).runs[0]
    ctx = RunContext(seed=0, device=torch.device("cpu"), tier="smoke", hooks=build_hooks(registry, spec),
                     hparams=spec.hparams)
    gen = torch.Generator().manual_seed(0)
    data = {"x": torch.randn(32, 3, generator=gen), "y": torch.randint(0, 2, (32,), generator=gen)}
    calls = []

    def evaluate(model):
        value = values[len(calls)]
        calls.append(value)
        return {"val": {"accuracy": value, "loss": 1 - value}, "test": {"accuracy": 0.0}}

    _, final = train_supervised(
        ctx, model=torch.nn.Linear(3, 2), batches=infinite_batches(data, batch, gen),
        budget=Budget(steps=steps, eval_every=eval_every), forward=lambda m, b: m(b["x"]),
        task_loss=lambda o, b: torch.nn.functional.cross_entropy(o, b["y"]), evaluate=evaluate,
        batch_size=batch, target=target,
    )
    return ctx, final, calls


def test_loop_records_the_step_and_samples_to_target(registry):
    # Evaluations at steps 2, 4, 6, 8 and the final one at 10; 0.96 at step 6 is the first >= 0.95.
    ctx, final, calls = run_loop(registry, [0.5, 0.8, 0.96, 0.99, 0.97], Target("val_accuracy", 0.95))
    assert len(calls) == 5 and ctx.counters["steps"] == 10
    t = final["target"]
    assert t["steps_to_target"] == 6.0 and t["samples_to_target"] == 24.0 and t["target_censored"] == 0.0
    assert t["target_budget_steps"] == 10.0 and t["wall_s_to_target"] > 0


def test_loop_stops_early_once_reached(registry):
    ctx, final, calls = run_loop(registry, [0.5, 0.8, 0.96, 0.99, 0.97], Target("val_accuracy", 0.95, stop_early=True))
    # Training ends at step 6; the step-6 evaluation is the final one (not evaluated twice).
    assert calls == [0.5, 0.8, 0.96] and ctx.counters["steps"] == 6 and ctx.counters["samples"] == 24
    assert final["val"]["accuracy"] == 0.96 and final["target"]["steps_to_target"] == 6.0
    assert max(s for s, _, split, _, _ in ctx.curves if split == "train") == 6
    assert [s for s, _, split, m, _ in ctx.curves if (split, m) == ("val", "accuracy")] == [2, 4, 6]


def test_loop_censors_a_target_never_reached(registry):
    ctx, final, calls = run_loop(registry, [0.5, 0.6, 0.7, 0.8, 0.9], Target("val_accuracy", 0.95, stop_early=True))
    assert len(calls) == 5 and ctx.counters["steps"] == 10
    assert final["target"] == {"target_censored": 1.0, "target_budget_steps": 10.0}


def test_loop_checks_the_final_evaluation_and_min_direction(registry):
    # val_loss = 1 - value: 0.5, 0.4, 0.3, 0.2 at steps 2..8, then 0.05 at step 10: first <= 0.1 is the final one.
    _, final, _ = run_loop(registry, [0.5, 0.6, 0.7, 0.8, 0.95], Target("val_loss", 0.1, direction="min"))
    assert final["target"]["steps_to_target"] == 10.0


def test_loop_refuses_a_target_on_a_metric_it_does_not_evaluate(registry):
    with pytest.raises(ValueError, match="val_top5"):
        run_loop(registry, [0.5] * 5, Target("val_top5", 0.9))


def test_infinity_is_never_stored():
    # The censored representation has no placeholder number a reader could average.
    m = TargetTracker(Target("val_accuracy", 0.9), budget=5).metrics()
    assert all(math.isfinite(v) for v in m.values())
