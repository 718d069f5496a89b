"""Per-run hook dispatch and the mutable training state passed to run hooks."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable

from .hookspec import FIRSTRESULT_RUN_HOOKS

RUN_HOOKS = (
    "regsuite_select_training_data",
    "regsuite_run_start",
    "regsuite_configure_optimizer",
    "regsuite_configure_scheduler",
    "regsuite_transform_batch",
    "regsuite_loss",
    "regsuite_penalty",
    "regsuite_after_backward",
    "regsuite_train_step",
    "regsuite_after_step",
    "regsuite_on_experience_start",
    "regsuite_on_experience_end",
    "regsuite_run_end",
)


def _caller(impl) -> Callable[..., Any]:
    """A direct call to one hook implementation, passing only the arguments it declares."""
    fn, names = impl.function, tuple(impl.argnames)

    def call(**kwargs):
        return fn(**{k: kwargs[k] for k in names})

    return call


class RunHooks:
    """The run's hook implementations, resolved once, in composition order.

    Each attribute (``transform_batch``, ``penalty``, ...) is a tuple of callables
    taking keyword arguments; an empty tuple means no method implements the hook,
    so loops test it once and skip the call entirely.
    """

    def __init__(self, manager, methods: list) -> None:
        self.manager = manager
        self.methods = methods
        order = {id(m): i for i, m in enumerate(methods)}
        for hook in RUN_HOOKS:
            impls = getattr(manager.hook, hook).get_hookimpls()
            impls = sorted(impls, key=lambda impl: order.get(id(impl.plugin), len(order)))
            setattr(self, hook.removeprefix("regsuite_"), tuple(_caller(i) for i in impls))

    def first(self, hook: str, **kwargs) -> Any:
        """Call a firstresult hook; None when nobody implements it."""
        impls = getattr(self, hook)
        return impls[0](**kwargs) if impls else None

    def each(self, hook: str, **kwargs) -> list:
        return [call(**kwargs) for call in getattr(self, hook)]

    def claimants(self, hook: str) -> list[str]:
        return [
            m.name
            for m in self.methods
            if any(impl.plugin is m for impl in getattr(self.manager.hook, hook).get_hookimpls())
        ]


def firstresult_conflicts(manager, methods) -> dict[str, list[str]]:
    hooks = RunHooks.__new__(RunHooks)
    hooks.manager, hooks.methods = manager, methods
    out = {}
    for hook in FIRSTRESULT_RUN_HOOKS:
        names = hooks.claimants(hook)
        if len(names) > 1:
            out[hook] = names
    return out


@dataclass
class TrainState:
    """What run hooks see and may change during training.

    ``forward`` and ``task_loss`` are set by the task's loop; step procedures
    use :meth:`forward_loss`, :meth:`backward` (or :meth:`transform_gradients`)
    and :meth:`optimizer_step` so they compose with the other methods of the run.

    **One optimizer step, several passes.** A step procedure may run several
    forward passes per step (SAM two, GAM four). The first :meth:`forward_loss`
    of a step is its *primary* pass, at the weights the optimizer steps from;
    every later one, and any pass inside ``with state.probing():``, is a *probe*
    (perturbed weights, finite differences). :attr:`probe` tells hooks which one
    is running. State a method keeps across steps (past predictions, domain
    weights, moving averages, memory banks) is read in every pass, computed from
    the primary pass only (``if not state.probe``) and committed once per step in
    ``regsuite_after_step``, so a probe evaluates the same step objective at other
    weights. Normalisation running statistics (BatchNorm) are restored after each
    probe, so they too advance once per step. Gradient transforms run once per
    step, on the gradient the optimizer applies (:meth:`transform_gradients`);
    a second call in one step, or a second :meth:`optimizer_step`, is an error.
    """

    model: Any
    hooks: RunHooks
    ctx: Any  # RunContext
    budget: Any
    forward: Callable[[Any, dict], Any] | None = None
    task_loss: Callable[[Any, dict], Any] | None = None
    optimizer: Any = None
    scheduler: Any = None
    # Optimizer steps finished so far; it advances once per step, after the step.
    step: int = 0
    batch: dict | None = None
    experience: Any = None
    device: Any = None
    # Free space for methods (filters, snapshots, buffers); key by method name.
    extras: dict = field(default_factory=dict)
    # Per-step bookkeeping of the pass contract (see the class docstring); keyed by ``step``
    # so that no reset is needed and a restored checkpoint starts clean.
    _probe: bool = field(default=False, init=False, repr=False)
    _probing: int = field(default=0, init=False, repr=False)
    _primary_at: int = field(default=-1, init=False, repr=False)
    _transformed_at: int = field(default=-1, init=False, repr=False)
    _stepped_at: int = field(default=-1, init=False, repr=False)

    def __post_init__(self) -> None:
        states = getattr(self.ctx, "states", None)
        if isinstance(states, list):
            states.append(self)

    @property
    def seed(self) -> int:
        return self.ctx.seed

    @property
    def probe(self) -> bool:
        """True while the running pass is a probe (not the step's primary pass): per-step
        state may be read, but must not be computed or committed from it."""
        return self._probe or self._probing > 0

    @contextmanager
    def probing(self):
        """Mark the passes inside as probes (e.g. a procedure whose first pass is already at
        perturbed weights). Passes after the step's primary pass are probes without it."""
        self._probing += 1
        try:
            yield self
        finally:
            self._probing -= 1

    def loss_of(self, outputs, batch):
        """The task loss, or the loss method's replacement."""
        hooks = self.hooks
        loss = None
        if hooks.loss:
            loss = hooks.loss[0](outputs=outputs, batch=batch, state=self)
        if loss is None:
            loss = self.task_loss(outputs, batch)
        if hooks.penalty:
            for call in hooks.penalty:
                extra = call(model=self.model, outputs=outputs, batch=batch, state=self)
                if extra is not None:
                    loss = loss + extra
        return loss

    def forward_loss(self, batch):
        """Forward pass, loss (with loss hook) and penalties. Returns ``(loss, outputs)``.

        The step's first call (outside :meth:`probing`) is its primary pass; later calls are probes,
        during which :attr:`probe` is True and normalisation statistics are left as they were.
        """
        primary = self._probing == 0 and self._primary_at != self.step
        if primary:
            self._primary_at = self.step
            outputs = self.forward(self.model, batch)
            return self.loss_of(outputs, batch), outputs
        previous, self._probe = self._probe, True
        try:
            with frozen_norm_statistics(self.model):
                outputs = self.forward(self.model, batch)
            return self.loss_of(outputs, batch), outputs
        finally:
            self._probe = previous

    def transform_gradients(self) -> None:
        """Run the gradient transforms (``regsuite_after_backward``) on ``p.grad``: once per
        step, on the gradient the optimizer applies, with the weights where the optimizer
        steps from. Intermediate gradients of a procedure use plain ``loss.backward()``."""
        if self._transformed_at == self.step:
            raise RuntimeError(
                f"gradient transforms ran twice in step {self.step}: a step procedure calls "
                "state.backward/transform_gradients only for the gradient the optimizer applies "
                "(use loss.backward() for intermediate gradients)"
            )
        self._transformed_at = self.step
        for call in self.hooks.after_backward:
            call(model=self.model, state=self)

    def backward(self, loss) -> None:
        """Backward of the loss whose gradient the optimizer applies, then the gradient transforms."""
        loss.backward()
        self.transform_gradients()

    def optimizer_step(self) -> None:
        if self._stepped_at == self.step:
            raise RuntimeError(f"optimizer_step called twice in step {self.step}: one optimizer step per train step")
        self._stepped_at = self.step
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        for call in self.hooks.after_step:
            call(model=self.model, state=self)

    def zero_grad(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)

    def default_step(self, batch):
        """One plain step: zero grad, forward, loss, backward, transforms, optimizer step."""
        self.zero_grad()
        loss, _ = self.forward_loss(batch)
        self.backward(loss)
        self.optimizer_step()
        return loss

    def train_step(self, batch):
        """Transform the batch, then take one step (a method's own, or the default)."""
        # A fresh step: passes or transforms outside train_step (an initial loss) do not count.
        self._primary_at = self._transformed_at = self._stepped_at = -1
        for call in self.hooks.transform_batch:
            out = call(batch=batch, state=self)
            if out is not None:
                batch = out
        self.batch = batch
        if self.hooks.train_step:
            loss = self.hooks.train_step[0](state=self)
        else:
            loss = self.default_step(batch)
        self.step += 1
        return loss

    def setup_optimizer(self) -> None:
        """run_start, then optimizer and scheduler from the hooks."""
        for call in self.hooks.run_start:
            call(model=self.model, state=self)
        self.optimizer = self.hooks.first("configure_optimizer", model=self.model, budget=self.budget)
        if self.optimizer is None:
            raise RuntimeError("no method of the run configures an optimizer")
        self.scheduler = self.hooks.first("configure_scheduler", optimizer=self.optimizer, budget=self.budget)

    def finish(self) -> dict[str, float]:
        extra: dict[str, float] = {}
        for call in self.hooks.run_end:
            out = call(model=self.model, state=self)
            if out:
                extra.update({k: float(v) for k, v in out.items()})
        return extra


@contextmanager
def frozen_norm_statistics(model):
    """Leave the running statistics of normalisation layers (BatchNorm and kin) as they were
    before the block: a probe pass in train mode must not advance them a second time.

    The layers update copies inside the block; the original buffers are put back untouched
    (restoring them in place would invalidate tensors autograd saved for the backward pass).
    """
    import torch

    swapped = []
    for module in model.modules() if isinstance(model, torch.nn.Module) else ():
        if isinstance(module, torch.nn.modules.batchnorm._NormBase) and module.track_running_stats:
            originals = {name: buf for name, buf in module._buffers.items() if buf is not None}
            for name, buf in originals.items():
                module._buffers[name] = buf.clone()
            swapped.append((module, originals))
    try:
        yield
    finally:
        for module, originals in swapped:
            module._buffers.update(originals)


def state_memory_mb(state) -> float | None:
    """Bytes held by parameters, gradients and optimizer state (comparable across devices).

    Optimizer state is walked recursively (lists of preconditioner factors, nested dicts) and
    through wrappers that hold inner optimizers (Lookahead, Muon+AdamW containers); each tensor
    storage is counted once.
    """
    if state is None or state.model is None:
        return None
    import torch

    seen: set[int] = set()

    def size(obj, depth: int = 0) -> int:
        if depth > 6:
            return 0
        if torch.is_tensor(obj):
            try:
                key = obj.untyped_storage().data_ptr()
            except RuntimeError:  # tensors without storage (e.g. meta)
                return 0
            if key in seen or obj.numel() == 0:
                return 0
            seen.add(key)
            return obj.untyped_storage().nbytes()
        if isinstance(obj, dict):
            return sum(size(v, depth + 1) for v in obj.values())
        if isinstance(obj, (list, tuple)):
            return sum(size(v, depth + 1) for v in obj)
        return 0

    total = 0
    for p in state.model.parameters():
        total += size(p) + size(p.grad)
    optimizers, pending = [], [state.optimizer]
    while pending:
        opt = pending.pop()
        if opt is None or any(opt is o for o in optimizers):
            continue
        optimizers.append(opt)
        for attr in ("optimizer", "base_optimizer", "optimizers"):
            inner = getattr(opt, attr, None)
            if isinstance(inner, (list, tuple)):
                pending.extend(inner)
            elif inner is not None and hasattr(inner, "state"):
                pending.append(inner)
    for opt in optimizers:
        total += size(dict(getattr(opt, "state", {})))
    return total / 2**20
