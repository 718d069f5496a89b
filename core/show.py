"""``regsuite show NAME``: everything the registry knows about one method or task.

A method: family, summary, citation, fidelity, version, provider, hyperparameters
(default, tuning range, valid values), hooks, requirements. A task: suite, tier,
description, budget, data, metrics, target, baseline, default optimizer and
schedule, capabilities, hp_overrides. A name that is both a method and a task
shows both. Nothing heavy is imported: only the registry is read.
"""

from __future__ import annotations

import dataclasses

import click

from .errors import UsageError
from .registry import Registry, _close


def _provider(reg: Registry, plugin: str) -> str:
    info = reg.plugin_info(plugin)
    if info is None or info.distribution == "-p":
        return f"plugin {plugin} (module {info.module if info else plugin}, loaded with -p)"
    return f"plugin {plugin} (distribution {info.distribution} {info.version})"


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value) if isinstance(value, str) else str(value)


def _hp_range(cls, key: str) -> str:
    """How a hyperparameter is tuned, and what values it can take at all (--hp, hp_overrides)."""
    param = cls.space.get(key)
    if param is None:
        like = cls.defaults[key]
        kind = "any value" if like is None else f"any {type(like).__name__}"
        return f"not tuned; valid: {kind}"
    limits = getattr(param, "effective_limits", None)
    valid = limits().describe() if limits else "its options"
    return f"tuned over {param.describe()}; valid: {valid}"


def method_lines(reg: Registry, name: str) -> list[tuple[str, str]]:
    from .plan import implements
    from .state import RUN_HOOKS

    cls = reg.method(name)
    cite = cls.citation
    hooks = [h for h in RUN_HOOKS if implements(cls, h)]
    out = [
        ("method", cls.name),
        ("family", cls.family),
        ("summary", cls.summary() or "-"),
        ("citation", f"{cite.short()}, \"{cite.title}\", {cite.url}" if cite else "-"),
        ("fidelity", cls.fidelity.describe() if cls.fidelity else "unlabelled"),
        ("version", str(cls.version)),
        ("provider", _provider(reg, reg.method_plugin[name])),
        ("hooks", ", ".join(hooks) or "none"),
        ("requires", ", ".join(sorted(cls.requires)) or "nothing"),
    ]
    if cls.family == "optimizer":
        out.append(("schedules itself", "yes: no default schedule is added" if cls.schedules_itself else "no"))
    out.append(("hyperparameters", "default; tuning range; values it can take (--hp, hp_overrides)"
                if cls.defaults else "none"))
    for key in sorted(cls.defaults):
        out.append((f"  {key}", f"default {_fmt(cls.defaults[key])}; {_hp_range(cls, key)}"))
    if cls.reference:
        out.append(("reference row", f"{cls.reference} (scored, never ranked)"))
    for i, claim in enumerate(cls.claims):
        where = f"measured on {claim.task} against {claim.versus or 'its baseline'}" if claim.task \
            else "not measurable here"
        out.append(("claim" if i == 0 else "", f"\"{claim.quote}\" ({claim.kind} {claim.value:g}; {where})"))
    return out


def _target(task) -> list[tuple[str, str]]:
    out = []
    target = getattr(task, "target", None)
    if target is not None:
        if dataclasses.is_dataclass(target):
            fields = ", ".join(f"{f.name}={_fmt(getattr(target, f.name))}" for f in dataclasses.fields(target))
            out.append(("target", fields))
        else:
            out.append(("target", str(target)))
    # Older task-specific thresholds (e.g. the llm tasks' target_loss) are shown too.
    for attr in sorted(a for a in dir(type(task)) if a.startswith("target_") and not a.startswith("__")):
        value = getattr(task, attr)
        if isinstance(value, (int, float, str)):
            out.append((attr.replace("_", " "), _fmt(value)))
    return out


def task_lines(reg: Registry, task) -> list[tuple[str, str]]:
    from .task import Task

    suite = reg.suites.get(task.suite)
    b = task.budget
    budget = [f"{b.steps} steps"]
    if b.tokens:
        budget.append(f"{b.tokens} tokens")
    if b.epochs:
        budget.append(f"{b.epochs:g} epochs")
    budget.append(f"evaluated every {b.eval_every} steps" if b.eval_every else "evaluated at the end")
    local = type(task).check_data is not Task.check_data
    data = getattr(task, "data", None)
    data_text = str(data) if data else (
        "local files, checked before a run (--data-dir or $REGSUITE_DATA)" if local else "no local files needed"
    )
    overrides = "; ".join(
        f"{m}: " + ", ".join(f"{k}={_fmt(v)}" for k, v in sorted(kv.items())) for m, kv in sorted(task.hp_overrides.items())
    )
    out = [
        ("task", task.key()),
        ("suite", f"{task.suite} (version {suite.version})" if suite else task.suite),
        ("tier", task.tier),
        ("description", task.description or (type(task).__doc__ or "").strip().split("\n")[0] or "-"),
        ("provider", _provider(reg, reg.task_plugin[task.key()]) if task.key() in reg.task_plugin else "-"),
        ("budget", ", ".join(budget)),
        ("data", data_text),
        ("primary metric", f"{task.primary.name} ({task.primary.direction})"),
        ("validation metric", f"{task.validation.name} ({task.validation.direction})" if task.validation else "none"),
        ("secondary metrics", ", ".join(task.secondary) or "none"),
    ]
    if task.diagnostics:
        out.append(("diagnostics", ", ".join(task.diagnostics)))
    out += _target(task)
    out += [
        ("baseline", task.baseline),
        ("default optimizer", task.default_optimizer),
        ("default schedule", task.default_schedule or "none (constant learning rate)"),
        ("provides", ", ".join(sorted(task.provides)) or "nothing"),
        ("hp_overrides", overrides or "none"),
    ]
    return out


def lookup(reg: Registry, name: str) -> list[list[tuple[str, str]]]:
    """The sections to show for ``name``; a conflict, an ambiguity or an unknown name is a UsageError."""
    sections = []
    if name in reg.methods or ("method", name) in reg.conflicts:
        sections.append(method_lines(reg, name))  # reg.method raises the conflict line
    task_names = {k for k in reg.tasks} | {t.name for t in reg.tasks.values()}
    task_names |= {key for kind, key in reg.conflicts if kind == "task"}
    task_names |= {key.split("/", 1)[-1] for kind, key in reg.conflicts if kind == "task"}
    if name in task_names:
        sections.append(task_lines(reg, reg.task(name)))  # raises on a conflict or an ambiguous bare name
    if not sections:
        raise UsageError(f"unknown method or task {name!r}{_close(name, list(reg.methods) + sorted(task_names))}")
    return sections


def render(sections: list[list[tuple[str, str]]]) -> str:
    blocks = []
    for lines in sections:
        width = max(len(k) for k, _ in lines)
        blocks.append("\n".join(f"{k:<{width}}  {v}" for k, v in lines))
    return "\n\n".join(blocks)


@click.command("show")
@click.argument("name", required=False)
@click.option("--fidelity", "fidelity", is_flag=True, help="Every method's fidelity as a Markdown table.")
@click.pass_obj
def show(obj, name, fidelity):
    """Show a method's metadata, hyperparameters and hooks, or a task's budget, data and metrics."""
    if fidelity:
        click.echo(fidelity_table(obj.registry), nl=False)
        return
    if not name:
        raise UsageError("show needs a method or task NAME (or --fidelity)")
    click.echo(render(lookup(obj.registry, name)))


def fidelity_table(reg: Registry) -> str:
    """docs/fidelity.md: every loaded method's fidelity, as Markdown (``regsuite show --fidelity``)."""
    lines = [
        "# Fidelity of every method",
        "",
        "Generated from the methods' `fidelity` declarations (`regsuite show --fidelity > docs/fidelity.md`;",
        "a test keeps this file in step with the code). `faithful`: the paper's equations and defaults, or",
        "the authors' code (the source says which); `adapted`: what differs and why; `reconstructed`:",
        "rebuilt from the abstract only, the note says what is unconfirmed.",
        "",
        "| method | family | version | fidelity | source | note |",
        "|---|---|---|---|---|---|",
    ]
    for cls in sorted(reg.methods.values(), key=lambda c: (c.family, c.name)):
        fid = cls.fidelity
        cells = [cls.name, cls.family, str(cls.version), fid.kind if fid else "unlabelled",
                 fid.source if fid else "", fid.note if fid else ""]
        lines.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
    return "\n".join(lines) + "\n"
