"""The ray executor: one Ray task per run.

If Ray is not initialised yet, the executor starts a local Ray with
``--workers`` CPUs (default: all) and shuts it down at the end; to use a
cluster, set ``address = "ray://head:10001"`` (or ``"auto"``) in the ``[ray]``
table of ``--executor-config FILE``. Other keys: ``num_cpus`` and
``num_gpus`` per run (default 1 CPU, 0 GPU), and ``connect_timeout`` (seconds,
default 30): how long to wait for a cluster at ``address`` (or ``$RAY_ADDRESS``).
An address where nothing listens is refused at once; one that accepts the
connection but never answers as Ray does is given up after ``connect_timeout``
(``ray.init`` has no deadline of its own for this, so it runs in a helper
thread that is abandoned when the deadline passes). Either way the command
ends with one ``error:`` line and exit code 2.

``--workers N`` caps the runs in flight (default: the cluster's CPUs divided
by CPUs per run). ``--timeout S`` cancels (``ray.cancel(force=True)``) a run
whose task has not returned S seconds after submission: it is stored as
``timeout``. A worker that dies (``os._exit``, OOM) makes Ray raise, and the
run is stored as ``error`` with Ray's message. The task returns its row and
curves to the driver, which alone writes the store. Plugins loaded with
``-p module`` must be importable by the Ray workers (installed, or on
``PYTHONPATH`` when Ray starts).
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time

from ..errors import UsageError
from . import Executor
from .worker import cpu_count

CONNECT_TIMEOUT = 30.0


class RayExecutor(Executor):
    name = "ray"

    def __init__(self, workers: int | None = None, timeout: float | None = None, config: dict | None = None) -> None:
        self.workers = workers
        self.timeout = timeout
        self.config = dict(config or {})
        self.connect_timeout = connect_timeout_of(self.config)
        self._refs: dict = {}  # ObjectRef -> (spec, submitted)
        self._started_ray = False
        self.slots = workers or 1

    def open(self, job) -> None:
        import ray

        super().open(job)
        if not ray.is_initialized():
            address = self.config.get("address") or os.environ.get("RAY_ADDRESS") or None
            options = dict(include_dashboard=False, log_to_driver=False, configure_logging=False)
            if address is None:  # a local Ray started here: nothing to wait for
                # "local" always starts a fresh instance: without it Ray joins any cluster another
                # process on this machine started (seen as "num_cpus must not be provided").
                ray.init(address="local", num_cpus=self.workers or cpu_count(), **options)
            else:
                connect(ray, address, self.connect_timeout, options)
            self._started_ray = True
        per_run = float(self.config.get("num_cpus", 1))
        self.slots = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1) // per_run))
        from .worker import run_one

        self._remote = ray.remote(num_cpus=per_run, num_gpus=float(self.config.get("num_gpus", 0)),
                                  max_retries=0)(run_one)
        self._threads = max(1, int(per_run))

    def submit(self, spec, options: dict) -> None:
        ref = self._remote.remote(tuple(self.job.plugin_options), spec, self.job.device, self.job.data_dir,
                                  options, self._threads)
        self._refs[ref] = (spec, time.monotonic())

    def wait(self, timeout: float | None = None) -> list[tuple]:
        import ray

        from ..runner import failure_row

        if not self._refs:
            return []
        deadlines = [t + self.timeout for _, t in self._refs.values()] if self.timeout else []
        now = time.monotonic()
        limit = min(deadlines + ([now + timeout] if timeout is not None else []), default=None)
        ready, _ = ray.wait(list(self._refs), num_returns=1, timeout=None if limit is None else max(0.0, limit - now))
        ended = []
        for ref in ready:
            spec, submitted = self._refs.pop(ref)
            try:
                row, curves = ray.get(ref)
            except Exception as exc:  # the worker died or the task could not run
                text = f"the Ray task failed: {type(exc).__name__}: {exc}"
                row, curves = failure_row(self.job.registry, spec, "error", text[-4000:],
                                          wall_s=time.monotonic() - submitted, device=self.job.device), []
            ended.append((spec, row, curves))
        if self.timeout:
            for ref, (spec, submitted) in list(self._refs.items()):
                if time.monotonic() - submitted > self.timeout:
                    del self._refs[ref]
                    ray.cancel(ref, force=True)
                    why = f"run exceeded the per-run timeout of {self.timeout:g} s; its Ray task was cancelled"
                    ended.append((spec, failure_row(self.job.registry, spec, "timeout", why,
                                                    wall_s=time.monotonic() - submitted, device=self.job.device), []))
        return ended

    def close(self) -> None:
        import ray

        for ref in list(self._refs):
            ray.cancel(ref, force=True)
        self._refs.clear()
        if self._started_ray:
            ray.shutdown()
            self._started_ray = False


def connect_timeout_of(config: dict) -> float:
    value = config.get("connect_timeout", CONNECT_TIMEOUT)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise UsageError(f"[ray] connect_timeout must be a positive, finite number of seconds (got {value!r})")
    return float(value)


def host_port(address: str) -> tuple[str, int] | None:
    """The (host, port) a Ray address names, or None for "auto"/"local" and other forms Ray resolves itself."""
    rest = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = rest.rstrip("/").rpartition(":")
    if not sep or not port.isdigit() or not host:
        return None
    return host.strip("[]"), int(port)


def connect(ray, address: str, timeout: float, options: dict) -> None:
    """``ray.init(address=...)`` with a deadline; refused with one line if the cluster cannot be reached."""
    target = host_port(address)
    if target is not None:  # nothing listening: say so now instead of retrying for minutes
        try:
            socket.create_connection(target, timeout=min(timeout, 10.0)).close()
        except OSError as exc:
            why = exc.strerror or type(exc).__name__
            raise UsageError(f"cannot reach the Ray cluster at {address}: {why} "
                             "(is `ray start --head` running there? see [ray] address)") from None
    outcome: dict = {}

    def init() -> None:
        # Ray warns that it set no SIGTERM handler off the main thread: expected here, not the user's concern.
        quiet = logging.getLogger("ray._private.worker")
        mute = _Without("SIGTERM handler is not set")
        quiet.addFilter(mute)
        try:
            ray.init(address=address, **options)
            outcome["ok"] = True
        except BaseException as exc:  # reported by the caller's thread
            outcome["error"] = exc
        finally:
            quiet.removeFilter(mute)

    worker = threading.Thread(target=init, name="regsuite-ray-connect", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise UsageError(f"Ray did not connect to {address} within {timeout:g} s "
                         "([ray] connect_timeout in --executor-config sets this)")
    if "error" in outcome:
        exc = outcome["error"]
        text = " ".join(str(exc).split()) or type(exc).__name__
        raise UsageError(f"cannot connect to the Ray cluster at {address}: {text}") from None


class _Without(logging.Filter):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def filter(self, record: logging.LogRecord) -> bool:
        return self.text not in record.getMessage()
