"""Periodic checkpoints for long runs, and resuming from the last one.

Runs of the ``standard`` and ``full`` tiers get a checkpoint directory under
the results directory, ``DIR/checkpoints/<run_id>/``; the driver passes it in
``ctx.options["checkpoint_dir"]``. A training loop asks
:meth:`Checkpointer.for_run` for a checkpointer (None when the run has none),
restores at the start and offers a save after every step::

    ckpt = Checkpointer.for_run(ctx)
    start, train_s = ckpt.restore(state, batches) if ckpt else (0, 0.0)
    for step in range(start + 1, budget.steps + 1):
        ...
        if ckpt:
            ckpt.maybe_save(step, state, train_s)

A checkpoint holds the model, optimizer and scheduler state, the step, the
training time so far, the curves logged so far, ``state.extras`` and the
``state_dict()`` of every method that defines one, and the python, numpy and
torch (CPU and CUDA) RNG states. Resuming replays the data order by drawing
(and discarding) the batches already used, then restores the RNG states, so
a resumed run continues exactly as the uninterrupted run would have (checked
bit for bit on CPU in tests/test_resume.py). Method objects that keep state
outside ``state.extras`` and do not define ``state_dict()`` restart it.

The file is written under a temporary name and renamed, so a kill during a
save leaves the previous checkpoint intact. The driver deletes the directory
once the run is stored as finished.

Nothing read from a results directory may execute code: a checkpoint holds
only tensors and plain values (numpy arrays and deques in ``state.extras`` are
stored as tagged tensors and lists) and is read with
``torch.load(weights_only=True)``. A run whose state holds anything else (a
fitted callable, a custom object) is not checkpointed (``notes`` says why). A
checkpoint that cannot be read (truncated, foreign, or a planted pickle) is
discarded, noted in ``notes["checkpoint_discarded"]``, and the run restarts
from step 0.

How often: ``REGSUITE_CHECKPOINT_EVERY`` = seconds (default 300) or ``Nsteps``
(e.g. ``500steps``); ``0`` turns checkpoints off.
"""

from __future__ import annotations

import os
import random
import shutil
import time
from pathlib import Path

from .errors import UsageError

TIERS = ("standard", "full")
ENV = "REGSUITE_CHECKPOINT_EVERY"
DEFAULT_EVERY_S = 300.0
FILE = "last.pt"


def parse_every(text: str | None) -> tuple[float | None, int | None]:
    """``"300"`` -> (300.0 s, None); ``"50steps"`` -> (None, 50); ``"0"`` -> (None, None): off."""
    text = (text or "").strip().lower()
    if not text:
        return DEFAULT_EVERY_S, None
    try:
        if text.endswith("steps"):
            n = int(text[: -len("steps")])
            return (None, n) if n > 0 else (None, None)
        s = float(text.removesuffix("s"))
    except ValueError:
        raise UsageError(f"{ENV}={text!r}: expected seconds (e.g. 300) or steps (e.g. 500steps)") from None
    return (s, None) if s > 0 else (None, None)


def checkpoint_dir(results_dir: Path, run_id: str) -> Path:
    return Path(results_dir) / "checkpoints" / run_id


def run_options(options: dict | None, spec, results_dir: Path) -> dict:
    """The options one run gets: the plan's, plus where and how often to checkpoint (long tiers)."""
    out = dict(options or {})
    every_s, every_steps = parse_every(os.environ.get(ENV))
    if spec.tier in TIERS and (every_s or every_steps) and "checkpoint_dir" not in out:
        out["checkpoint_dir"] = str(checkpoint_dir(results_dir, spec.run_id))
        out["checkpoint_every_s"] = every_s
        out["checkpoint_every_steps"] = every_steps
    return out


def discard(spec, results_dir: Path) -> None:
    """Remove a finished run's checkpoints."""
    shutil.rmtree(checkpoint_dir(results_dir, spec.run_id), ignore_errors=True)


def _rng_state() -> dict:
    import numpy as np
    import torch

    out = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        out["cuda"] = torch.cuda.get_rng_state_all()
    return out


def _set_rng_state(saved: dict) -> None:
    import numpy as np
    import torch

    random.setstate(saved["python"])
    np.random.set_state(saved["numpy"])
    torch.set_rng_state(saved["torch"])
    if "cuda" in saved and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(saved["cuda"])


_TAG = "__regsuite_checkpoint__"


class Unstorable(TypeError):
    """A value a checkpoint cannot hold without pickling code."""


def encode(value, where: str = "state"):
    """``value`` as tensors and plain containers only (what ``weights_only=True`` reads back)."""
    import collections

    import numpy as np
    import torch

    if value is None or isinstance(value, (bool, int, float, str, bytes, torch.Tensor, torch.dtype, torch.device)):
        return value
    if isinstance(value, np.ndarray):
        return {_TAG: "ndarray", "data": torch.from_numpy(np.ascontiguousarray(value).copy())}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, collections.deque):
        return {_TAG: "deque", "items": [encode(v, where) for v in value], "maxlen": value.maxlen}
    if isinstance(value, (set, frozenset)):
        return {_TAG: "set", "items": [encode(v, where) for v in value]}
    if isinstance(value, tuple) and type(value) is tuple:
        return tuple(encode(v, where) for v in value)
    if isinstance(value, list):
        return [encode(v, where) for v in value]
    if isinstance(value, dict):
        if _TAG in value:
            raise Unstorable(f"{where} uses the reserved key {_TAG!r}")
        return {k: encode(v, f"{where}[{k!r}]") for k, v in value.items()}
    raise Unstorable(f"{where} holds a {type(value).__module__}.{type(value).__qualname__}")


def decode(value):
    import collections

    if isinstance(value, dict):
        tag = value.get(_TAG)
        if tag == "ndarray":
            return value["data"].numpy()
        if tag == "deque":
            return collections.deque((decode(v) for v in value["items"]), maxlen=value["maxlen"])
        if tag == "set":
            return {decode(v) for v in value["items"]}
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, tuple):
        return tuple(decode(v) for v in value)
    return value


class Checkpointer:
    def __init__(self, ctx, directory: Path, every_s: float | None = None, every_steps: int | None = None) -> None:
        self.ctx = ctx
        self.path = Path(directory) / FILE
        self.every_s, self.every_steps = every_s, every_steps
        self.last = time.monotonic()
        self.saves = 0
        self.disabled: str | None = None  # why this run is not checkpointed, once a save found it cannot be

    @classmethod
    def for_run(cls, ctx) -> "Checkpointer | None":
        opts = getattr(ctx, "options", None) or {}
        if not opts.get("checkpoint_dir"):
            return None
        return cls(ctx, Path(opts["checkpoint_dir"]), opts.get("checkpoint_every_s"), opts.get("checkpoint_every_steps"))

    # ------------------------------------------------------------------ save

    def maybe_save(self, step: int, state, train_s: float) -> bool:
        """Save after ``step`` if the interval has passed (never after the last step)."""
        if step >= state.budget.steps:
            return False
        due = (self.every_steps and step % self.every_steps == 0) or (
            self.every_s and time.monotonic() - self.last >= self.every_s
        )
        if not due or self.disabled:
            return False
        try:
            self.save(step, state, train_s)
        except Unstorable as exc:  # the run goes on without checkpoints rather than pickling code
            self.disabled = f"not checkpointed: {exc}"
            self.ctx.notes["checkpoint_disabled"] = self.disabled
            return False
        return True

    def save(self, step: int, state, train_s: float) -> None:
        import torch

        payload = encode({
            "step": step,
            "train_s": train_s,
            "model": state.model.state_dict(),
            "optimizer": state.optimizer.state_dict(),
            "scheduler": state.scheduler.state_dict() if state.scheduler is not None else None,
            "extras": state.extras,
            "methods": {m.name: m.state_dict() for m in state.hooks.methods if callable(getattr(m, "state_dict", None))},
            "rng": _rng_state(),
            "curves": list(self.ctx.curves),
            "counters": dict(self.ctx.counters),
        })
        self.path.parent.mkdir(parents=True, exist_ok=True)
        from .store_files import tmp_name

        tmp = tmp_name(self.path)  # names host and pid: a later bench removes it once its writer is gone
        try:
            with open(tmp, "wb") as fh:
                torch.save(payload, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        finally:
            tmp.unlink(missing_ok=True)
        self.last = time.monotonic()
        self.saves += 1

    # --------------------------------------------------------------- restore

    def restore(self, state, batches=None) -> tuple[int, float]:
        """Load the last checkpoint into ``state``; return ``(step, train_s)`` ((0, 0.0) if none)."""
        import torch

        if not self.path.exists():
            return 0, 0.0
        try:  # weights_only: a planted pickle is refused here, never executed
            saved = decode(torch.load(self.path, map_location=state.device or "cpu", weights_only=True))
            missing = {"step", "train_s", "model", "optimizer", "scheduler", "extras", "methods", "rng", "curves",
                       "counters"} - set(saved)
            if missing:
                raise KeyError(f"no {', '.join(sorted(missing))}")
        except Exception as exc:  # truncated, foreign or unsafe: start over rather than fail this run forever
            self.path.unlink(missing_ok=True)
            reason = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
            self.ctx.notes["checkpoint_discarded"] = f"unreadable checkpoint removed, restarted from step 0 ({reason})"
            return 0, 0.0
        state.model.load_state_dict(saved["model"])
        state.optimizer.load_state_dict(saved["optimizer"])
        if state.scheduler is not None and saved["scheduler"] is not None:
            state.scheduler.load_state_dict(saved["scheduler"])
        state.extras.clear()
        state.extras.update(saved["extras"])
        for m in state.hooks.methods:
            if m.name in saved["methods"] and callable(getattr(m, "load_state_dict", None)):
                m.load_state_dict(saved["methods"][m.name])
        step = int(saved["step"])
        state.step = step
        if batches is not None:  # replay the data order up to the checkpoint
            for _ in range(step):
                next(batches)
        _set_rng_state(saved["rng"])
        self.ctx.curves[:] = saved["curves"]
        self.ctx.counters.update(saved["counters"])
        self.ctx.notes["resumed_from_step"] = step
        self.last = time.monotonic()
        return step, float(saved["train_s"])
