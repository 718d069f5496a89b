"""Executors: where the runs of a plan execute.

One plan, one cache and one store serve every executor; :func:`regsuite.runner.run_plan`
drives them. The contract is small so that a pool of processes, SLURM jobs
and Ray tasks look the same to the driver:

* ``slots``: how many runs may be in flight at once;
* ``open(job)``: called once before the first run (``job`` says device, data
  directory and which plugins to load in a fresh process);
* ``submit(spec, options)``: start one run;
* ``wait(timeout)``: block until at least one run ended (or ``timeout`` seconds
  passed) and return ``[(spec, row, curves), ...]`` for the runs that ended.
  A run that crashed its worker, hung past the per-run timeout, or whose job
  failed is still returned, as a row with status ``error`` or ``timeout``;
* ``close()``: stop workers and release resources.

Executors other than ``local`` rebuild the plugin registry in their workers
from the same ``-p`` options, so a plugin module must be importable there
(for slurm and ray: installed, or on ``PYTHONPATH``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UsageError

NAMES = ("local", "process", "slurm", "ray")

# What each optional executor needs installed, and how to get it.
EXTRAS = {
    "slurm": ("submitit", "pip install 'regsuite[slurm]'  (or: pip install submitit)"),
    "ray": ("ray", "pip install 'regsuite[ray]'  (or: pip install 'ray>=2.30')"),
}


@dataclass
class Job:
    """What every run of a plan shares."""

    device: str = "cpu"
    data_dir: Path | None = None
    plugin_options: tuple[str, ...] = ()
    registry: object = None  # the driver's registry (used in process by the local executor)
    results_dir: Path | None = None
    extra: dict = field(default_factory=dict)


class Executor:
    name = "base"
    slots = 1

    def open(self, job: Job) -> None:
        self.job = job

    def submit(self, spec, options: dict) -> None:
        raise NotImplementedError

    def wait(self, timeout: float | None = None) -> list[tuple]:
        raise NotImplementedError

    def close(self) -> None:
        """Stop everything still running; safe to call twice."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def require(executor: str):
    """Import the optional library an executor needs, or refuse with what to install."""
    module, how = EXTRAS[executor]
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UsageError(f"--executor {executor} needs the {module} package, which is not installed: {how}") from None


def load_config(path: Path | None) -> dict:
    """Executor settings from a TOML file (e.g. SLURM partition, time limit; Ray address)."""
    if path is None:
        return {}
    import tomllib

    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise UsageError(f"cannot read executor config {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"executor config {path} is not valid TOML: {exc}") from None


def make_executor(
    name: str = "local",
    *,
    workers: int | None = None,
    timeout: float | None = None,
    config: dict | None = None,
) -> Executor:
    """Build the executor called ``name``; bad combinations are refused with one clear line."""
    if name not in NAMES:
        raise UsageError(f"unknown executor {name!r}; choose from {', '.join(NAMES)}")
    if workers is not None and workers < 1:
        raise UsageError("--workers must be at least 1")
    if timeout is not None:
        import math

        if not math.isfinite(timeout) or timeout <= 0:  # nan would silently disable it, inf never fires
            raise UsageError(f"--timeout must be a positive number of seconds, and finite (got {timeout!r})")
        if timeout > 365 * 86400:
            raise UsageError(f"--timeout {timeout:g} s is more than a year; leave it out for no limit")
    config = dict(config or {})
    if name == "local":
        if timeout is not None:
            raise UsageError(
                "--timeout needs an executor that can stop a run from outside "
                "(--executor process, slurm or ray); a hung run cannot be stopped in-process"
            )
        if workers not in (None, 1):
            raise UsageError("--executor local runs one run at a time; use --executor process --workers N")
        from .local import LocalExecutor

        return LocalExecutor()
    if name == "process":
        from .process import ProcessExecutor

        extra = config.get("process", {})
        unknown = set(extra) - {"threads", "runs_per_worker"}
        if unknown:
            raise UsageError(f"unknown [process] setting(s) {', '.join(sorted(unknown))}; "
                             "known: threads, runs_per_worker")
        for key in extra:  # a non-numeric value here would turn every run into an error
            value = extra[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UsageError(f"[process] {key} must be a whole number >= 1 (got {value!r})")
        return ProcessExecutor(workers=workers or 1, timeout=timeout, **extra)
    if name == "slurm":
        require("slurm")
        from .slurm import SlurmExecutor

        return SlurmExecutor(workers=workers, timeout=timeout, config=config.get("slurm", config))
    require("ray")
    from .ray import RayExecutor

    address = (config.get("ray", config) or {}).get("address")
    if address is not None and not isinstance(address, str):
        raise UsageError(f"[ray] address must be a string such as \"auto\" or \"ray://host:10001\" (got {address!r})")

    return RayExecutor(workers=workers, timeout=timeout, config=config.get("ray", config))
