"""``regsuite tune``: an external-tuning protocol (as in AlgoPerf and DomainBed).

For every (task, method) of the selection:

1. trial 1 is the run's defaults; draw N - 1 more configurations quasi-randomly from the method's declared search
   space (every ``space`` entry of every component of the run, minus the
   keys fixed with ``--hp``): point ``u`` in [0, 1)^d from scrambled Sobol or
   Halton (``scipy.stats.qmc``), mapped per dimension by ``Param.sample``;
2. train each once (seed ``TRIAL_SEED``, apart from the final seeds) with
   protocol ``tuning-trial``; trials go to ``OUT/tuning/`` (a store of their
   own, so the leaderboard never mixes them with results);
3. select the trial with the best *validation* metric (``Task.validation``,
   e.g. ``val_accuracy``); the test metric is never looked at;
4. re-run the selected configuration on the final seeds with protocol
   ``tuned:<sampler>-<N>``, which is part of the run id; results and the
   leaderboard group by protocol, so tuned and default numbers stay apart.

The protocol, the budget spent and the selection are stored in
``OUT/tuning/selections/<task>__<method>__<protocol>.json``.
"""

from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path

import click

from .errors import UsageError
from .selections import selection_path, write_selection
from .validate import OutDir
from .executors.options import build as build_executor, executor_options

TRIAL_SEED = 10_000
TRIAL_PROTOCOL = "tuning-trial"
SAMPLERS = ("sobol", "halton")


def protocol_name(sampler: str, trials: int, tuning_seed: int = 0) -> str:
    """``tuned:sobol-6+default``: trial 1 is the declared defaults, the other trials quasi-random."""
    return f"tuned:{sampler}-{trials}+default" + (f"-s{tuning_seed}" if tuning_seed else "")


# The optimizer a run gets implicitly (a regularizer on sgd) is tuned on its learning rate only,
# log-uniform within this factor of its default for the task: a regularizer at the baseline's lr
# is no fair test, and the same few trials spread over every optimizer knob would mostly be noise.
LR_WINDOW = 10.0


def search_dims(reg, spec, fixed: set[tuple[str, str]], lr_window: float = LR_WINDOW,
                baseline: str | None = None) -> list[tuple[str, str, object]]:
    """(component, key, Param) for every tunable hyperparameter of the run, in a stable order.

    Components named in the run's method spec are tuned over their whole declared space; a
    component the plan added (the task's default optimizer or schedule) contributes only an
    optimizer's ``lr``, over [default / lr_window, default * lr_window]. The task's ``baseline``,
    when it is an optimizer run alone, is tuned like an implied optimizer (its lr in the window,
    the rest at the task's values): it is the control every non-optimizer method is measured
    against, so the two must search the same lr window, or a regularizer's gain is partly the
    lr's. Keys fixed with ``--hp`` are never tuned.
    """
    from .space import LogUniform

    named = {n.strip() for n in spec.method.split("+")}
    dims = []
    for comp in spec.components:
        cls = reg.method(comp)
        as_baseline = spec.method == baseline and cls.family == "optimizer" and "lr" in cls.space
        if comp in named and not as_baseline:
            dims += [(comp, key, param) for key, param in sorted(cls.space.items()) if (comp, key) not in fixed]
        elif cls.family == "optimizer" and "lr" in cls.space and (comp, "lr") not in fixed:
            lr = float(spec.hparams[comp]["lr"])
            dims.append((comp, "lr", LogUniform(lr / lr_window, lr * lr_window)))
    return dims


def qmc_points(sampler: str, d: int, n: int, seed: int):
    """n points in [0, 1)^d from a scrambled Sobol or Halton sequence."""
    from scipy.stats import qmc

    engine = qmc.Sobol(d, scramble=True, seed=seed) if sampler == "sobol" else qmc.Halton(d, scramble=True, seed=seed)
    with warnings.catch_warnings():  # Sobol prefers powers of two; any n is still a valid prefix
        warnings.simplefilter("ignore", UserWarning)
        return engine.random(n)


def trial_specs(reg, spec, dims, points, steps: int | None = None) -> list:
    """One trial spec per point; ``steps`` (the task's step budget) scales :class:`BudgetSteps` dimensions."""
    from dataclasses import replace

    out = []
    for u in points:
        hp = copy.deepcopy(spec.hparams)
        for (comp, key, param), x in zip(dims, u):
            hp[comp][key] = param.sample(float(x), steps=steps)
        out.append(replace(spec, hparams=hp, seed=TRIAL_SEED, protocol=TRIAL_PROTOCOL))
    return out


def select(task, rows: list[dict]) -> dict | None:
    """The trial row with the best validation metric (first one on ties); None if none finished ok.

    Where the validation metric is a time to the task's target (``steps_to_target``), a trial
    that never reached the target has no value: it ranks after every trial that did, and such
    trials rank among themselves by the target's own metric at the end (the closest to the
    target first), so a board where no trial reaches the target still selects one.
    """
    from .target import CENSORED

    metric = task.validation
    target = getattr(task, "target", None)
    best, best_key = None, None
    for row in rows:
        if row["status"] != "ok":
            continue
        value = _metric(row, metric.name)
        if value is not None and value == value:
            key = (0, value if metric.direction == "min" else -value)
        elif target is not None and _metric(row, CENSORED) == 1.0:
            end = _metric(row, target.metric)
            if end is None or end != end:
                continue
            key = (1, end if target.direction == "min" else -end)
        else:
            continue
        if best is None or key < best_key:
            best, best_key = row, key
    return best


@click.command()
@click.option("--task", "tasks", multiple=True, required=True, help="Task(s) by name or suite/name.")
@click.option("--method", "methods", multiple=True, help="Method or composition; repeatable (default: the suite's).")
@click.option("--trials", type=click.IntRange(1, 10_000), default=16, show_default=True,
              help="Configurations drawn per method.")
@click.option("--sampler", type=click.Choice(SAMPLERS), default="sobol", show_default=True)
@click.option("--tuning-seed", type=click.IntRange(0, 2**31 - 1), default=0, show_default=True,
              help="Seed of the scrambled sequence.")
@click.option("--seeds", type=click.IntRange(1, 1000), default=None, help="Final seeds (default: the suite's).")
@click.option("--tier", type=click.Choice(["smoke", "standard", "full"]), default="smoke", show_default=True)
@click.option("--hp", "hp", multiple=True, metavar="METHOD.KEY=VALUE", help="Fix a hyperparameter (not tuned).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--out", type=OutDir(), default=Path("results") / "local", show_default=True)
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--quiet", is_flag=True, help="No progress display.")
@executor_options
@click.pass_obj
def tune(obj, tasks, methods, trials, sampler, tuning_seed, seeds, tier, hp, device, out, data_dir, quiet,
         executor_name, workers, timeout, executor_config):
    """Tune methods on the validation metric, then re-run the chosen configuration on the final seeds."""
    from .plan import build_plan

    reg = obj.registry
    plan = build_plan(reg, tasks=tasks, methods=methods, seeds=1, tier=tier, hp=hp)
    for line in plan.skipped:
        click.echo(f"skipped (incompatible): {line}", err=True)
    with build_executor(executor_name, workers, timeout, executor_config) as executor:
        summary, finals, counts = run_tuning(
            reg, plan.runs, trials=trials, sampler=sampler, tuning_seed=tuning_seed, seeds=seeds, hp=hp,
            out=out, executor=executor, device=device, data_dir=data_dir, quiet=quiet,
            plugin_options=obj.plugin_options)
    from .cli import _echo_table, _print_results
    from .store import Store

    _echo_table(["task", "method", "best validation", "selected hyperparameters"], summary)
    if counts:
        click.echo(f"{len(finals)} final runs ({finals[0].protocol}): {counts['cached']} cached, {counts['ok']} ok, "
                   f"{counts['diverged']} diverged, {counts['error']} error, {counts['timeout']} timeout", err=True)
        _print_results(reg, Store(out), {r.run_id for r in finals}, "table")


def run_tuning(reg, base_specs, *, trials: int, sampler: str, tuning_seed: int, seeds: int | None, hp, out: Path,
               executor, device: str = "cpu", data_dir=None, quiet: bool = False, plugin_options=()):
    """Trials, selection and final seeds for each base spec (one per task and method).

    Returns ``(summary rows, final specs, final counts)``. A run with nothing to tune (no search
    space, every key fixed) goes straight to its final seeds at its defaults, under the same
    protocol, and its record says so.
    """
    from dataclasses import replace

    from .plan import parse_hp_options
    from .runner import run_plan
    from .store import Store

    fixed = {(ov.method, ov.key) for ov in parse_hp_options(hp)}
    protocol = protocol_name(sampler, trials, tuning_seed)
    jobs = []  # (task, base spec, dims, trial specs)
    for spec in base_specs:
        task = reg.tasks[spec.task]
        if task.validation is None:
            raise UsageError(f"task {spec.task} declares no validation metric, so it cannot be tuned")
        dims = search_dims(reg, spec, fixed, baseline=task.baseline)
        if not dims and search_dims(reg, spec, set(), baseline=task.baseline):
            raise UsageError(f"{spec.method} on {spec.task} has no search space left to tune")
        # Trial 1 is the method's defaults (so tuning never does worse on validation than not tuning:
        # a baseline whose few random draws all miss would flatter every other method); the other
        # trials are the first trials - 1 points of the scrambled sequence.
        points = qmc_points(sampler, len(dims), trials - 1, tuning_seed) if dims and trials > 1 else []
        defaults = replace(spec, seed=TRIAL_SEED, protocol=TRIAL_PROTOCOL)
        jobs.append((task, spec, dims, [defaults, *trial_specs(reg, spec, dims, points, task.budget.steps)] if dims else []))

    store, trial_store = Store(out), Store(out / "tuning")
    run_kw = dict(device=device, data_dir=data_dir, options={}, progress=not quiet, plugin_options=plugin_options)
    finals, summary = [], []
    all_trials = [t for job in jobs for t in job[3]]
    if all_trials:
        run_plan(reg, all_trials, trial_store, executor=executor, **run_kw)
    rows = {r["run_id"]: r for r in trial_store.runs().to_dict("records")} if all_trials else {}
    for task, spec, dims, trial_runs in jobs:
        trial_rows = [rows[t.run_id] for t in trial_runs if t.run_id in rows]
        n_seeds = seeds if seeds is not None else reg.suite(task.suite).default_seeds
        record = {
            "task": spec.task, "method": spec.method, "protocol": protocol, "sampler": sampler,
            "tuning_seed": tuning_seed, "trial_seed": TRIAL_SEED, "trials": trials if dims else 0,
            "lr_window": LR_WINDOW,
            "validation_metric": task.validation.name, "validation_direction": task.validation.direction,
            "space": {f"{c}.{k}": p.describe() for c, k, p in dims},
            "fixed": sorted(f"{c}.{k}" for c, k in fixed),
            "budget": {"steps_per_trial": task.budget.steps, "total_steps": task.budget.steps * len(trial_runs),
                       "trial_wall_s": sum(r["wall_s"] or 0.0 for r in trial_rows)},
            "trial_runs": [
                {"run_id": r["run_id"], "hparams": json.loads(r["hparams"]), "status": r["status"],
                 task.validation.name: _metric(r, task.validation.name),
                 task.primary.name: _metric(r, task.primary.name)}
                for r in trial_rows
            ],
            "selected": None,
            "final_seeds": n_seeds,
        }
        if not dims:
            record["selected"] = {"run_id": None, "hparams": spec.hparams, "note": "nothing to tune: defaults"}
            finals += [replace(spec, seed=s, protocol=protocol) for s in range(n_seeds)]
            summary.append((spec.task, spec.method, "—", "(nothing to tune: defaults)"))
        elif (best := select(task, trial_rows)) is None:
            click.echo(f"warning: no trial of {spec.method} on {spec.task} finished ok; nothing selected", err=True)
        else:
            chosen = json.loads(best["hparams"])
            record["selected"] = {"run_id": best["run_id"], "hparams": chosen,
                                  task.validation.name: _metric(best, task.validation.name)}
            finals += [replace(spec, hparams=chosen, seed=s, protocol=protocol) for s in range(n_seeds)]
            summary.append((spec.task, spec.method, selected_value_text(task, best),
                            " ".join(f"{c}.{k}={chosen[c][k]:.4g}" if isinstance(chosen[c][k], float)
                                     else f"{c}.{k}={chosen[c][k]}" for c, k, _ in dims)))
        write_selection(selection_path(out, spec.task, spec.method, protocol), record)
    counts = run_plan(reg, finals, store, executor=executor, **run_kw) if finals else {}
    return summary, finals, counts


def selected_value_text(task, row: dict) -> str:
    """The selected trial's validation value for the summary table; a censored time to target says so."""
    value = _metric(row, task.validation.name)
    if value is not None and value == value:
        return f"{value:.4f}"
    target = getattr(task, "target", None)
    end = _metric(row, target.metric) if target is not None else None
    return "not reached" + (f" ({target.metric} {end:.4f})" if end is not None else "")


def _metric(row: dict, name: str):
    from .store import metrics_of

    value = metrics_of(row).get(name)
    return None if value is None else float(value)
