"""OT solver methods and the solver task: hand-worked plans, rounding, Hessian sparsification, runs."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from regsuite.errors import UsageError
from regsuite.plan import build_plan
from regsuite.plugins.ot_solvers import (
    SinkhornLog,
    SinkhornNewtonSparse,
    SparsityConstrainedOT,
    sinkhorn_newton_sparse,
    sparsified_hessian,
)
from regsuite.registry import build_registry
from regsuite.runner import execute_run
from regsuite.suites.optimal_transport.solver_tasks import marginal_error, round_to_polytope
from regsuite.testing import conformance

SMOKE = "optimal-transport/solver-100-2d"


@pytest.fixture(scope="module")
def reg():
    return build_registry()


def entropic_2x2():
    """a = (0.7, 0.3), b = (0.4, 0.6), C = [[0, 1], [1, 0]], reg = 1, solved by hand.

    The entropic plan is diag(u) K diag(v), so P11 P22 / (P12 P21) = e^{(C12 + C21 - C11 - C22)/reg} = e^2.
    With P = [[p, 0.7 - p], [0.4 - p, p - 0.1]]: p (p - 0.1) = e^2 (0.7 - p)(0.4 - p), i.e.
    (e^2 - 1) p^2 - (1.1 e^2 - 0.1) p + 0.28 e^2 = 0, of which the root in (0.1, 0.4) is the plan.
    """
    a, b, C = np.array([0.7, 0.3]), np.array([0.4, 0.6]), np.array([[0.0, 1.0], [1.0, 0.0]])
    k = math.e**2
    qa, qb, qc = k - 1, -(1.1 * k - 0.1), 0.28 * k
    p = (-qb - math.sqrt(qb * qb - 4 * qa * qc)) / (2 * qa)
    assert 0.1 < p < 0.4  # p = 0.36201...
    return a, b, C, np.array([[p, 0.7 - p], [0.4 - p, p - 0.1]])


def test_sns_newton_stage_reaches_the_hand_solved_entropic_plan_in_few_steps():
    a, b, C, want = entropic_2x2()
    # One Sinkhorn update only: the Newton stage has to do the rest.
    P, _, _, log = sinkhorn_newton_sparse(a, b, C, eta=1.0, n_sinkhorn=1, max_iter=50, rho=1.0, tol=1e-12)
    np.testing.assert_allclose(P, want, atol=1e-10)
    assert log["iterations"] <= 10  # Newton converges quadratically; Sinkhorn alone needs dozens here
    assert log["inner_iterations"] >= 1


def test_sinkhorn_log_method_reaches_the_same_plan():
    a, b, C, want = entropic_2x2()
    P, log = SinkhornLog({"reg": 1.0}).solve(a, b, C, 1e-12, 10_000)
    np.testing.assert_allclose(P, want, atol=1e-9)
    P2, log2 = SinkhornNewtonSparse({"reg": 1.0, "n_sinkhorn": 1, "rho": 1.0}).solve(a, b, C, 1e-12, 100)
    np.testing.assert_allclose(P2, want, atol=1e-9)
    assert log2["iterations"] < log["iterations"]


def test_sparsified_hessian_keeps_the_largest_off_diagonal_entries_and_the_exact_diagonal():
    P = np.array([[0.1, 0.3, 0.05], [0.2, 0.02, 0.33]])
    M = sparsified_hessian(P, eta=2.0, keep=2).toarray()
    # Rows/columns: x1, x2, y1, y2, y3. Diagonal: 2 x (row sums 0.45, 0.55; column sums 0.3, 0.32, 0.38).
    want = np.zeros((5, 5))
    np.fill_diagonal(want, [0.9, 1.1, 0.6, 0.64, 0.76])
    want[0, 3] = want[3, 0] = 2 * 0.3  # P[0, 1], the second largest
    want[1, 4] = want[4, 1] = 2 * 0.33  # P[1, 2], the largest
    np.testing.assert_allclose(M, want)


def test_rounding_adds_the_missing_mass_as_a_rank_one_plan():
    a = b = np.array([0.5, 0.5])
    # Under both marginals: errors (0.1, 0.3) each, mass 0.4; added outer / 0.4 = [[.025, .075], [.075, .225]].
    np.testing.assert_allclose(round_to_polytope(np.array([[0.3, 0.1], [0.1, 0.1]]), a, b),
                               [[0.325, 0.175], [0.175, 0.325]])
    # Row 0 over a: scaled by 0.5 / 0.8 to (0.375, 0.125); then row 1 gets (0.125, 0.175) x 0.3 / 0.3.
    np.testing.assert_allclose(round_to_polytope(np.array([[0.6, 0.2], [0.0, 0.2]]), a, b),
                               [[0.375, 0.125], [0.125, 0.375]])


def test_marginal_error_is_the_norm_of_both_violations():
    P = np.array([[0.3, 0.1], [0.1, 0.1]])
    # P 1 - a = (-0.1, -0.3), P^T 1 - b = (-0.1, -0.3): sqrt(2 (0.01 + 0.09)).
    assert marginal_error(P, np.array([0.5, 0.5]), np.array([0.5, 0.5])) == pytest.approx(math.sqrt(0.2))


def test_sparsity_constrained_plan_has_at_most_k_nonzeros_per_column():
    a = b = np.array([0.5, 0.5])
    C = np.array([[0.0, 1.0], [1.0, 0.0]])
    # k = 1: each column holds all of b_j in one cell; the cheap one is the diagonal, the exact plan.
    P, _ = SparsityConstrainedOT({"reg": 0.1, "max_nz": 1}).solve(a, b, C, 1e-9, 500)
    np.testing.assert_allclose(P, [[0.5, 0.0], [0.0, 0.5]], atol=1e-6)
    rng = np.random.default_rng(0)
    a, b = np.full(30, 1 / 30), np.full(20, 1 / 20)
    P, log = SparsityConstrainedOT({"reg": 0.1, "max_nz": 3}).solve(a, b, rng.uniform(size=(30, 20)), 1e-9, 500)
    assert ((P > 0).sum(0) <= 3).all() and log["iterations"] >= 1


def _run(reg, method: str, seed: int = 0, hp=()):
    plan = build_plan(reg, tasks=[SMOKE], methods=[method], seeds=1, seed_offset=seed, tier=None)
    (spec,) = plan.runs
    row, _ = execute_run(reg, spec)
    assert row["status"] == "ok", row["error"]
    return row, json.loads(row["metrics"])


def test_solver_task_scores_exact_emd_at_zero_gap_and_sinkhorn_above_it(reg):
    _, emd = _run(reg, "emd")
    assert abs(emd["cost_gap"]) < 1e-6 and emd["marginal_error"] < 1e-9 and "iterations" not in emd
    row, sk = _run(reg, "sinkhorn-log")
    assert sk["cost_gap"] > 0.1  # reg 0.01 of the mean cost blurs the plan measurably
    assert sk["marginal_error"] < 1e-8 and sk["target_censored"] == 0.0
    assert sk["steps_to_target"] == sk["iterations"] == row["steps"]
    _, sns = _run(reg, "sinkhorn-newton-sparse")
    assert sns["cost_gap"] == pytest.approx(sk["cost_gap"], abs=1e-4)  # same entropic problem
    assert sns["iterations"] * 5 < sk["iterations"]


def test_solver_task_refuses_methods_that_are_not_solvers(reg):
    # Nothing in the plan stops a procedure or an optimizer that needs no capability: the task
    # refuses it with one clear line before any work.
    for method in ("sam", "adamw"):
        plan = build_plan(reg, tasks=[SMOKE], methods=[method], seeds=1, tier=None)
        row, _ = execute_run(reg, plan.runs[0])
        assert row["status"] == "error" and "runs OT solvers" in row["error"], row["error"]
    with pytest.raises(UsageError, match="needs ot_solver"):  # and solvers stay off the other tasks
        build_plan(reg, tasks=["vision/digits-mlp"], methods=["sinkhorn-log"], seeds=1, tier=None)


@pytest.mark.parametrize("name", ["emd", "sinkhorn-log", "sinkhorn-newton-sparse", "sparsity-constrained-ot"])
def test_solvers_conform(reg, name):
    failed = [r for r in conformance([name], reg=reg) if not r.ok]
    assert not failed, failed


def _run_task(reg, task, method: str, seed: int):
    import torch

    from regsuite.context import RunContext
    from regsuite.plan import RunSpec, resolve_components, resolve_hparams
    from regsuite.runner import build_hooks, seed_everything

    components = resolve_components(reg, method, task)
    hp = resolve_hparams(reg, components, task, [])
    spec = RunSpec(task.suite, "1", task.key(), task.tier, method, components, hp, seed)
    seed_everything(seed)
    ctx = RunContext(seed=seed, device=torch.device("cpu"), tier=task.tier, hooks=build_hooks(reg, spec), hparams=hp)
    return task.run(ctx), ctx


def test_a_run_of_k_instances_reports_the_means_of_the_k_problems_single_runs_would_draw(reg):
    """Instance i of seed s is problem 2 (k s + i): seed 0 with k = 3 solves the test problems of
    single-instance seeds 0, 1 and 2 (and their validation problems)."""
    base = type(reg.task(SMOKE))
    multi = type("Three", (base,), {"instances": 3})()
    single = [_run_task(reg, base(), "sinkhorn-log", s)[0] for s in range(3)]
    three, ctx = _run_task(reg, multi, "sinkhorn-log", 0)
    for key in ("cost_gap", "val_cost_gap", "iterations", "support_fraction"):
        assert three[key] == pytest.approx(sum(r[key] for r in single) / 3, rel=1e-12), key
    assert three["marginal_error"] == max(r["marginal_error"] for r in single)
    assert three["steps_to_target"] == three["iterations"] and three["target_censored"] == 0.0
    assert ctx.counters["steps"] == sum(int(r["iterations"]) for r in single)


def test_standard_solver_tasks_are_revised_to_sixteen_and_thirty_two_instances(reg):
    task = reg.task("optimal-transport/solver-300-2d")
    assert task.instances == 32 and task.board_version("1") == "1+task3"
    assert not task.on_leaderboard  # solver-200 ranks the same solvers and separates them
    task = reg.task("optimal-transport/solver-200-2d")
    assert task.instances == 16 and task.board_version("1") == "1+task2" and task.on_leaderboard
    assert reg.task(SMOKE).instances == 1 and reg.task(SMOKE).board_version("1") == "1"
