"""Conformance checks any plugin runs from its own tests (like ``benchopt test``).

From a plugin's test file::

    from regsuite.testing import assert_conformance

    def test_my_methods_conform():
        assert_conformance("my-method")        # or assert_conformance(plugin="myplugin")

or from the shell: ``regsuite plugin check [PLUGIN]``. For each method:

* ``metadata``: name, family, citation, defaults and search space are valid, no unknown hooks,
  and no method named like a run hook that lacks ``@hookimpl`` (pluggy would never call it)
* ``construct``: the class constructs from its defaults
* ``search-space``: points sampled from every dimension validate, and so do the defaults
* ``smoke-run``: the method runs a compatible smoke task to completion with status ok
* ``deterministic``: two runs with the same seed give identical metrics
* ``hook-contract``: every hook it implements returns what the contract says (an
  optimizer, a scalar tensor, a dict batch, ...), checked on the live run
* ``step-contract``: state the method keeps across steps advances once per optimizer step
  (see :mod:`regsuite.hookspec`). The smoke run is repeated with a two-pass step whose probe
  pass is at the *same* weights (a SAM with rho = 0, replaying the primary pass's random
  state): a method that reads its per-step state in every pass and commits it once per step
  cannot tell the two runs apart, so the final weights, normalisation statistics,
  ``state.extras`` and the method object's attributes (tensors, generators, containers) must
  be identical. The first attribute that differs is named. It needs no knowledge of the
  method's internals, so it works for third-party methods; a method that is itself a step
  procedure is not checked (it defines the passes).
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import UsageError
from .method import unmarked_hooks  # noqa: F401  (re-exported: part of the conformance API)
from .registry import Registry, build_registry

CHECKS = ("metadata", "construct", "search-space", "smoke-run", "deterministic", "hook-contract", "step-contract")


@dataclass
class CheckResult:
    method: str
    check: str
    ok: bool
    detail: str = ""


class ConformanceError(AssertionError):
    pass


def _task_for(reg: Registry, cls, task: str | None):
    if task:
        return reg.task(task)
    from .plan import missing_capabilities, resolve_components

    # The cheapest compatible smoke task: vision's MLP first, then by step budget.
    smoke = sorted(
        (t for t in reg.tasks.values() if t.tier == "smoke"),
        key=lambda t: (t.key() != "vision/digits-mlp", t.budget.steps, t.key()),
    )
    for candidate in smoke:
        try:
            components = resolve_components(reg, cls.name, candidate)
        except UsageError:
            continue
        if not missing_capabilities(reg, components, candidate):
            return candidate
    return None


def _validators():
    """Return-value checks per hook (the contract in regsuite.hookspec)."""
    import torch

    def scalar(v):
        return v is None or (torch.is_tensor(v) and v.dim() == 0)

    return {
        "configure_optimizer": lambda v: isinstance(v, torch.optim.Optimizer),
        "configure_scheduler": lambda v: v is None or hasattr(v, "step"),
        "transform_batch": lambda v: v is None or isinstance(v, dict),
        "loss": scalar,
        "penalty": scalar,
        "train_step": lambda v: torch.is_tensor(v) and v.dim() == 0,
        "run_end": lambda v: v is None or (isinstance(v, dict) and all(isinstance(x, (int, float)) for x in v.values())),
    }


def _run_checked(reg: Registry, spec, method_name: str, violations: list[str], two_pass: bool = False):
    """Run ``spec`` like the runner does, validating the named method's hook results.

    Returns ``(metrics, hooks, ctx)``. With ``two_pass``, every step is :func:`probe_at_same_weights`.
    """
    from .context import RunContext
    from .runner import build_hooks, resolve_device, seed_everything

    seed_everything(spec.seed)
    hooks = build_hooks(reg, spec)
    target = next(m for m in hooks.methods if m.name == method_name)
    checks = _validators()
    for hook, check in checks.items():
        calls = getattr(hooks, hook)
        impls = getattr(hooks.manager.hook, f"regsuite_{hook}").get_hookimpls()
        owners = [impl.plugin for impl in sorted(impls, key=lambda i: hooks.methods.index(i.plugin))]
        wrapped = []
        for call, owner in zip(calls, owners):
            if owner is target:

                def checked(_call=call, _hook=hook, _check=check, **kwargs):
                    value = _call(**kwargs)
                    if not _check(value) and len(violations) < 5:
                        violations.append(f"regsuite_{_hook} returned {type(value).__name__}: {value!r:.80}")
                    return value

                wrapped.append(checked)
            else:
                wrapped.append(call)
        setattr(hooks, hook, tuple(wrapped))
    if two_pass:
        hooks.train_step = (lambda state: probe_at_same_weights(state),)
    ctx = RunContext(seed=spec.seed, device=resolve_device("cpu"), tier=spec.tier, hooks=hooks, hparams=spec.hparams)
    return ctx.complete(dict(reg.tasks[spec.task].run(ctx) or {})), hooks, ctx  # as the runner does


def check_method(reg: Registry, name: str, task: str | None = None) -> list[CheckResult]:
    """Run every conformance check for one method; never raises for the method's own failures."""
    import traceback

    from .plan import build_plan

    cls = reg.method(name)
    out: list[CheckResult] = []

    def record(check, ok, detail=""):
        out.append(CheckResult(name, check, ok, detail))

    problems = cls.metadata_problems()
    if cls.citation is None:
        problems.append("citation is missing")
    record("metadata", not problems, "; ".join(problems))
    try:
        instance = cls()
        record("construct", instance.hp == cls.defaults, "" if instance.hp == cls.defaults else "hp != defaults")
    except Exception as exc:
        record("construct", False, f"{type(exc).__name__}: {exc}")
    bad = []
    for key, param in cls.space.items():
        for u in (0.0, 0.37, 0.999):
            try:
                param.validate(param.sample(u, steps=1000))
            except Exception as exc:
                bad.append(f"{key} at u={u}: {exc}")
    record("search-space", not bad, "; ".join(bad))

    chosen = _task_for(reg, cls, task)
    if chosen is None:
        for check in ("smoke-run", "deterministic", "hook-contract"):
            record(check, False, "no installed smoke task provides what the method requires: "
                   + ", ".join(sorted(cls.requires)))
        return out
    spec = build_plan(reg, tasks=[chosen.key()], methods=[name], seeds=1).runs[0]
    violations: list[str] = []
    try:
        first, first_hooks, first_ctx = _run_checked(reg, spec, name, violations)
        second = _run_checked(reg, spec, name, [])[0]
    except Exception as exc:
        tb = traceback.format_exc(limit=3).strip().splitlines()[-1]
        record("smoke-run", False, f"on {chosen.key()}: {tb or exc}")
        record("deterministic", False, "smoke run failed")
        record("hook-contract", not violations, "; ".join(violations))
        record("step-contract", False, "smoke run failed")
        return out
    import math

    primary = first.get(chosen.primary.name)
    finite = isinstance(primary, (int, float)) and math.isfinite(primary)
    record("smoke-run", finite, f"on {chosen.key()}: {chosen.primary.name}={primary}")
    same = _untimed(first) == _untimed(second)
    record("deterministic", same, "" if same else f"metrics differ between two seed-{spec.seed} runs: "
           + ", ".join(sorted(k for k in first.keys() | second.keys() if first.get(k) != second.get(k)))[:200])
    record("hook-contract", not violations, "; ".join(violations))
    record("step-contract", *_step_contract(reg, spec, name, first_hooks, first_ctx, same))
    return out


def _untimed(metrics: dict) -> dict:
    """Metrics without wall-clock measurements (a target's ``wall_s_to_target``), which no two runs share."""
    return {k: v for k, v in metrics.items() if not (k.startswith("wall_s_") or k.endswith("_wall_s"))}


def probe_at_same_weights(state):
    """A two-pass train step that a method keeping the step contract cannot tell from a plain step:
    the primary pass at w, then a probe pass at the same w (SAM with rho = 0) that replays the
    primary pass's random state (dropout masks, sampled noise); the optimizer steps with the
    probe's gradient, transformed once."""
    import torch

    rng = _random_state()
    state.zero_grad()
    loss, _ = state.forward_loss(state.batch)
    loss.backward()
    _set_random_state(rng)
    state.zero_grad()
    probe_loss, _ = state.forward_loss(state.batch)  # the step's second pass: a probe
    state.backward(probe_loss)
    state.optimizer_step()
    return loss.detach() if torch.is_tensor(loss) else loss


def _random_state():
    import random

    import numpy as np
    import torch

    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
    return random.getstate(), np.random.get_state(), torch.get_rng_state(), cuda


def _set_random_state(saved) -> None:
    import random

    import numpy as np
    import torch

    py, npy, cpu, cuda = saved
    random.setstate(py)
    np.random.set_state(npy)
    torch.set_rng_state(cpu)
    if cuda is not None:
        torch.cuda.set_rng_state_all(cuda)


def _step_contract(reg: Registry, spec, name: str, hooks, ctx, deterministic: bool) -> tuple[bool, str]:
    """(ok, detail) of the step-contract check; ``hooks``/``ctx`` are those of the plain smoke run."""
    if hooks.train_step:
        owner = hooks.claimants("regsuite_train_step")
        return True, f"not checked: {', '.join(owner)} takes over the step (a step procedure defines the passes)"
    if not deterministic:
        return False, "cannot be checked: two plain runs with the same seed already differ"
    target = next(m for m in hooks.methods if m.name == name)
    plain = [_snapshot(s) for s in ctx.states], _snapshot(vars(target))
    try:
        _, two_hooks, two_ctx = _run_checked(reg, spec, name, [], two_pass=True)
    except Exception as exc:
        return False, f"the run with a probe pass per step failed: {type(exc).__name__}: {exc}"
    two_target = next(m for m in two_hooks.methods if m.name == name)
    probed = [_snapshot(s) for s in two_ctx.states], _snapshot(vars(two_target))
    where = _first_difference(plain[1], probed[1], f"{type(target).__name__}") or _first_difference(
        plain[0], probed[0], "state")
    if where:
        return False, (f"{name}'s state advanced in a probe pass: after {ctx.states[-1].step if ctx.states else '?'} "
                       f"steps, {where} differs between plain steps and steps with a probe pass at the same "
                       "weights (read per-step state in every pass, update it only when not state.probe, "
                       "commit it in regsuite_after_step)")
    return True, ""


def _snapshot(obj, depth: int = 0):
    """A comparable copy of ``obj``: tensors cloned, generators as their state, containers walked."""
    import torch

    from .state import TrainState

    if depth > 8:
        return "..."
    if isinstance(obj, TrainState):
        return {"model": _snapshot(obj.model, depth + 1), "extras": _snapshot(obj.extras, depth + 1), "step": obj.step}
    if torch.is_tensor(obj):
        return obj.detach().cpu().clone()
    if isinstance(obj, torch.Generator):
        return obj.get_state()
    if isinstance(obj, torch.nn.Module):
        return {k: v.detach().cpu().clone() for k, v in obj.state_dict().items()}
    if isinstance(obj, torch.optim.Optimizer):
        return "<optimizer>"  # its state follows from the weights' trajectory, compared through the model
    if isinstance(obj, dict):
        return {str(k): _snapshot(v, depth + 1) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_snapshot(v, depth + 1) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return sorted(repr(v) for v in obj)
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if hasattr(obj, "__dict__") and not callable(obj):
        return {"__type__": type(obj).__name__, **{k: _snapshot(v, depth + 1) for k, v in vars(obj).items()}}
    return f"<{type(obj).__name__}>"


def _first_difference(a, b, path: str) -> str | None:
    """The path of the first place where two snapshots differ, or None."""
    import torch

    if torch.is_tensor(a) or torch.is_tensor(b):
        same = (torch.is_tensor(a) and torch.is_tensor(b) and a.shape == b.shape and a.dtype == b.dtype
                and torch.equal(a, b))
        return None if same else path
    if isinstance(a, dict) and isinstance(b, dict):
        for key in a.keys() | b.keys():
            if key not in a or key not in b:
                return f"{path}.{key}"
            found = _first_difference(a[key], b[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path} (length)"
        for i, (x, y) in enumerate(zip(a, b)):
            found = _first_difference(x, y, f"{path}[{i}]")
            if found:
                return found
        return None
    return None if a == b else path




def _distributions(reg: Registry) -> dict[str, str]:
    """Distribution name of every plugin, loaded or not (entry point name or -p module -> distribution)."""
    from importlib.metadata import entry_points

    from .hookspec import PROJECT

    out = {ep.name: (ep.dist.name if ep.dist else "?") for ep in entry_points(group=PROJECT)}
    out.update({p.name: p.distribution for p in reg.loaded.plugins})
    return out


def _owner(reg: Registry, name: str) -> str:
    """The plugin a registry problem belongs to: problems of tasks are keyed by the task's key."""
    return reg.task_plugin.get(name, name)


def plugin_problems(reg: Registry, plugin: str | None = None) -> list[str]:
    """Why a plugin (entry-point or distribution name; None: every plugin not shipped with regsuite)
    is broken: it failed to load, some of what it provides was left out, or it provides a name
    another plugin provides too (then neither is used). One line each, naming the plugin."""
    dists = _distributions(reg)

    def chosen(p: str) -> bool:
        dist = dists.get(p, "-p")
        return dist != "regsuite" if plugin is None else plugin in (p, dist)

    out = []
    for name, reason in reg.problems:
        owner = _owner(reg, name)
        if chosen(owner):
            out.append(f"plugin {owner!r}: {reason}")
    for (kind, name), plugins in reg.conflicts.items():
        mine = [p for p in plugins if chosen(p)]
        if mine:
            out.append(f"plugin {mine[0]!r}: {reg.conflict_line(kind, name)}")
    return out


def methods_of_plugin(reg: Registry, plugin: str) -> list[str]:
    """Methods provided by a plugin, given its entry-point name or its distribution name.

    A plugin that failed to load has none (its problems are :func:`plugin_problems`); a name no
    plugin has, loaded or not, is a usage error.
    """
    names = {p.name for p in reg.loaded.plugins if plugin in (p.name, p.distribution)}
    if not names:
        dists = _distributions(reg)
        if any(plugin in (_owner(reg, n), dists.get(_owner(reg, n))) for n, _ in reg.problems):
            return []
        known = sorted({p.name for p in reg.loaded.plugins} | {p.distribution for p in reg.loaded.plugins})
        from .registry import _close

        raise UsageError(f"no loaded plugin or distribution named {plugin!r}{_close(plugin, known)}")
    return sorted(m for m, p in reg.method_plugin.items() if p in names)


def _unknown_method(reg: Registry, name: str, exc: UsageError) -> UsageError:
    """The lookup error for a method to check, with the reason its plugin left it out, if any."""
    said = [f"plugin {_owner(reg, p)!r}: {why}" for p, why in reg.problems if repr(name) in why]
    failed = [f"plugin {_owner(reg, p)!r}: {why}" for p, why in reg.problems if why.startswith("failed to import")
              or why.startswith("invalid hook implementation") or why.startswith("discovery hook failed")]
    if said:
        return UsageError(f"{exc}; it was left out: {'; '.join(said)}")
    if failed:
        return UsageError(f"{exc}; plugins that failed to load (one may provide it): {'; '.join(failed)}")
    return exc


def conformance(methods=(), plugin: str | None = None, task: str | None = None, reg: Registry | None = None):
    """The check results of the named methods, or of every method of ``plugin``.

    A method that is not registered raises :class:`UsageError` naming why, when its plugin was
    left out; a plugin's own problems (load failures, conflicts) are :func:`plugin_problems`.
    """
    reg = reg or build_registry()
    names = list(methods) or (methods_of_plugin(reg, plugin) if plugin else [])
    if not names and not (plugin and plugin_problems(reg, plugin)):
        raise UsageError("name methods or a plugin to check")
    results = []
    for name in names:
        try:
            reg.method(name)
        except UsageError as exc:
            raise _unknown_method(reg, name, exc) from None
        results.extend(check_method(reg, name, task))
    return results


def assert_conformance(*methods: str, plugin: str | None = None, task: str | None = None) -> None:
    """Raise an AssertionError listing every failed check (for use in a plugin's pytest suite).

    The plugin's load problems (``plugin=``), or why a named method is missing, are part of the
    message, so pytest's output names the cause (e.g. a misspelled hook) rather than only
    "unknown method".
    """
    reg = build_registry()
    try:
        results = conformance(methods, plugin, task, reg=reg)
    except UsageError as exc:
        raise ConformanceError(str(exc)) from None
    lines = plugin_problems(reg, plugin) if plugin else []
    lines += [f"{r.method}: {r.check} failed: {r.detail}" for r in results if not r.ok]
    if lines:
        raise ConformanceError("\n".join(lines))
