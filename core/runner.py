"""Running one run, and a plan of runs in this process.

A run is seeded (python, numpy, torch) and deterministic on CPU. Its outcome
is always a row: ``ok``, ``diverged`` (non-finite loss), ``error`` (an
exception anywhere, traceback stored) or ``timeout`` (set by executors).
"""

from __future__ import annotations

import json
import random
import resource
import sys
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from . import provenance
from .errors import Diverged
from .plan import RunSpec
from .registry import Registry
from .store import Store


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def resolve_device(name: str):
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")




def _state_mem(ctx) -> float | None:
    """The task's own figure if it set one, else measured on the run's last training state."""
    if ctx is None:
        return None
    if ctx.counters.get("state_mem_mb") is not None:
        return ctx.counters["state_mem_mb"]
    if not ctx.states:
        return None
    from .state import state_memory_mb

    try:
        return state_memory_mb(ctx.states[-1])
    except Exception:  # a measurement must never turn a finished run into an error
        return None


def run_threads(task, device, options=None) -> int | None:
    """CPU threads for one run: ``options["threads"]`` (``bench --threads``) wins, else the task's
    :meth:`~regsuite.task.Task.cpu_threads`; None (and any non-CPU device) keeps the process's."""
    if device is None or device.type != "cpu":
        return None
    override = (options or {}).get("threads")
    return int(override) if override else task.cpu_threads()


@contextmanager
def torch_threads(threads: int | None):
    """Run the body with ``threads`` torch intra-op threads, then restore the previous count."""
    if threads is None:
        yield
        return
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def build_hooks(reg: Registry, spec: RunSpec):
    """Instantiate the run's methods and register them on a fresh per-run plugin manager."""
    import pluggy

    from . import hookspec
    from .state import RunHooks

    from .plan import producers_of

    # A worker (process, Ray, Slurm) builds its own registry: it must resolve the same code the id names.
    if spec.producers and producers_of(reg, spec.components) != spec.producers:
        raise RuntimeError(
            f"this process's plugins provide {producers_of(reg, spec.components)}, "
            f"but the run was planned with {spec.producers}; install the same plugin versions everywhere"
        )
    pm = pluggy.PluginManager(hookspec.PROJECT)
    pm.add_hookspecs(hookspec)
    methods = []
    for name in spec.components:
        method = reg.method(name)(spec.hparams.get(name, {}))
        pm.register(method, name=name)
        methods.append(method)
    pm.check_pending()
    return RunHooks(pm, methods)


def execute_run(reg: Registry, spec: RunSpec, *, device: str = "cpu", data_dir: Path | None = None, options=None):
    """Run one spec; return ``(run_row, curve_rows)``. Never raises for failures inside the run."""
    from .context import RunContext

    task = reg.tasks[spec.task]
    started_at = _now()
    t0 = time.perf_counter()
    status, error, metrics, ctx = "ok", None, {}, None
    dev = None
    try:
        dev = resolve_device(device)
        seed_everything(spec.seed)
        hooks = build_hooks(reg, spec)
        ctx = RunContext(
            seed=spec.seed, device=dev, tier=spec.tier, hooks=hooks, hparams=spec.hparams,
            data_dir=data_dir, options=dict(options or {}),
        )
        with torch_threads(run_threads(task, dev, options)):
            metrics = ctx.complete(dict(task.run(ctx) or {}))  # run_end hooks, steps, train time
        if task.primary.name not in metrics and not _censored_primary(task, metrics):
            raise RuntimeError(f"task {spec.task} did not report its primary metric {task.primary.name!r}")
    except Diverged as exc:
        status, error = "diverged", str(exc)
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        status, error = "error", traceback.format_exc(limit=20)
        # A library that fails on NaN weights (an SVD, a Cholesky) means the run diverged.
        try:
            if ctx is not None and ctx.weights_non_finite():
                status = "diverged"
                error = f"weights became non-finite, then {type(exc).__name__}: {exc}"
        except Exception:  # the check itself must never hide the original error
            pass
    wall = time.perf_counter() - t0
    if status == "ok" and ctx is not None:
        bad = [k for k, v in metrics.items() if not isinstance(v, (int, float)) or v != v]
        if task.primary.name in bad:
            status, error = "diverged", f"primary metric {task.primary.name} is not a number"
    peak = None
    if dev is not None and dev.type == "cuda":
        import torch

        peak = torch.cuda.max_memory_allocated(dev) / 2**20
    else:  # process-wide high-water mark on CPU
        scale = 1 if sys.platform == "darwin" else 1024
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20
    label = provenance.device_name(dev) if dev is not None else device
    row = _row(reg, spec, status, error, metrics, ctx, wall, peak, label, started_at)
    curves = [
        {"run_id": spec.run_id, "step": s, "wall_s": w, "split": sp, "metric": m, "value": v}
        for (s, w, sp, m, v) in (ctx.curves if ctx else [])
    ]
    return row, curves


def _censored_primary(task, metrics: dict) -> bool:
    """A time-to-target primary that was not reached is a result (censored), not a missing metric."""
    return task.primary.name.endswith("_to_target") and metrics.get("target_censored") == 1.0


def _row(reg: Registry, spec: RunSpec, status: str, error, metrics: dict, ctx, wall: float, peak, device: str,
         started_at: str) -> dict:
    task = reg.tasks[spec.task]
    steps = ctx.counters.get("steps", 0) if ctx else 0
    row = {
        "run_id": spec.run_id,
        "suite": spec.suite,
        "suite_version": spec.suite_version,
        "task": spec.task,
        "tier": spec.tier,
        "method": spec.method,
        "components": json.dumps(list(spec.components)),
        "method_versions": json.dumps(_method_versions(reg, spec), sort_keys=True),
        # Which distribution provided each component (the run id hashes it too); JSON {component: {...}}.
        "method_providers": json.dumps(_method_providers(spec), sort_keys=True),
        "hparams": spec.hparams_json(),
        "seed": spec.seed,
        "protocol": spec.protocol,
        "status": status,
        "error": error,
        "primary_metric": task.primary.name,
        "primary_direction": task.primary.direction,
        # None for a censored time-to-target primary: the target was not reached within the budget.
        "primary_value": float(metrics[task.primary.name]) if status == "ok" and task.primary.name in metrics else None,
        "metrics": json.dumps({k: float(v) for k, v in metrics.items()}, sort_keys=True),
        "notes": json.dumps({k: str(v) for k, v in (ctx.notes if ctx else {}).items()}, sort_keys=True),
        "wall_s": wall,
        "step_time_ms": (ctx.counters.get("train_s", wall) / steps * 1000) if steps else None,
        "steps": steps,
        "samples": ctx.counters.get("samples", 0) if ctx else 0,
        "tokens": ctx.counters.get("tokens", 0) if ctx else 0,
        "peak_mem_mb": peak,
        "state_mem_mb": _state_mem(ctx),
        "device": device,
        "plugins": json.dumps(reg_plugin_list(reg)),
        "started_at": started_at,
        "finished_at": _now(),
        **provenance.static_fields(),
    }
    return row


def failure_row(reg: Registry, spec: RunSpec, status: str, error: str, *, wall_s: float = 0.0,
                device: str = "cpu", started_at: str | None = None) -> dict:
    """The row of a run that ended outside ``execute_run``: its worker crashed, hung or its job failed."""
    return _row(reg, spec, status, error, {}, None, wall_s, None, device, started_at or _now())


def _method_versions(reg: Registry, spec: RunSpec) -> dict[str, str]:
    """The versions the run id was computed with (the plan's), else the registry's."""
    if spec.producers:
        return {name: version for name, version, _, _ in spec.producers}
    return {n: reg.method(n).version for n in spec.components}


def _method_providers(spec: RunSpec) -> dict[str, dict[str, str]]:
    return {name: {"distribution": dist, "version": dist_version} for name, _, dist, dist_version in spec.producers}


def reg_plugin_list(reg: Registry) -> list[dict]:
    return [{"name": p.name, "distribution": p.distribution, "version": p.version} for p in reg.loaded.plugins]


@dataclass
class Progress:
    """Runs done/total, current run and ETA, on stderr."""

    total: int
    stream: object = None
    done: int = 0
    started: float = 0.0

    def __post_init__(self) -> None:
        self.stream = self.stream or sys.stderr  # looked up now: the CLI test runner swaps it
        self.started = time.perf_counter()
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def _eta(self) -> str:
        if not self.done:
            return "?"
        left = (time.perf_counter() - self.started) / self.done * (self.total - self.done)
        return f"{left:.0f}s"

    def start(self, spec: RunSpec) -> None:
        if self.tty:
            line = f"[{self.done}/{self.total}] {spec.method} on {spec.task} seed {spec.seed}  ETA {self._eta()}"
            print("\r\033[K" + line, end="", file=self.stream, flush=True)

    def finish(self, spec: RunSpec, row: dict) -> None:
        self.done += 1
        value = row["primary_value"]
        shown = f"{row['primary_metric']}={value:.4f}" if value is not None else row["status"]
        line = (
            f"[{self.done}/{self.total}] {spec.method} on {spec.task} seed {spec.seed}: {shown} "
            f"({row['wall_s']:.1f}s, ETA {self._eta()})"
        )
        if self.tty:
            print("\r\033[K" + line, file=self.stream, flush=True)
        else:
            print(line, file=self.stream, flush=True)


def run_plan(
    reg: Registry,
    runs: list[RunSpec],
    store: Store,
    *,
    force: bool = False,
    device: str = "cpu",
    data_dir: Path | None = None,
    options=None,
    progress: bool = True,
    on_row: Callable[[dict], None] | None = None,
    executor=None,
    plugin_options: tuple[str, ...] = (),
) -> dict[str, int]:
    """Run every spec not already finished in ``store``, writing each result as it completes.

    ``executor`` (see :mod:`regsuite.executors`; default: in this process)
    decides where runs execute; results are always written here, one run at a
    time, as they arrive, so a killed bench loses only the runs in flight.
    Each run is claimed in the store before it starts: a second bench on the
    same directory waits for runs the first one is executing instead of
    repeating them, then finds them finished.
    """
    from .checkpoint import discard, run_options
    from .executors import Job

    plan_ids = frozenset(r.run_id for r in runs)
    done = set() if force else store.finished_ids(among=plan_ids)
    todo = list({r.run_id: r for r in runs if r.run_id not in done}.values())
    counts = {"cached": len(runs) - len(todo), "ok": 0, "diverged": 0, "error": 0, "timeout": 0}
    bar = Progress(len(todo)) if progress else None
    own = executor is None
    if own:
        from .executors.local import LocalExecutor

        executor = LocalExecutor()
    executor.open(Job(device=device, data_dir=data_dir, plugin_options=tuple(plugin_options), registry=reg,
                      results_dir=store.root))
    queue, running = list(todo), {}  # running: run_id -> claim
    busy = set()  # run ids the executor is working on (a subset of running)

    def fill() -> bool:
        """Start runs until the executor is full; True if some were held by another process."""
        waiting = []
        while queue and len(busy) < executor.slots:
            spec = queue.pop(0)
            claim = store.try_claim(spec.run_id)
            if claim is None:
                waiting.append(spec)
                continue
            if not force and spec.run_id in store.finished_ids(among=plan_ids):  # finished by another process
                claim.release()
                counts["cached"] += 1
                if bar:
                    bar.total -= 1
                continue
            running[spec.run_id] = claim
            busy.add(spec.run_id)
            if bar:
                bar.start(spec)
            executor.submit(spec, run_options(options, spec, store.root))
        queue.extend(waiting)
        return bool(waiting)

    try:
        while queue or running:
            contended = fill()
            if not busy:
                if queue:
                    time.sleep(0.2)
                continue
            ended = executor.wait(0.2 if contended else None)
            busy.difference_update(spec.run_id for spec, _, _ in ended)
            fill()  # keep workers busy while the results are written
            for spec, row, curves in ended:
                store.append([row], curves)
                finished = row["status"] in ("ok", "diverged")
                if finished:
                    discard(spec, store.root)
                running.pop(spec.run_id).release(finished=finished)
                counts[row["status"]] += 1
                if bar:
                    bar.finish(spec, row)
                if on_row:
                    on_row(row)
    except BaseException:
        own = True  # runs may still be in flight: stop them, they have no driver any more
        raise
    finally:
        for claim in running.values():
            claim.release()
        if own:
            executor.close()
    return counts
