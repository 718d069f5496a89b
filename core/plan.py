"""Plans: methods x tasks x seeds (x hyperparameter overrides), as run specifications.

A run's id is a hash of its canonical configuration, suite version included,
and of what produced each component: the method's ``version`` and the
distribution (name and version) that provided it. Re-running a plan finds
finished runs in the store and skips them; a result computed by an older
version of a method, or by another plugin's method of the same name, is
never a cache hit.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from .errors import CompositionError, UsageError
from .hookspec import FIRSTRESULT_RUN_HOOKS
from .method import Method
from .registry import Registry, _close
from .task import Task


def implements(cls: type[Method], hook: str) -> bool:
    return getattr(getattr(cls, hook, None), "regsuite_impl", None) is not None


@dataclass(frozen=True)
class RunSpec:
    suite: str
    suite_version: str
    task: str  # "suite/name"
    tier: str
    method: str  # composition as given, e.g. "sam+cutout"
    components: tuple[str, ...]  # resolved, the task's default optimizer included when implied
    hparams: dict = field(hash=False)  # {component: {key: value}}, every value resolved
    seed: int
    protocol: str = "default"  # "default" hyperparameters, or the tuning protocol that chose them
    # What produced each component, in component order: (name, method version, distribution, its version);
    # see producers_of. Empty only for specs built by hand (tests); build_plan always fills it.
    producers: tuple[tuple[str, str, str, str], ...] = ()

    def canonical(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "suite_version": self.suite_version,
            "task": self.task,
            "tier": self.tier,
            "method": self.method,
            "components": list(self.components),
            "hparams": self.hparams,
            "seed": self.seed,
            "protocol": self.protocol,
            "producers": [list(p) for p in self.producers],
        }

    @property
    def run_id(self) -> str:
        blob = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def hparams_json(self) -> str:
        return json.dumps(self.hparams, sort_keys=True, separators=(",", ":"), default=str)


@dataclass
class HpOverride:
    method: str
    key: str
    text: str


def parse_hp_options(options: tuple[str, ...] | list[str]) -> list[HpOverride]:
    """Parse ``method.key=value`` strings (syntax only; values are checked per method)."""
    out = []
    for opt in options:
        if "=" not in opt or "." not in opt.split("=", 1)[0]:
            raise UsageError(f"--hp {opt!r} is malformed; expected METHOD.KEY=VALUE, e.g. sgd.lr=0.05")
        lhs, text = opt.split("=", 1)
        method, key = lhs.split(".", 1)
        if not method or not key or text == "":
            raise UsageError(f"--hp {opt!r} is malformed; expected METHOD.KEY=VALUE, e.g. sgd.lr=0.05")
        out.append(HpOverride(method, key, text))
    return out


def producers_of(reg: Registry, components) -> tuple[tuple[str, str, str, str], ...]:
    """(name, method version, distribution, distribution version) per component, for the run id.

    A module loaded with ``-p`` has no distribution; its module name stands in for one.
    """
    out = []
    for name in components:
        prov = reg.provider(name)
        dist, dist_version = prov["distribution"], prov["version"]
        if dist == "-p":
            dist, dist_version = f"-p {prov['module']}", ""
        out.append((name, str(reg.method(name).version), dist, dist_version))
    return tuple(out)


def check_hp_value(cls: type[Method], key: str, text: str) -> Any:
    """Parse ``--hp`` text to a value the method can take; the search space's range bounds only tuning."""
    try:
        return cls.accept_hp(key, text, from_text=True)
    except KeyError:
        raise UsageError(
            f"method {cls.name!r} has no hyperparameter {key!r}{_close(key, cls.defaults)}"
            f" (it has: {', '.join(sorted(cls.defaults)) or 'none'})"
        ) from None
    except ValueError as exc:
        raise UsageError(f"--hp {cls.name}.{key}={text}: {exc}") from None


def resolve_components(reg: Registry, spec: str, task: Task) -> tuple[str, ...]:
    names = [n.strip() for n in spec.split("+")]
    if any(not n for n in names):
        raise UsageError(f"method composition {spec!r} is malformed; use NAME or NAME+NAME")
    if len(set(names)) != len(names):
        raise UsageError(f"method composition {spec!r} names a method twice")
    classes = [reg.method(n) for n in names]
    if not any(implements(c, "regsuite_configure_optimizer") for c in classes):
        names.append(task.default_optimizer)
        classes.append(reg.method(task.default_optimizer))
    # A self-scheduling optimizer (schedule-free, relative-step) gets no schedule on top.
    scheduled = any(implements(c, "regsuite_configure_scheduler") or c.schedules_itself for c in classes)
    if task.default_schedule and not scheduled:
        names.append(task.default_schedule)
        classes.append(reg.method(task.default_schedule))
    check_composition(classes, spec)
    return tuple(names)


def check_composition(classes: list[type[Method]], spec: str) -> None:
    selfish = [c.name for c in classes if c.schedules_itself]
    schedules = [c.name for c in classes if implements(c, "regsuite_configure_scheduler")]
    if selfish and schedules:
        raise CompositionError(
            f"{selfish[0]} in {spec!r} sets its own learning rate over the run, so it cannot be composed "
            f"with the schedule {schedules[0]}"
        )
    for hook in FIRSTRESULT_RUN_HOOKS:
        claim = [c.name for c in classes if implements(c, hook)]
        if len(claim) > 1:
            raise CompositionError(
                f"methods {' and '.join(claim)} in {spec!r} both implement {hook}, "
                "which only one method of a composition may implement"
            )


def missing_capabilities(reg: Registry, components, task: Task) -> dict[str, set[str]]:
    out = {}
    for name in components:
        need = set(reg.method(name).requires) - set(task.provides)
        if need:
            out[name] = need
    return out


def resolve_hparams(reg: Registry, components, task: Task, overrides: list[HpOverride]) -> dict:
    hparams = {}
    for name in components:
        cls = reg.method(name)
        values = dict(cls.defaults)
        # Overrides were validated at registration; accept_hp normalises their type (an int lr -> float).
        values.update({k: cls.accept_hp(k, v) for k, v in task.hp_overrides.get(name, {}).items()})
        for ov in overrides:
            if ov.method == name:
                values[ov.key] = check_hp_value(cls, ov.key, ov.text)
        hparams[name] = values
    return hparams


@dataclass
class Plan:
    runs: list[RunSpec]
    skipped: list[str]  # human-readable reasons for incompatible (method, task) pairs


def build_plan(
    reg: Registry,
    *,
    suites=(),
    tasks=(),
    methods=(),
    seeds: int | None = None,
    tier: str | None = "smoke",
    hp: tuple[str, ...] | list[str] = (),
    seed_offset: int = 0,
    default_plan_only: bool = False,
) -> Plan:
    """Expand the selection into run specs. Everything is validated before anything runs."""
    overrides = parse_hp_options(hp)
    for ov in overrides:  # unknown method or key is an error even before expansion
        check_hp_value(reg.method(ov.method), ov.key, ov.text)
    if default_plan_only and not suites and not tasks:
        suites = tuple(s.name for s in reg.suites.values() if s.in_default_plan)
    selected = reg.select_tasks(suites=suites, tasks=tasks, tier=tier)
    if not selected:
        raise UsageError(f"no task matches suite={list(suites) or 'any'} task={list(tasks) or 'any'} tier={tier}")
    for spec in methods:
        for name in spec.split("+"):
            if name.strip():
                reg.method(name.strip())
    runs, skipped, used = [], [], set()
    for task in selected:
        suite = reg.suite(task.suite)
        specs = list(methods) or list(dict.fromkeys((task.baseline, *suite.default_methods)))
        n_seeds = seeds if seeds is not None else suite.default_seeds
        for spec in specs:
            components = resolve_components(reg, spec, task)
            missing = missing_capabilities(reg, components, task)
            if missing:
                why = "; ".join(f"{m} needs {', '.join(sorted(c))}" for m, c in missing.items())
                skipped.append(f"{spec} on {task.key()}: {why} (the task provides {', '.join(sorted(task.provides)) or 'nothing'})")
                continue
            used.update(components)
            hparams = resolve_hparams(reg, components, task, overrides)
            producers = producers_of(reg, components)
            for seed in range(seed_offset, seed_offset + n_seeds):
                runs.append(RunSpec(task.suite, task.board_version(suite.version), task.key(), task.tier, spec, components, hparams, seed,
                                    producers=producers))
    for ov in overrides:
        if ov.method not in used:
            raise UsageError(f"--hp {ov.method}.{ov.key}: method {ov.method!r} is not part of any run of this plan")
    if not runs:
        raise UsageError("nothing to run: " + (" | ".join(skipped) if skipped else "empty plan"))
    return Plan(runs, skipped)
