"""Plugin discovery and loading.

Plugins are modules registered on one global pluggy manager, found through
the ``regsuite`` entry-point group (built-ins included). As in pytest:

* ``REGSUITE_DISABLE_PLUGIN_AUTOLOAD=1`` skips entry points; only ``-p`` plugins load.
* ``-p NAME`` loads the entry point called NAME, or else imports the module NAME.
* ``-p no:NAME`` blocks the entry point (or module) NAME.

A plugin that fails to import, implements an unknown hook or declares
invalid metadata is reported by name and left out; every other plugin stays
usable.
"""

from __future__ import annotations

import importlib
import os
import types
from dataclasses import dataclass, field
from importlib.metadata import entry_points

import pluggy

from . import hookspec
from .hookspec import PROJECT

AUTOLOAD_ENV = "REGSUITE_DISABLE_PLUGIN_AUTOLOAD"


@dataclass
class PluginInfo:
    name: str  # entry-point name, or module name for -p
    module: str
    distribution: str
    version: str


@dataclass
class LoadedPlugins:
    manager: pluggy.PluginManager
    plugins: list[PluginInfo] = field(default_factory=list)
    # (plugin name, one-line reason) for each plugin that was left out.
    problems: list[tuple[str, str]] = field(default_factory=list)
    # False when some installed plugin is not loaded (autoload off, -p no:NAME, a failed import):
    # a name no loaded plugin provides may then be provided by one of those.
    complete: bool = True


def _split_options(options: tuple[str, ...] | list[str]) -> tuple[list[str], set[str]]:
    wanted, blocked = [], set()
    for opt in options:
        if opt.startswith("no:"):
            blocked.add(opt[3:])
        else:
            wanted.append(opt)
    return wanted, blocked


def _dist_of(ep, seen: dict) -> tuple[str, str]:
    """(name, version) of an entry point's distribution, parsed once per distribution in ``seen`` (one
    load): each ``dist.name`` or ``dist.version`` parses its METADATA again, and the built-ins are 28 entry
    points of one distribution."""
    dist = ep.dist
    if dist is None:
        return "?", "?"
    key = str(getattr(dist, "_path", id(dist)))
    if key not in seen:
        meta = dist.metadata
        seen[key] = (meta["Name"], meta["Version"])
    return seen[key]


def _hooks_module(module):
    """What pluggy registers for a plugin module: a module holding its hook implementations alone.

    pluggy inspects every attribute of what it registers (``inspect.getattr_static`` on each name,
    the module's imports included); on the built-ins that was a fifth of building the registry at
    every start. The implementations are the module's ``regsuite_*`` names and any function marked
    with ``@hookimpl`` (which may name its hook with ``specname``), so nothing pluggy would register
    is left out, and the stand-in is a module too, so pluggy treats it as it treats the original.
    """
    hooks = types.ModuleType(module.__name__, module.__doc__)
    hooks.__file__ = getattr(module, "__file__", None)
    for key, value in vars(module).items():
        if key.startswith(PROJECT + "_") or (isinstance(value, types.FunctionType)
                                             and PROJECT + "_impl" in value.__dict__):
            setattr(hooks, key, value)
    return hooks


def load_plugins(options: tuple[str, ...] | list[str] = ()) -> LoadedPlugins:
    """Create the global plugin manager and load plugins as described above."""
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspec)
    loaded = LoadedPlugins(manager=pm)
    wanted, blocked = _split_options(options)
    autoload = os.environ.get(AUTOLOAD_ENV, "") in ("", "0")
    eps = {ep.name: ep for ep in entry_points(group=PROJECT)}
    dists: dict = {}  # distribution path -> (name, version)

    loaded.complete = autoload and not (blocked & ({*eps} | {ep.value for ep in eps.values()}))

    hooks_of: dict[int, object] = {}  # id(module) -> what was registered: one module, one plugin

    def register(name: str, module_name: str, loader, dist_name: str, dist_version: str) -> None:
        if name in blocked or module_name in blocked or pm.has_plugin(name):
            return
        try:
            module = loader()
        except Exception as exc:  # a broken third-party plugin must not take the rest down
            loaded.problems.append((name, f"failed to import {module_name}: {type(exc).__name__}: {exc}"))
            loaded.complete = False
            return
        if isinstance(module, types.ModuleType):  # an entry point may name any object: that one registers as is
            if id(module) not in hooks_of:
                hooks_of[id(module)] = _hooks_module(module)
            module = hooks_of[id(module)]
        try:
            pm.register(module, name=name)
            pm.check_pending()
        except pluggy.PluginValidationError as exc:
            if pm.is_registered(module):
                pm.unregister(module)
            loaded.problems.append((name, f"invalid hook implementation: {exc}"))
            loaded.complete = False
            return
        except ValueError as exc:  # already registered under another name
            loaded.problems.append((name, str(exc)))
            return
        loaded.plugins.append(PluginInfo(name, module_name, dist_name, dist_version))

    if autoload:
        for ep in eps.values():
            register(ep.name, ep.value, ep.load, *_dist_of(ep, dists))
    for opt in wanted:
        if opt in eps:
            ep = eps[opt]
            register(ep.name, ep.value, ep.load, *_dist_of(ep, dists))
        else:
            register(opt, opt, lambda m=opt: importlib.import_module(m), "-p", "")
    return loaded
