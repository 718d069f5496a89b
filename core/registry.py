"""The catalogue of methods, tasks and suites that the loaded plugins provide.

A name (method, task or suite) provided by two plugins is a conflict: the
registry withholds the name instead of picking one, records one line naming
both plugins, their distributions and how to block one, and every lookup of
that name fails with that line (exit 2). Commands that never touch the name
keep working; ``regsuite plugins`` lists the conflicts.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from .errors import UsageError
from .method import Method
from .discovery import LoadedPlugins, PluginInfo, load_plugins
from .suite import Suite
from .task import TIERS, Task


@dataclass
class Registry:
    loaded: LoadedPlugins
    methods: dict[str, type[Method]] = field(default_factory=dict)
    method_plugin: dict[str, str] = field(default_factory=dict)
    tasks: dict[str, Task] = field(default_factory=dict)  # key "suite/name"
    task_plugin: dict[str, str] = field(default_factory=dict)
    suites: dict[str, Suite] = field(default_factory=dict)
    suite_plugin: dict[str, str] = field(default_factory=dict)
    # ("method" | "task" | "suite", name) -> the plugins that each provide it, in load order.
    conflicts: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    @property
    def problems(self) -> list[tuple[str, str]]:
        return self.loaded.problems

    # ------------------------------------------------------------ provenance

    def plugin_info(self, plugin_name: str) -> PluginInfo | None:
        return next((p for p in self.loaded.plugins if p.name == plugin_name), None)

    def provider(self, method_name: str) -> dict[str, str]:
        """The plugin that provides a method and its distribution: {plugin, module, distribution, version}."""
        self.method(method_name)
        plugin = self.method_plugin[method_name]
        info = self.plugin_info(plugin)
        if info is None:  # a registry assembled by hand (tests), not by build_registry
            return {"plugin": plugin, "module": plugin, "distribution": "?", "version": "?"}
        return {"plugin": info.name, "module": info.module, "distribution": info.distribution,
                "version": info.version}

    def conflict_lines(self) -> list[str]:
        return [self.conflict_line(kind, name) for kind, name in self.conflicts]

    def conflict_line(self, kind: str, name: str) -> str:
        plugins = self.conflicts[(kind, name)]

        def who(plugin: str) -> str:
            info = self.plugin_info(plugin)
            if info is None or info.distribution == "-p":
                return f"plugin {plugin!r} (module {info.module if info else plugin}, loaded with -p)"
            return f"plugin {plugin!r} (distribution {info.distribution} {info.version})"

        blocks = " or ".join(f"-p no:{p}" for p in plugins)
        return (f"{kind} {name!r} is provided by {len(plugins)} plugins, "
                f"{' and '.join(who(p) for p in plugins)}; none is used: block all but one with {blocks}")

    def _refuse_conflict(self, kind: str, name: str) -> None:
        if (kind, name) in self.conflicts:
            raise UsageError(self.conflict_line(kind, name))

    # ------------------------------------------------------------ lookups

    def method(self, name: str) -> type[Method]:
        if name not in self.methods:
            self._refuse_conflict("method", name)
            raise UsageError(f"unknown method {name!r}{_close(name, self.methods)}")
        return self.methods[name]

    def suite(self, name: str) -> Suite:
        if name not in self.suites:
            self._refuse_conflict("suite", name)
            raise UsageError(f"unknown suite {name!r}{_close(name, self.suites)}")
        return self.suites[name]

    def task(self, name: str) -> Task:
        """Look a task up by ``suite/name`` or by its bare name when that is unique."""
        if name in self.tasks:
            return self.tasks[name]
        for kind, key in self.conflicts:
            if kind == "task" and name in (key, key.split("/", 1)[-1]):
                self._refuse_conflict(kind, key)
        matches = [t for t in self.tasks.values() if t.name == name]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise UsageError(f"task name {name!r} is ambiguous: " + ", ".join(t.key() for t in matches))
        names = list(self.tasks) + [t.name for t in self.tasks.values()]
        raise UsageError(f"unknown task {name!r}{_close(name, names)}")

    def select_tasks(self, suites=(), tasks=(), tier: str | None = None) -> list[Task]:
        if tier is not None and tier not in TIERS:
            raise UsageError(f"unknown tier {tier!r}; choose from {', '.join(TIERS)}")
        for s in suites:
            self.suite(s)
        chosen = [self.task(t) for t in tasks] if tasks else list(self.tasks.values())
        if suites:
            chosen = [t for t in chosen if t.suite in suites]
        if tier and not tasks:
            chosen = [t for t in chosen if t.tier == tier]
        return sorted(chosen, key=lambda t: (t.suite, t.name))


def _close(name: str, candidates) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=3, cutoff=0.5)
    return f"; did you mean {', '.join(close)}?" if close else ""


def build_registry(plugin_options=()) -> Registry:
    """Load plugins and collect what they provide; bad contributions are reported, not fatal."""
    loaded = load_plugins(plugin_options)
    reg = Registry(loaded=loaded)
    pm = loaded.manager
    for plugin_name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        _collect(reg, plugin_name, plugin)
    validate_tasks(reg)
    validate_hp_overrides(reg)
    return reg


def _call(plugin, hook: str):
    fn = getattr(plugin, hook, None)
    return list(fn() or []) if callable(fn) else []


def _provide(reg: Registry, kind: str, name: str, value, plugin_name: str, table: dict, owners: dict,
             same=lambda a, b: a is b) -> None:
    """Add ``value`` under ``name`` unless another plugin already provides something else by that name."""
    key = (kind, name)
    if key in reg.conflicts:
        if plugin_name not in reg.conflicts[key]:
            reg.conflicts[key].append(plugin_name)
        return
    if name in table and not same(table[name], value):
        reg.conflicts[key] = [owners[name], plugin_name]
        del table[name]
        del owners[name]
        return
    if name not in table:
        table[name] = value
        owners[name] = plugin_name


def _collect(reg: Registry, plugin_name: str, plugin) -> None:
    """Call one plugin's discovery hooks, so a failure is attributed to that plugin."""
    try:
        suites = _call(plugin, "regsuite_suites")
        methods = _call(plugin, "regsuite_methods")
        tasks = _call(plugin, "regsuite_tasks")
    except Exception as exc:
        reg.loaded.problems.append((plugin_name, f"discovery hook failed: {type(exc).__name__}: {exc}"))
        return
    for suite in suites:
        if not isinstance(suite, Suite):
            reg.loaded.problems.append((plugin_name, f"regsuite_suites returned {suite!r}, not a Suite"))
            continue
        # Two plugins may declare the very same suite (equal definitions); a different one is a conflict.
        _provide(reg, "suite", suite.name, suite, plugin_name, reg.suites, reg.suite_plugin, same=lambda a, b: a == b)
    for cls in methods:
        if not (isinstance(cls, type) and issubclass(cls, Method)):
            reg.loaded.problems.append((plugin_name, f"regsuite_methods returned {cls!r}, not a Method subclass"))
            continue
        bad = cls.metadata_problems()
        if bad:
            label = getattr(cls, "name", cls.__name__)
            reg.loaded.problems.append((plugin_name, f"method {label!r} has invalid metadata: {'; '.join(bad)}"))
            continue
        _provide(reg, "method", cls.name, cls, plugin_name, reg.methods, reg.method_plugin)
    for task in tasks:
        if not isinstance(task, Task):
            reg.loaded.problems.append((plugin_name, f"regsuite_tasks returned {task!r}, not a Task"))
            continue
        _provide(reg, "task", task.key(), task, plugin_name, reg.tasks, reg.task_plugin,
                 same=lambda a, b: type(a) is type(b))
    # A task needs its suite; checked after all plugins, see validate_tasks.


def validate_tasks(reg: Registry) -> None:
    for key, task in list(reg.tasks.items()):
        if task.suite not in reg.suites and ("suite", task.suite) not in reg.conflicts:
            reg.loaded.problems.append((key, f"task {key!r} names suite {task.suite!r}, which no plugin defines"))
            del reg.tasks[key]


def hp_override_problems(reg: Registry, task: Task) -> list[str]:
    """What is wrong with a task's ``hp_overrides``: unknown method, unknown key, a value the method cannot take."""
    out = []
    overrides = task.hp_overrides
    if not isinstance(overrides, dict):
        return [f"hp_overrides must be a dict {{method: {{key: value}}}}, got {type(overrides).__name__}"]
    for method, values in overrides.items():
        if method not in reg.methods and not reg.loaded.complete and ("method", method) not in reg.conflicts:
            continue  # maybe a method of a plugin that is blocked or failed (reported already); never used here
        if method not in reg.methods:
            conflict = ("method", method) in reg.conflicts
            why = "is provided by several plugins" if conflict else "is not provided by any loaded plugin"
            hint = "" if conflict else _close(method, reg.methods)
            out.append(f"hp_overrides names method {method!r}, which {why}{hint}")
            continue
        if not isinstance(values, dict):
            out.append(f"hp_overrides[{method!r}] must be a dict {{key: value}}, got {type(values).__name__}")
            continue
        cls = reg.methods[method]
        for key, value in values.items():
            try:
                cls.accept_hp(key, value)
            except KeyError:
                out.append(f"hp_overrides[{method!r}] sets {key!r}, which {method} does not have"
                           f"{_close(key, cls.defaults)} (it has: {', '.join(sorted(cls.defaults)) or 'none'})")
            except ValueError as exc:
                out.append(f"hp_overrides[{method!r}][{key!r}] = {value!r}: {exc}")
    return out


def validate_hp_overrides(reg: Registry) -> None:
    """Leave out a task whose overrides would misconfigure its runs (checked once, at registration).

    An override naming a method no loaded plugin provides is a misspelling only when every installed
    plugin loaded; otherwise the method may belong to a blocked or broken plugin, and the override is
    simply unused (runs cannot use that method either).
    """
    for key, task in list(reg.tasks.items()):
        bad = hp_override_problems(reg, task)
        if bad:
            reg.loaded.problems.append((key, f"task {key!r}: {'; '.join(bad)}"))
            del reg.tasks[key]
