"""``regsuite leaderboard``: the published protocol over every applicable method of a tier.

For each task of the selection, one task at a time (so an interrupted leaderboard leaves whole
task boards behind, and a re-run resumes from the store's cache):

1. the applicable methods: every registered method whose ``requires`` the task ``provides``,
   whose family the task ranks (``Task.leaderboard_families``; None: every family) and that
   composes with the task's defaults;
2. the tuned track (:func:`regsuite.tune.run_tuning`): ``--trials`` quasi-random trials per method
   on the tuning seed, selection on validation, the selection on ``--seeds`` final seeds;
3. the defaults track: methods at their declared defaults on ``--default-seeds`` seeds (protocol
   ``default``), labelled as such everywhere: the suite's default methods and the baseline
   (``--defaults-track suite``, the default: what ``regsuite bench`` runs), every applicable
   method (``all``), or none.

At the end, final runs whose selection record now names another configuration (after a
protocol revision) are moved to ``OUT/superseded/`` (:mod:`regsuite.store_retire`).

``--dry-run`` prints the plan (runs per task and in total, and the CPU time it will take
where the store already holds runs of that task to time it by) and runs nothing.
"""

from __future__ import annotations

import math
from pathlib import Path

import click

from .errors import CompositionError, UsageError
from .executors.options import build as build_executor, executor_options


def applicable_methods(reg, task) -> tuple[list[str], list[str]]:
    """(methods that run on ``task``, reasons for those that do not)."""
    from .plan import missing_capabilities, resolve_components

    if not getattr(task, "on_leaderboard", True):
        return [], ["every method: the task is not on the leaderboard (Task.on_leaderboard)"]
    families = getattr(task, "leaderboard_families", None)
    extra = set(getattr(task, "leaderboard_extra", ()))
    exclude = getattr(task, "leaderboard_exclude", {})
    ok, skipped = [], []
    # A composition named in leaderboard_extra (e.g. "adam+perp-grad": a method in the optimizer
    # setting its paper uses) gets a row of its own, checked like a single method.
    compositions = sorted(n for n in extra if "+" in n)
    for name, cls in [*sorted(reg.methods.items()), *((c, None) for c in compositions)]:
        if cls is not None and families is not None and cls.family not in families and name != task.baseline \
                and name not in extra:
            continue
        if name in exclude:
            skipped.append(f"{name}: left off this board: {exclude[name]}")
            continue
        try:
            components = resolve_components(reg, name, task)
        except (CompositionError, UsageError) as exc:
            skipped.append(f"{name}: {exc}")
            continue
        missing = missing_capabilities(reg, components, task)
        if missing:
            skipped.append(f"{name}: needs " + ", ".join(sorted(set().union(*missing.values()))))
            continue
        ok.append(name)
    return ok, skipped


def on_no_board(reg, tasks, ranked: set[str]) -> list[str]:
    """One line per method that no board of ``tasks`` ranks, saying why: each method's place on the
    leaderboard is declared per task (families, ``leaderboard_extra``), so a method outside every
    scope would otherwise drop off silently. Reference rows are never ranked and are not listed."""
    from .plan import missing_capabilities, resolve_components

    lines = []
    for name, cls in sorted(reg.methods.items()):
        if name in ranked or getattr(cls, "reference", False):
            continue
        fits, closest = [], None  # closest: (missing capabilities, task) with the fewest missing
        for task in tasks:
            try:
                missing = missing_capabilities(reg, resolve_components(reg, name, task), task)
            except (CompositionError, UsageError):
                continue
            if missing:
                lacks = sorted(set().union(*missing.values()))
                if closest is None or len(lacks) < len(closest[0]):
                    closest = (lacks, task.key())
            else:
                fits.append(task.key())
        if fits:
            lines.append(f"{name} ({cls.family}): runs on {', '.join(fits)} but is outside their leaderboard scope "
                         f"(Task.leaderboard_families / leaderboard_extra)")
        elif closest is not None:
            lines.append(f"{name} ({cls.family}): no selected task provides what it needs (closest: {closest[1]}, "
                         f"which lacks {', '.join(closest[0])})")
        else:
            lines.append(f"{name} ({cls.family}): no selected task can run it")
    return lines


def off_board_pairs(reg, tasks, out: Path) -> set[tuple[str, str]]:
    """(task, method) pairs with a selection record stored for a board of ``tasks`` that no longer ranks the method."""
    from .selections import read_selections

    records, _ = read_selections(out)  # once for all tasks
    wanted = {task.key(): set(applicable_methods(reg, task)[0]) for task in tasks if getattr(task, "on_leaderboard", True)}
    return {(r["task"], r["method"]) for r in records if r["task"] in wanted and r["method"] not in wanted[r["task"]]}


def same_as_baseline_at_defaults(out: Path, task, names: list[str]) -> list[str]:
    """Methods whose defaults trial gave exactly the baseline's defaults-trial numbers on ``task``.

    Trial 1 of every method is its defaults on the trial seed, on the task's defaults otherwise;
    a method that matches the baseline there to the last bit, on both the validation and the
    primary metric, most likely never acted on the task (a hook the task's loop does not call, a
    loss level training never reaches): its row then measures the lr window, not the method.
    """
    from .selections import read_selections

    records, _ = read_selections(out)  # a damaged record only loses its method this warning

    def first_trials(method: str) -> dict:
        """protocol -> the method's defaults trial on ``task`` (when it ran ok)."""
        found = {}
        for record in records:
            trials = record.get("trial_runs") or []
            if (record["task"], record["method"]) == (task.key(), method) and trials and trials[0].get("status") == "ok":
                found[record["protocol"]] = trials[0]
        return found

    names_of = (task.validation.name, task.primary.name)
    baseline = first_trials(task.baseline)
    same = []
    for name in names:
        if name == task.baseline:
            continue
        for protocol, trial in first_trials(name).items():
            base = baseline.get(protocol)
            values = [trial.get(k) for k in names_of]
            if base is not None and None not in values and values == [base.get(k) for k in names_of]:
                same.append(name)
                break
    return same


def _defaults_track(reg, task, names: list[str], which: str, seeds: int) -> list[str]:
    if which == "none" or not seeds:
        return []
    if which == "all":
        return list(names)
    wanted = {task.baseline, *reg.suite(task.suite).default_methods}
    return [n for n in names if n in wanted]


def _seconds_per_run(out: Path, task_key: str) -> float:
    """Median wall seconds of the runs of this task already in the store (NaN if none)."""
    from .store import Store

    frames = [Store(p).runs() for p in (out, out / "tuning") if p.exists()]
    walls = []
    for runs in frames:
        if len(runs):
            part = runs[(runs["task"] == task_key) & (runs["status"] == "ok")]
            walls += [float(w) for w in part["wall_s"] if w is not None and not math.isnan(float(w))]
    walls.sort()
    return walls[len(walls) // 2] if walls else math.nan


@click.command()
@click.option("--tier", type=click.Choice(["smoke", "standard", "full"]), default="standard", show_default=True)
@click.option("--suite", "suites", multiple=True, help="Only these suites (repeatable).")
@click.option("--task", "tasks", multiple=True, help="Only these tasks (repeatable).")
@click.option("--method", "methods", multiple=True, help="Only these methods (default: every applicable one).")
@click.option("--trials", type=click.IntRange(1, 1000), default=6, show_default=True, help="Tuning trials per method.")
@click.option("--seeds", type=click.IntRange(1, 100), default=5, show_default=True, help="Final seeds of the tuned track.")
@click.option("--default-seeds", type=click.IntRange(0, 100), default=3, show_default=True,
              help="Seeds of the defaults track (0: no defaults track).")
@click.option("--defaults-track", type=click.Choice(["suite", "all", "none"]), default="suite", show_default=True,
              help="Which methods also run at their defaults: the suite's default methods, all, or none.")
@click.option("--sampler", type=click.Choice(["sobol", "halton"]), default="sobol", show_default=True)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("results") / "leaderboard",
              show_default=True)
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--chunk", type=click.IntRange(1, 1000), default=4, show_default=True,
              help="Methods tuned and finished together (their trials, then their final seeds).")
@click.option("--dry-run", is_flag=True, help="Print the plan and its cost; run nothing.")
@click.option("--quiet", is_flag=True, help="No progress display.")
@executor_options
@click.pass_obj
def leaderboard(obj, tier, suites, tasks, methods, trials, seeds, default_seeds, defaults_track, sampler, device,
                out, data_dir, chunk, dry_run, quiet, executor_name, workers, timeout, executor_config):
    """Run the published protocol (tuned track + defaults track) over every applicable method."""
    from .plan import build_plan
    from .tune import protocol_name, run_tuning

    reg = obj.registry
    selected = reg.select_tasks(suites=suites, tasks=tasks, tier=tier)
    if tasks:  # in the order given: the most wanted boards first
        selected = [t for t in selected if t.tier == tier] or selected
        order = {reg.task(name).key(): i for i, name in enumerate(tasks)}
        selected.sort(key=lambda t: order.get(t.key(), len(order)))
    if not selected:
        raise UsageError(f"no {tier} task matches suite={list(suites) or 'any'} task={list(tasks) or 'any'}")
    for m in methods:
        for part in m.split("+"):
            reg.method(part.strip())
    plans = []
    for task in selected:
        if not getattr(task, "on_leaderboard", True):
            click.echo(f"{task.key():46s} not on the leaderboard (bench still runs it)", err=True)
            continue
        names, _ = applicable_methods(reg, task)
        if methods:
            names = [n for n in names if n in methods]
        if names:
            # The baseline and the suite's default methods first: a partial board can already be read.
            first = [task.baseline, *reg.suite(task.suite).default_methods]
            names.sort(key=lambda n: (first.index(n) if n in first else len(first), n))
            plans.append((task, names, _defaults_track(reg, task, names, defaults_track, default_seeds)))
    total_runs, total_s = 0, 0.0
    click.echo(f"{'task':46s} {'methods':>7s} {'runs':>6s} {'s/run':>7s} {'hours':>6s}  (s/run: median wall of the "
               f"stored runs)", err=True)
    for task, names, plain in plans:
        n_runs = len(names) * (trials + seeds) + len(plain) * default_seeds
        per = _seconds_per_run(out, task.key())
        total_runs += n_runs
        total_s += n_runs * per if not math.isnan(per) else 0.0
        est = "?" if math.isnan(per) else f"{n_runs * per / 3600:.2f}"
        click.echo(f"{task.key():46s} {len(names):7d} {n_runs:6d} {per:7.1f} {est:>6s}", err=True)
    click.echo(f"total: {total_runs} runs, {total_s / 3600:.2f} run-hours where timed "
               f"(protocol {protocol_name(sampler, trials)}, {seeds} final seeds; defaults track: {defaults_track}, "
               f"{default_seeds} seeds)",
               err=True)
    if not (methods or suites or tasks):  # the whole tier: a method outside every board is a gap
        board_tasks = [t for t in selected if getattr(t, "on_leaderboard", True)]
        ranked = {part for _, names, _ in plans for n in names for part in (n, *n.split("+"))}
        missing = on_no_board(reg, board_tasks, ranked)
        if missing:
            click.echo(f"{len(missing)} method{'s' if len(missing) != 1 else ''} on no board of this selection:", err=True)
            for line in missing:
                click.echo(f"  {line}", err=True)
    if dry_run:
        return
    with build_executor(executor_name, workers, timeout, executor_config) as executor:
        from .runner import run_plan
        from .store import Store

        for task, names, plain in plans:
            click.echo(f"== {task.key()}: {len(names)} methods", err=True)
            # A few methods at a time, trials then finals: an interrupted leaderboard leaves whole
            # method rows behind, and the workers stay busy across the batch.
            for start in range(0, len(names), chunk):
                batch = names[start : start + chunk]
                plan = build_plan(reg, tasks=[task.key()], methods=batch, seeds=1, tier=None)
                run_tuning(reg, plan.runs, trials=trials, sampler=sampler, tuning_seed=0, seeds=seeds, hp=(),
                           out=out, executor=executor, device=device, data_dir=data_dir, quiet=quiet,
                           plugin_options=obj.plugin_options)
                if not quiet:
                    click.echo(f"   {min(start + chunk, len(names))}/{len(names)} methods of {task.key()} done",
                               err=True)
            for name in same_as_baseline_at_defaults(out, task, names):
                click.echo(f"warning: {name} on {task.key()}: its defaults trial equals the baseline's to the last bit "
                           f"({task.validation.name} and {task.primary.name}); it may never act on this task", err=True)
            if plain:
                defaults = build_plan(reg, tasks=[task.key()], methods=plain, seeds=default_seeds, tier=None)
                run_plan(reg, defaults.runs, Store(out), executor=executor, device=device, data_dir=data_dir,
                         options={}, progress=not quiet, plugin_options=obj.plugin_options)
    # A selection revised since its finals were stored (a protocol revision, re-run trials) would
    # leave two configurations under one row: move the superseded finals aside (nothing deleted).
    from .store_retire import SUPERSEDED, current_versions, retire

    # Rows of a method a board no longer ranks (Task.leaderboard_exclude, a narrowed scope) go too,
    # and rows of an older version of a revised task (Task.version) or suite.
    # A task taken off the leaderboard (Task.on_leaderboard) leaves its board whole, baseline included.
    off_board = off_board_pairs(reg, selected, out)
    off_tasks = frozenset(key for key, task in reg.tasks.items() if not getattr(task, "on_leaderboard", True))
    try:
        report = retire(out, off_board=off_board, current=current_versions(reg), off_tasks=off_tasks)
        moved = sum(report["stale"].values())
    except UsageError as exc:
        click.echo(f"warning: superseded finals not moved ({exc}); run `regsuite results retire --results {out}`",
                   err=True)
    else:
        if moved:
            click.echo(f"moved {moved} runs of superseded selections, task versions or off-leaderboard tasks "
                       f"to {out / SUPERSEDED}", err=True)
    click.echo(f"leaderboard written to {out}; `regsuite results --results {out}` or `regsuite site build` shows it",
               err=True)
