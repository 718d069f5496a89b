"""Optimal transport suite end to end: plans, runs through the runner, closed-form maps, determinism."""

from __future__ import annotations

import json

import numpy as np
import pytest

from regsuite import Budget
from regsuite.errors import UsageError
from regsuite.plan import build_plan
from regsuite.registry import build_registry
from regsuite.runner import execute_run

SUITE = "optimal-transport"


@pytest.fixture(scope="module")
def reg():
    return build_registry()


def _shorten(reg, key: str, steps: int):
    """Swap the registered task for a copy with a short budget (same pair, model and metrics)."""
    task = reg.tasks[key]
    short = type(type(task).__name__, (type(task),), {"budget": Budget(steps=steps, eval_every=5, log_every=5)})()
    reg.tasks[key] = short
    return task


def _run(reg, task: str, method: str, seed: int = 0):
    plan = build_plan(reg, tasks=[task], methods=[method], seeds=1, seed_offset=seed, tier=None)
    (spec,) = plan.runs
    row, curves = execute_run(reg, spec)
    assert row["status"] == "ok", row["error"]
    return row, json.loads(row["metrics"]), curves


def test_suite_registered_with_baselines_in_default_plan(reg):
    suite = reg.suite(SUITE)
    assert not suite.in_default_plan
    assert {"identity", "linear-map", "monge-gap", "icnn-dual"} <= set(suite.default_methods)
    plan = build_plan(reg, suites=[SUITE], tier="smoke")
    methods = {r.method for r in plan.runs}
    assert {"adamw", "identity", "linear-map", "entropic-map", "displacement-sparsity"} <= methods
    dims = {reg.tasks[k].dim for k in reg.tasks if k.startswith(SUITE)}
    assert {2, 16, 64, 256} <= dims


def test_ot_methods_refused_on_tasks_without_transport_maps(reg):
    with pytest.raises(UsageError, match="monge-gap needs transport_map"):
        build_plan(reg, tasks=["vision/digits-mlp"], methods=["monge-gap"], seeds=1, tier=None)


@pytest.mark.parametrize("task", ["gaussian-2d-mlp", "gaussian-16d-mlp"])
def test_closed_form_linear_map_scores_below_half_a_percent(reg, task):
    row, metrics, _ = _run(reg, f"{SUITE}/{task}", "linear-map")
    assert metrics["l2_uvp"] < 0.5
    assert metrics["cosine"] > 0.999
    # It stops once its n_fit = 8192 samples are in: 32 batches of 256.
    assert row["steps"] == 32 and row["samples"] == 8192


def test_identity_matches_the_gaussian_formula(reg):
    key = f"{SUITE}/gaussian-2d-mlp"
    _, metrics, _ = _run(reg, key, "identity")
    pair = reg.tasks[key].pair()
    # E||x - (A x + b)||^2 for x ~ N(ms, Cs): trace((I-A) Cs (I-A)^T) + ||(I-A) ms - b||^2.
    eye = np.eye(pair.dim)
    residual = (eye - pair.A) @ pair.ms - pair.b
    expected = 100 * (np.trace((eye - pair.A) @ pair.Cs @ (eye - pair.A).T) + residual @ residual) / np.trace(pair.Ct)
    assert metrics["l2_uvp"] == pytest.approx(expected, rel=0.05)
    assert metrics["cosine"] == 0.0


def test_short_neural_runs_are_deterministic_and_logged(reg):
    key = f"{SUITE}/gaussian-2d-mlp"
    original = _shorten(reg, key, 15)
    try:
        first = _run(reg, key, "monge-gap+displacement-sparsity", seed=1)
        again = _run(reg, key, "monge-gap+displacement-sparsity", seed=1)
        assert first[1] == again[1]
        row, metrics, curves = first
        assert row["steps"] == 15 and row["samples"] == 15 * 256
        assert set(metrics) >= {"l2_uvp", "cosine", "w2", "val_l2_uvp", "train_loss", "displacement_zero_fraction"}
        assert {(c["split"], c["metric"]) for c in curves} >= {("train", "loss"), ("val", "l2_uvp"), ("test", "l2_uvp")}
        dual = _run(reg, key, "icnn-dual+sgd")[1]
        assert np.isfinite(dual["l2_uvp"])
    finally:
        reg.tasks[key] = original


def test_icnn_map_task_and_entropic_map_run(reg):
    key = f"{SUITE}/icnn-pair-16d-icnn"
    original = _shorten(reg, key, 5)
    try:
        _, neural, _ = _run(reg, key, "adamw")
        assert np.isfinite(neural["l2_uvp"])
        row, entropic, _ = _run(reg, key, "entropic-map")
        # Beats doing nothing by a wide margin even on 1280 samples.
        assert row["steps"] == 5  # the budget ended before n_fit = 2048: fitted on 5 x 256
        _, identity, _ = _run(reg, key, "identity")
        assert entropic["l2_uvp"] < identity["l2_uvp"] / 5
    finally:
        reg.tasks[key] = original


@pytest.mark.parametrize("task,method", [("ridge-16d-mlp", "monge-gap"), ("ridge-16d-icnn", "adamw"),
                                         ("ridge-64d-mlp", "adamw"), ("gaussian-16d-mlp", "adamw"),
                                         ("star-16d-mlp", "icnn-dual")])
def test_standard_tasks_run_end_to_end_on_a_short_budget(reg, task, method):
    key = f"{SUITE}/{task}"
    assert reg.tasks[key].tier == "standard"
    original = _shorten(reg, key, 5)
    try:
        row, metrics, curves = _run(reg, key, method)
    finally:
        reg.tasks[key] = original
    assert row["steps"] == 5 and np.isfinite(metrics["l2_uvp"]) and metrics["l2_uvp"] > 0
    assert row["samples"] == 5 * reg.tasks[key].batch_size
    assert ("test", "l2_uvp") in {(c["split"], c["metric"]) for c in curves}


@pytest.mark.slow  # ~25 CPU s: the solver leaves the linear map's plateau only after ~3,000 steps
def test_icnn_dual_beats_the_linear_map_on_the_star_pair_at_d16(reg):
    """The registered star-16d-mlp budget (5,000 steps of 128), fewer evaluation points.

    The star pair's best affine map scores 34% (test_star_pair_is_far_from_affine...), the
    linear-map estimate 37.8%; push-forward fitting alone cannot find T* (rotations of the
    Gaussian source), the minimax solver can (26-29% over seeds 0-2 in the pilots).
    The fast path of the same task and method: test_standard_tasks_run_end_to_end_on_a_short_budget.
    """
    key = f"{SUITE}/star-16d-mlp"
    task = reg.tasks[key]
    assert task.budget.steps == 5000 and task.batch_size == 128
    small = type(type(task).__name__, (type(task),), {"n_test": 1024, "n_val": 512, "n_w2": 256,
                                                      "budget": Budget(steps=5000, log_every=500)})()
    reg.tasks[key] = small
    try:
        linear = _run(reg, key, "linear-map")[1]["l2_uvp"]
        dual = _run(reg, key, "icnn-dual")[1]["l2_uvp"]
    finally:
        reg.tasks[key] = task
    assert linear > 34.0  # far from affine: no affine map scores under 34% at d = 16
    assert dual < linear - 5.0, (dual, linear)


def test_ot_methods_pass_the_conformance_checks(reg):
    from regsuite.testing import conformance

    key = f"{SUITE}/gaussian-2d-mlp"
    original = _shorten(reg, key, 12)
    try:
        names = ["monge-gap", "displacement-sparsity", "icnn-dual", "entropic-map", "linear-map", "identity"]
        failed = [r for r in conformance(names, task=key, reg=reg) if not r.ok]
    finally:
        reg.tasks[key] = original
    assert not failed, [(r.method, r.check, r.detail) for r in failed]
