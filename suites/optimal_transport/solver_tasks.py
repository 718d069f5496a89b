"""Discrete OT solver tasks: solve one problem, score cost, feasibility and iterations.

Unlike the map tasks (``tasks.py``), nothing is trained: a run's solver method (capability
``ot_solver``, ``regsuite.plugins.ot_solvers``) receives a discrete problem in ``state.batch``
(``a``, ``b``, ``C``, ``tol``, ``max_iter``; numpy float64), publishes its plan under
``state.extras["transport_plan"]`` and its counts under ``state.extras["solver_log"]``.

Each run solves ``instances`` validation problems (tuning reads their mean ``val_cost_gap``) and
as many test problems (everything else, means over them), all drawn from the run seed. Points: source from a 3-Gaussian
mixture, target uniform on [-1, 1]^d, random positive weights; c(x, y) = ||x - y||^2 scaled
to mean 1, so an entropic ``reg`` means the same at every size.

Metrics of the test problems (means over them, unless said):

* ``cost_gap`` (primary, %): 100 (<round(P), C> - OT) / OT, with OT the exact cost (POT's
  network simplex) and round(P) Altschuler et al.'s rounding onto {P 1 = a, P^T 1 = b}, so a
  plan that misses its marginals cannot look cheaper than the optimum;
* ``marginal_error``: ||(P 1 - a, P^T 1 - b)||_2 of the plan as returned (the worst problem's);
* ``iterations`` (and ``inner_iterations`` where the solver has them), and time to target:
  ``steps_to_target`` = iterations when the solver stopped within ``tol`` on every problem, else
  censored;
* ``support_fraction``: share of entries above 1e-9 max(P).

The run's ``steps`` counter is the test solves' iterations and ``train_s`` their wall time, so
the run row's step time is the time per iteration. Wall times are never metrics (two runs of
one seed must report identical metrics).
"""

from __future__ import annotations

import time

from regsuite import Budget, Metric, Task

SOLVER = frozenset({"ot_solver"})
PLAN_KEY, LOG_KEY = "transport_plan", "solver_log"


def make_problem(n: int, dim: int, seed: int):
    """(a, b, C) for ``n`` source and ``n`` target points; C = squared distances / their mean."""
    import numpy as np

    rng = np.random.default_rng(seed)
    centers = rng.uniform(-1.0, 1.0, (3, dim))
    x = centers[rng.integers(0, 3, n)] + 0.25 * rng.standard_normal((n, dim))
    y = rng.uniform(-1.0, 1.0, (n, dim))
    a, b = rng.uniform(0.5, 1.5, n), rng.uniform(0.5, 1.5, n)
    C = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    return a / a.sum(), b / b.sum(), C / C.mean()


def round_to_polytope(P, a, b):
    """Altschuler, Weed, Rigollet 2017 (Algorithm 2): the nearby plan with marginals exactly a and b.

    Scale rows down to at most a, columns down to at most b, then add the missing mass as the
    rank-one err_a err_b^T / ||err_a||_1 (both errors are non-negative and of equal mass).
    """
    import numpy as np

    with np.errstate(divide="ignore", invalid="ignore"):
        F = P * np.minimum(np.nan_to_num(a / P.sum(1), nan=1.0, posinf=1.0), 1.0)[:, None]
        F = F * np.minimum(np.nan_to_num(b / F.sum(0), nan=1.0, posinf=1.0), 1.0)[None, :]
    err_a, err_b = a - F.sum(1), b - F.sum(0)
    mass = err_a.sum()
    return F + np.outer(err_a, err_b) / mass if mass > 0 else F


def marginal_error(plan, a, b) -> float:
    """|| (P 1 - a, P^T 1 - b) ||_2 (after a Sinkhorn row update: POT's stopping error)."""
    import numpy as np

    return float(np.sqrt(((plan.sum(1) - a) ** 2).sum() + ((plan.sum(0) - b) ** 2).sum()))


class SolverTask(Task):
    """Solve one validation and one test instance of ``n`` x ``n`` points in ``dim`` dimensions."""

    suite = "optimal-transport"
    primary = Metric("cost_gap", "min")
    validation = Metric("val_cost_gap", "min")
    secondary = ("val_cost_gap", "marginal_error", "iterations", "inner_iterations", "support_fraction",
                 "steps_to_target")
    baseline = "sinkhorn-log"
    provides = SOLVER
    # Solvers are procedures; other procedures (SAM...) are refused by run() before any work, so the
    # leaderboard names the solvers instead of a family.
    leaderboard_families = frozenset()
    leaderboard_extra = frozenset({"emd", "sinkhorn-log", "sinkhorn-newton-sparse", "sparsity-constrained-ot"})
    n: int = 100
    dim: int = 2
    tol: float = 1e-8
    # Instances a run solves per split, its metrics their means (marginal error: the worst). Which
    # problem a seed draws moves a solver's gap more than the solvers differ: at one instance a run
    # the standard boards' seed spread left (a) range / median sd below 3 (docs/performance.md).
    instances: int = 1

    def solve(self, state, problem):
        import numpy as np

        a, b, C = problem
        batch = {"a": a, "b": b, "C": C, "tol": self.tol, "max_iter": self.budget.steps}
        t0 = time.perf_counter()
        state.train_step(batch)
        seconds = time.perf_counter() - t0
        plan, log = state.extras.pop(PLAN_KEY, None), state.extras.pop(LOG_KEY, {})
        if plan is None:
            raise RuntimeError("the run's solver published no plan under state.extras['transport_plan']")
        plan = np.asarray(plan, dtype=float)
        if plan.shape != C.shape or not np.isfinite(plan).all():
            raise RuntimeError(f"the solver's plan has shape {plan.shape} or non-finite entries")
        return plan, log, seconds

    def run(self, ctx):
        import numpy as np
        import ot
        import torch

        if not any(SOLVER <= m.requires for m in ctx.hooks.methods):
            names = "+".join(m.name for m in ctx.hooks.methods)
            raise ValueError(f"{self.key()} runs OT solvers (methods requiring 'ot_solver'); {names} is none")
        state = ctx.new_state(torch.nn.Module(), self.budget)
        k = self.instances
        gaps = {"val": [], "test": []}
        errors, support, iterations, inner, seconds, counts_iterations = [], [], [], [], 0.0, False
        for i in range(k):
            # Instance i of seed s: problem seeds 2 (k s + i) (test) and 2 (k s + i) + 1 (validation),
            # which for one instance a run are the seeds 2 s and 2 s + 1 of revision 1.
            for split, seed in (("val", 2 * (k * ctx.seed + i) + 1), ("test", 2 * (k * ctx.seed + i))):
                a, b, C = make_problem(self.n, self.dim, 50_000 + seed)
                exact = float(ot.emd2(a, b, C, numItermax=10_000_000))
                plan, log, spent = self.solve(state, (a, b, C))
                gaps[split].append(100.0 * (float((round_to_polytope(plan, a, b) * C).sum()) - exact) / exact)
                if split == "val":
                    continue
                seconds += spent
                errors.append(marginal_error(plan, a, b))
                support.append(float((plan > 1e-9 * plan.max()).mean()))
                iterations.append(int(log.get("iterations", 1)))
                if "inner_iterations" in log:
                    inner.append(float(log["inner_iterations"]))
                counts_iterations = counts_iterations or "iterations" in log
        out = {"val_cost_gap": float(np.mean(gaps["val"])), "cost_gap": float(np.mean(gaps["test"])),
               "marginal_error": float(max(errors)), "support_fraction": float(np.mean(support))}
        ctx.log(1, "val", "cost_gap", out["val_cost_gap"])
        if counts_iterations:
            out["iterations"] = float(np.mean(iterations))
            out["target_budget_steps"] = float(self.budget.steps)
            reached = max(errors) < self.tol  # every instance within tolerance
            out["target_censored"] = float(not reached)
            if reached:
                out["steps_to_target"] = float(np.mean(iterations))
        if inner:
            out["inner_iterations"] = float(np.mean(inner))
        ctx.counters.update(steps=int(sum(iterations)), samples=0, train_s=seconds)
        ctx.log(int(round(np.mean(iterations))), "test", "cost_gap", out["cost_gap"])
        for name in ("cost_gap", "marginal_error"):
            ctx.check_finite(out[name], name)
        out.update(state.finish())
        return out


def _task(n: int, dim: int, tier: str, max_iter: int, instances: int = 1, version: int = 1, on_leaderboard=True):
    each = f"{instances} problems a split, means over them" if instances > 1 else "one problem a split"
    attrs = {
        "name": f"solver-{n}-{dim}d",
        "tier": tier,
        "n": n,
        "dim": dim,
        "instances": instances,
        "version": version,
        "description": (f"discrete OT between {n} mixture and {n} uniform points in {dim}-D, squared cost ({each}); "
                        f"up to {max_iter} solver iterations to marginal error 1e-8; cost gap to the exact "
                        "optimum after rounding, iterations, time per iteration"),
        "budget": Budget(steps=max_iter, log_every=1),
        "on_leaderboard": on_leaderboard,
    }
    return type(f"OTSolver_{n}_{dim}", (SolverTask,), attrs)


SOLVER_TASKS = [
    _task(100, 2, "smoke", 1000),
    # Standard: Sinkhorn at reg 0.01 needs ~1000-2000 iterations here (12 ms each at n = 400 on one
    # thread of an idle machine: ~20 s a run with the validation solve), so n stays at 200 and 300.
    # Revision 2: 16 problems a split (was 1), so the board measures the solvers, not the draw.
    # solver-300 revision 3: 32, since at 16 the across-seed spread still left (a) at 8.1 (target 10);
    # at 32 it was 7.8, at twice the cost (1.3 CPU-hours). It ranks the same four solvers as
    # solver-200, which separates them, so it is off the leaderboard: a bench task for the solvers'
    # cost at a larger n (docs/performance.md, seventh session).
    _task(200, 2, "standard", 2000, instances=16, version=2),
    _task(300, 2, "standard", 2000, instances=32, version=3, on_leaderboard=False),
]
