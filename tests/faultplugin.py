"""A test plugin (loaded with ``-p faultplugin``): methods that fail on purpose, and a probe task.

Methods:
* ``fault-diverge``: a penalty that is NaN, so the loss becomes non-finite;
* ``fault-boom``: raises in ``run_start`` (a plugin bug);
* ``fault-hang``: sleeps for an hour in ``run_start``;
* ``fault-crash``: ``os._exit(3)`` in ``run_start`` (kills its process);
* ``fault-stop``: raises in ``after_step`` during step ``at`` (0: never), like a kill mid-run;
* ``nap``: sleeps ``seconds`` in ``run_start`` (to make runs overlap in time);
* ``probe-opt``: the probe task's "optimizer", whose only hyperparameter is ``lr``.

Task ``faults/probe`` (smoke) trains nothing: its loss is a closed-form function
of ``probe-opt.lr`` plus the run's penalties, and its validation and test scores
peak at different learning rates (val at lr = 1e-2, test at lr = 10^-0.5), so a
tuner that looked at the test metric would choose differently. It imports no
torch and runs in microseconds.
"""

from __future__ import annotations

import math
import os
import time

from regsuite import Budget, Citation, LogUniform, Method, Metric, Suite, Task, Uniform, hookimpl

CITE = Citation("regsuite fault-injection fixtures", "regsuite tests", 2026, "https://example.org/regsuite-tests")


class Diverge(Method):
    """Adds NaN to the loss."""

    name = "fault-diverge"
    family = "regularizer"
    citation = CITE

    @hookimpl
    def regsuite_penalty(self, model, outputs, batch, state):
        return float("nan") if outputs is None else outputs.sum() * float("nan")


class DivergeAt(Method):
    """Adds NaN to the loss from step ``at`` on (state.step counts completed steps)."""

    name = "fault-diverge-at"
    family = "regularizer"
    citation = CITE
    defaults = {"at": 30}

    @hookimpl
    def regsuite_penalty(self, model, outputs, batch, state):
        if state.step + 1 < self.hp["at"]:
            return None
        return outputs.sum() * float("nan")


class Boom(Method):
    """Raises in run_start."""

    name = "fault-boom"
    family = "procedure"
    citation = CITE

    @hookimpl
    def regsuite_run_start(self, model, state):
        raise RuntimeError("boom: a bug in a plugin")


class Hang(Method):
    """Never returns from run_start."""

    name = "fault-hang"
    family = "procedure"
    citation = CITE

    @hookimpl
    def regsuite_run_start(self, model, state):
        time.sleep(3600)


class Crash(Method):
    """Kills its own process without cleanup."""

    name = "fault-crash"
    family = "procedure"
    citation = CITE

    @hookimpl
    def regsuite_run_start(self, model, state):
        os._exit(3)


class Stop(Method):
    """Raises during step ``at``."""

    name = "fault-stop"
    family = "procedure"
    citation = CITE
    defaults = {"at": 0}

    @hookimpl
    def regsuite_after_step(self, model, state):
        if state.step + 1 == self.hp["at"]:  # state.step counts the steps already completed
            raise RuntimeError(f"stopped at step {self.hp['at']}")


class Nap(Method):
    """Sleeps before training."""

    name = "nap"
    family = "procedure"
    citation = CITE
    defaults = {"seconds": 0.3}

    @hookimpl
    def regsuite_run_start(self, model, state):
        time.sleep(self.hp["seconds"])


class IdleReg(Method):
    """A constant penalty: at its default weight 0 it changes nothing (a method that never acts)."""

    name = "idle-reg"
    family = "regularizer"
    citation = CITE
    defaults = {"weight": 0.0}
    space = {"weight": Uniform(0.0, 1.0)}

    @hookimpl
    def regsuite_penalty(self, model, outputs, batch, state):
        return self.hp["weight"]


class ProbeOpt(Method):
    """The probe task's optimizer: a learning rate and nothing else."""

    name = "probe-opt"
    family = "optimizer"
    citation = CITE
    defaults = {"lr": 0.1, "spare": 0.5}
    space = {"lr": LogUniform(1e-4, 1.0), "spare": Uniform(0.0, 1.0)}

    @hookimpl
    def regsuite_configure_optimizer(self, model, budget):
        return ("probe-opt", self.hp["lr"])


class Probe(Task):
    suite = "faults"
    name = "probe"
    tier = "smoke"
    description = "closed-form loss of probe-opt.lr; validation and test optima differ"
    budget = Budget(steps=1)
    primary = Metric("test_score", "max")
    validation = Metric("val_score", "max")
    baseline = "probe-opt"
    default_optimizer = "probe-opt"

    def run(self, ctx):
        for call in ctx.hooks.run_start:
            call(model=None, state=None)
        x = math.log10(ctx.hparams["probe-opt"]["lr"])
        loss = (x + 2.0) ** 2
        for call in ctx.hooks.penalty:
            extra = call(model=None, outputs=None, batch=None, state=None)
            if extra is not None:
                loss += extra
        ctx.log(1, "train", "loss", loss)
        ctx.check_finite(loss)
        ctx.counters.update(steps=1, samples=1, train_s=0.0)
        ctx.counters["state_mem_mb"] = 0.0
        return {"val_score": -loss, "test_score": -((x + 0.5) ** 2)}


@hookimpl
def regsuite_methods():
    return [Diverge, DivergeAt, Boom, Hang, Crash, Stop, Nap, IdleReg, ProbeOpt]


@hookimpl
def regsuite_suites():
    return [Suite("faults", "1", "fault-injection fixtures", default_methods=("probe-opt",), default_seeds=1)]


@hookimpl
def regsuite_tasks():
    return [Probe()]
