"""The ``regsuite`` command line.

Bad input ends with one ``error:`` line on stderr and exit code 2, never a
traceback. Heavy libraries load only in the commands that need them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .errors import UsageError
from .validate import OutDir, known
from .executors.options import build as build_executor, executor_options

DEFAULT_RESULTS = Path("results") / "local"


class _Refused(click.ClickException):
    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"error: {self.message}", err=True)


class RegsuiteGroup(click.Group):
    """Turns regsuite's UsageError into one line and exit code 2 (also under click's test runner)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except UsageError as exc:
            raise _Refused(str(exc)) from None

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        """Click's own usage errors too end as one ``error:`` line and exit 2; Ctrl-C as the documented line, 130."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except (click.exceptions.Abort, KeyboardInterrupt):
            click.echo(INTERRUPTED, err=True)
            sys.exit(130)
        except click.ClickException as exc:
            click.echo(f"error: {one_line(exc.format_message())}", err=True)
            sys.exit(2)
        sys.exit(0)


INTERRUPTED = "interrupted; finished runs are stored, re-run the same command to resume"


def _lazy_command(group: click.Group, name: str) -> None:
    if name in LAZY_COMMANDS and name not in group.commands:
        import importlib

        module, attribute = LAZY_COMMANDS[name]
        group.add_command(getattr(importlib.import_module(module, __package__), attribute), name)


class _TopGroup(RegsuiteGroup):
    """The top-level group: the commands of :data:`LAZY_COMMANDS` are imported when used."""

    def list_commands(self, ctx):
        return sorted({*self.commands, *LAZY_COMMANDS})

    def get_command(self, ctx, name):
        _lazy_command(self, name)
        return super().get_command(ctx, name)

    def resolve_command(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in LAZY_COMMANDS:
            for name in LAZY_COMMANDS:  # an unknown name: click suggests close ones from every command
                _lazy_command(self, name)
        return super().resolve_command(ctx, args)


def one_line(text: str) -> str:
    """Click's messages may span lines (a hint, a list of choices): keep them on one."""
    return "; ".join(part.strip() for part in str(text).splitlines() if part.strip()) or "bad input"


class Ctx:
    def __init__(self, plugin_options: tuple[str, ...]) -> None:
        self.plugin_options = plugin_options
        self._registry = None

    @property
    def registry(self):
        if self._registry is None:
            from .registry import build_registry

            self._registry = build_registry(self.plugin_options)
            for name, why in self._registry.problems:
                click.echo(f"warning: plugin {name!r} left out: {why}", err=True)
            for line in self._registry.conflict_lines():
                click.echo(f"warning: {line}", err=True)
        return self._registry


@click.group(cls=_TopGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-p", "plugin_options", multiple=True, metavar="NAME",
              help="Load plugin NAME (entry point or module); -p no:NAME blocks it.")
@click.version_option(package_name="regsuite")
@click.pass_context
def cli(ctx, plugin_options):
    """regsuite: benchmark training methods on standardized suites."""
    ctx.obj = Ctx(plugin_options)


@cli.command()
@click.option("--suite", "suites", multiple=True, help="Suite(s) to run (default: the default plan).")
@click.option("--task", "tasks", multiple=True, help="Task(s) by name or suite/name.")
@click.option("--method", "methods", multiple=True, help="Method or composition (a+b); repeatable.")
@click.option("--seeds", type=click.IntRange(1, 1000), default=None, help="Seeds per run (default: the suite's).")
@click.option("--tier", type=click.Choice(["smoke", "standard", "full"]), default="smoke", show_default=True)
@click.option("--hp", "hp", multiple=True, metavar="METHOD.KEY=VALUE", help="Hyperparameter override; repeatable.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--out", type=OutDir(), default=DEFAULT_RESULTS, show_default=True)
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where local data sets live (default: $REGSUITE_DATA or ./data).")
@click.option("--force", is_flag=True, help="Re-run runs already in the results directory.")
@click.option("--compile", "compile_", is_flag=True, help="torch.compile the model (tasks that support it).")
@click.option("--precision", type=click.Choice(["fp32", "bf16"]), default="fp32", show_default=True,
              help="bf16 autocast on tasks that support it (GPU).")
@click.option("--quiet", is_flag=True, help="No progress display.")
@executor_options
@click.option("--threads", type=click.IntRange(1, 1024), default=None,
              help="torch CPU threads per run (default: the task's, 1 on smoke and standard, torch's on full).")
@click.pass_obj
def bench(obj, suites, tasks, methods, seeds, tier, hp, device, out, data_dir, force, compile_, precision, quiet,
          executor_name, workers, timeout, executor_config, threads):
    """Run a plan of methods x tasks x seeds and print the leaderboard."""
    if threads:
        import os

        import torch

        # The environment variables reach worker processes; set_num_threads this one.
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
        torch.set_num_threads(threads)
    from .plan import build_plan
    from .runner import run_plan
    from .store import Store
    from .task import DataMissing

    reg = obj.registry
    plan = build_plan(reg, suites=suites, tasks=tasks, methods=methods, seeds=seeds, tier=tier, hp=hp,
                      default_plan_only=True)
    for line in plan.skipped:
        click.echo(f"skipped (incompatible): {line}", err=True)
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise UsageError("--device cuda was given but torch sees no CUDA device (see README: GPU install)")
    from .context import RunContext

    probe = RunContext(seed=0, device=None, tier=tier, hooks=None, hparams={}, data_dir=data_dir)
    for key in sorted({r.task for r in plan.runs}):
        try:
            reg.tasks[key].check_data(probe)
        except DataMissing as exc:
            raise UsageError(str(exc)) from None
    store = Store(out)
    options = {"compile": compile_, "precision": precision, "threads": threads}
    with build_executor(executor_name, workers, timeout, executor_config) as executor:
        counts = run_plan(reg, plan.runs, store, force=force, device=device, data_dir=data_dir, options=options,
                          progress=not quiet, executor=executor, plugin_options=obj.plugin_options)
    for problem in store.problems:
        click.echo(f"warning: {problem}", err=True)
    click.echo(
        f"{len(plan.runs)} runs: {counts['cached']} cached, {counts['ok']} ok, {counts['diverged']} diverged, "
        f"{counts['error']} error, {counts['timeout']} timeout; results in {out}",
        err=True,
    )
    from .baseline_rows import baseline_source

    _print_results(reg, Store(out), {r.run_id for r in plan.runs}, "table", baselines_from=baseline_source(None, [out]))


def _baselines(reg) -> dict[str, str]:
    return {key: task.baseline for key, task in reg.tasks.items()}


def _references(reg) -> set[str]:
    """Methods shown as reference rows (upper bounds, closed-form maps), never ranked."""
    return {name for name, cls in reg.methods.items() if getattr(cls, "reference", None)} if reg else set()


def _print_results(reg, store, run_ids, fmt: str, suites=(), tasks=(), baselines_from=None, runs=None) -> int:
    """``runs``: the store's rows when the caller has read them already (a large store is read once)."""
    from .scoring import aggregate, format_table

    if runs is None and run_ids is not None and fmt == "table" and not suites and not tasks:
        table = _plan_table(reg, store, run_ids, baselines_from)
        if table is not None:  # a plan's table on plain lists: no pandas import for a cached bench
            click.echo(table[0])
            return table[1]
    if runs is None:
        runs = _scoring_rows(reg, store, run_ids)  # filtered while reading: a plan's rows stay cheap
    if suites and len(runs):
        runs = runs[runs["suite"].isin(suites)]
    if tasks and len(runs):
        runs = runs[runs["task"].isin(tasks) | runs["task"].str.split("/").str[-1].isin(tasks)]
    if baselines_from is not None and reg is not None:  # tasks whose baseline did not run here
        from .baseline_rows import with_baselines
        from .store import Store

        runs, added = with_baselines(runs, _baselines(reg), Store(baselines_from))
        _note_borrowed(added, baselines_from)
    agg = aggregate(runs, _baselines(reg) if reg is not None else {}, _references(reg))
    if not len(agg):
        click.echo("no results", err=True)
        return 0
    click.echo(format_table(agg, fmt))
    # Suites may ask for more: extra metric columns, or a report of their own (e.g. DomainBed tables).
    for name in sorted(set(runs["suite"])):
        suite = reg.suites.get(name) if reg is not None else None
        if suite is None:
            continue
        if suite.report_metrics:
            from .scoring import aggregate_metrics

            click.echo(f"\n{name}: {', '.join(suite.report_metrics)} (mean ± 95% CI over seeds)")
            click.echo(format_metrics(aggregate_metrics(runs[runs["suite"] == name], suite.report_metrics), fmt))
        if suite.report is not None:
            click.echo("\n" + suite.load_report()(runs[runs["suite"] == name], fmt))
    return len(agg)


def _plan_table(reg, store, run_ids, baselines_from):
    """(text, rows) of a plan's table without pandas, or None where :func:`_print_results`' general
    path is needed (a suite's own report or metric columns, a censored baseline from elsewhere, ...)."""
    from .baseline_rows import baseline_columns, missing_groups
    from .scoring import INPUT_COLUMNS
    from .scoring_small import table_of_columns

    columns = store.run_columns(run_ids, [c for c in INPUT_COLUMNS if c != "metrics"])
    if columns is None or not columns["run_id"]:
        return None
    suites = [reg.suites.get(name) for name in set(columns["suite"])] if reg is not None else []
    if any(s is not None and (s.report is not None or s.report_metrics) for s in suites):
        return None
    baselines = _baselines(reg) if reg is not None else {}
    added = []
    if baselines_from is not None and reg is not None and missing_groups(columns, baselines):
        from .store import Store

        taken = baseline_columns(columns, baselines, Store(baselines_from))
        if taken is None:
            return None
        columns, added = taken
    from .stats import ALPHA

    table = table_of_columns(columns, baselines, _references(reg), ALPHA)
    if table is not None:
        _note_borrowed(added, baselines_from)
    return table


def _note_borrowed(added, source) -> None:
    for task, method, n in added:
        click.echo(f"note: {task}: baseline {method} taken from {source} ({n} runs)", err=True)


def _scoring_rows(reg, store, run_ids):
    """The columns scoring reads, without ``metrics`` (decoding it is most of a large store's read) unless
    a censored run or a suite's metric columns need it; every column when a suite renders its own report."""
    from .scoring import INPUT_COLUMNS

    runs = store.runs(run_ids, columns=[c for c in INPUT_COLUMNS if c != "metrics"])
    suites = [reg.suites.get(name) for name in set(runs["suite"])] if reg is not None else []
    if any(s is not None and s.report is not None for s in suites):
        return store.runs(run_ids)  # a report may read any column
    censored = (runs["status"] == "ok") & runs["primary_value"].isna()  # their budget is in metrics
    if censored.any() or any(s is not None and s.report_metrics for s in suites):
        return store.runs(run_ids, columns=INPUT_COLUMNS)
    return runs


def format_metrics(df, fmt: str) -> str:
    if fmt == "json":
        return df.to_json(orient="records", indent=2)
    if fmt == "csv":
        return df.to_csv(index=False)
    if fmt == "markdown":
        header = "| " + " | ".join(df.columns) + " |"
        sep = "|" + "|".join("---" for _ in df.columns) + "|"
        body = ["| " + " | ".join(str(v) for v in row) + " |" for row in df.itertuples(index=False)]
        return "\n".join([header, sep, *body])
    return df.to_string(index=False)


@cli.group(cls=RegsuiteGroup, invoke_without_command=True)
@click.option("--results", "results_dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_RESULTS,
              show_default=True)
@click.option("--suite", "suites", multiple=True)
@click.option("--task", "tasks", multiple=True)
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "markdown", "json"]), default="table",
              show_default=True)
@click.option("--baselines", "baselines", default=None, metavar="DIR|none",
              help="Where a task's baseline rows come from when --results has none of them "
                   "(default: the committed results/baseline; 'none': only --results).")
@click.pass_context
def results(ctx, results_dir, suites, tasks, fmt, baselines):
    """Summarise stored results: mean and 95% CI over seeds, rank, delta to the baseline."""
    if ctx.invoked_subcommand is not None:
        return
    obj = ctx.obj
    from .process_memory import keep_freed_memory, use_system_arrow_pool
    from .store import Store

    if not results_dir.exists():
        raise UsageError(f"results directory {results_dir} does not exist (run `regsuite bench --out {results_dir}`)")
    keep_freed_memory()  # a large store's arrays: ~2/3 fewer page faults, a third of a second less system CPU
    use_system_arrow_pool()
    store = Store(results_dir)
    stored = None
    if suites or tasks:  # a typo would otherwise print nothing: names come from the registry and the store
        reg = obj.registry
        stored = store.runs()
        known(suites, set(reg.suites) | set(stored["suite"].dropna()), "suite")
        names = set(reg.tasks) | set(stored["task"].dropna())
        known(tasks, names | {n.split("/")[-1] for n in names}, "task")
    from .baseline_rows import baseline_source

    source = baseline_source(baselines, [results_dir])
    _print_results(obj.registry, store, None, fmt, suites, tasks, baselines_from=source, runs=stored)
    if store.problems:
        for problem in store.problems:
            click.echo(f"error: {problem}", err=True)
        sys.exit(2)


@results.command("compact")
@click.option("--results", "results_dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_RESULTS,
              show_default=True)
def results_compact(results_dir):
    """Merge the store's files into one per table (safe while benches write to it)."""
    from .store import Store
    from .store_compact import compact

    if not (results_dir / "runs").is_dir():
        raise UsageError(f"{results_dir} holds no results (no runs/ folder)")
    store = Store(results_dir)
    store.tidy()
    report = compact(store, full=True)
    for problem in store.problems:
        click.echo(f"warning: {problem} (left as it is)", err=True)
    if report is None:
        raise UsageError(f"another process is compacting {results_dir}; try again when it is done")
    (runs_in, runs_out), (curves_in, curves_out) = report["runs"], report["curves"]
    click.echo(f"runs: {runs_in} files merged into {runs_out} rows; curves: {curves_in} files merged into "
               f"{curves_out} rows; {report['orphans']} orphan curves files removed", err=True)


@results.command("retire")
@click.option("--results", "results_dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_RESULTS,
              show_default=True)
@click.option("--dry-run", is_flag=True, help="Only say what would move.")
@click.pass_obj
def results_retire(obj, results_dir, dry_run):
    """Move superseded runs into DIR/superseded/: tuned finals their selection record no longer names,
    and runs of an older version of a task (Task.version) or of its suite."""
    from .store_retire import SUPERSEDED, current_versions, retire

    report = retire(results_dir, dry_run=dry_run, current=current_versions(obj.registry))
    for (task, method, protocol), n in sorted(report["stale"].items()):
        click.echo(f"{task} {method} ({protocol}): {n} runs superseded (their selection, their board or the task's version changed)", err=True)
    verb = "would move" if dry_run else "moved"
    click.echo(f"{verb} {sum(report['stale'].values())} runs to {results_dir / SUPERSEDED}", err=True)


@cli.group("list", cls=RegsuiteGroup)
def list_():
    """List methods, tasks or suites."""


@list_.command("methods")
@click.option("--family", default=None, help="Only this family.")
@click.pass_obj
def list_methods(obj, family):
    reg = obj.registry
    if family is not None:
        known([family], {c.family for c in reg.methods.values()}, "family")
    rows = [
        (
            c.name,
            c.family,
            c.fidelity.kind if c.fidelity else "unlabelled",
            c.citation.short() if c.citation else "",
            reg.method_plugin[c.name],
            c.summary(),
        )
        for c in sorted(reg.methods.values(), key=lambda c: (c.family, c.name))
        if family is None or c.family == family
    ]
    _echo_table(["method", "family", "fidelity", "citation", "plugin", "summary"], rows)


@list_.command("tasks")
@click.option("--suite", default=None)
@click.option("--tier", type=click.Choice(["smoke", "standard", "full"]), default=None)
@click.pass_obj
def list_tasks(obj, suite, tier):
    reg = obj.registry
    if suite:
        reg.suite(suite)
    rows = [
        (t.suite, t.name, t.tier, f"{t.primary.name} ({t.primary.direction})", t.baseline, t.description)
        for t in sorted(reg.tasks.values(), key=lambda t: (t.suite, t.tier, t.name))
        if (suite is None or t.suite == suite) and (tier is None or t.tier == tier)
    ]
    _echo_table(["suite", "task", "tier", "primary metric", "baseline", "description"], rows)


@list_.command("suites")
@click.pass_obj
def list_suites(obj):
    reg = obj.registry
    rows = []
    for s in sorted(reg.suites.values(), key=lambda s: s.name):
        n = sum(1 for t in reg.tasks.values() if t.suite == s.name)
        rows.append((s.name, s.version, str(n), ", ".join(s.default_methods), s.description))
    _echo_table(["suite", "version", "tasks", "default methods", "description"], rows)


@cli.command()
@click.pass_obj
def plugins(obj):
    """List loaded plugin distributions and versions (stored with every run)."""
    reg = obj.registry
    rows = [(p.name, p.module, p.distribution, p.version) for p in reg.loaded.plugins]
    _echo_table(["plugin", "module", "distribution", "version"], rows)
    for name, why in reg.problems:
        click.echo(f"left out: {name}: {why}")
    for line in reg.conflict_lines():
        click.echo(f"conflict: {line}")


def _echo_table(header, rows) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)] if rows else [len(h) for h in header]
    widths[-1] = 0  # last column is free text
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    click.echo(fmt.format(*header).rstrip())
    for row in rows:
        click.echo(fmt.format(*map(str, row)).rstrip())


# Commands defined in their own modules, one line each: name -> (module, attribute). They are imported when
# named (or listed by --help, or a typo needs their names for its suggestion), so a bench does not import them.
# (site, check: core/site_cli.py and core/check.py; tune, executors: core/tune.py; plugin: core/scaffold.py)
LAZY_COMMANDS = {
    "plugin": (".scaffold", "plugin_group"),
    "check": (".check", "check"),
    "site": (".site_cli", "site"),
    "tune": (".tune", "tune"),
    "show": (".show", "show"),
    "leaderboard": (".leaderboard", "leaderboard"),
}


def main(argv=None) -> None:
    """Console entry point."""
    try:
        cli.main(args=argv, prog_name="regsuite")
    except KeyboardInterrupt:
        click.echo(INTERRUPTED, err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
