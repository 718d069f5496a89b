"""The thread policy: small tasks (smoke, standard) run on one torch thread, full tasks keep the
process's setting, a task may pin its own count, ``--threads`` overrides, and the previous count
comes back after the run."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from regsuite import Budget, Metric, Task
from regsuite.plan import build_plan
from regsuite.runner import execute_run, run_threads


class ThreadProbe(Task):
    """Reports the torch thread count its run body sees (and nothing else)."""

    suite = "vision"
    name = "test-thread-probe"
    tier = "smoke"
    budget = Budget(steps=1)
    primary = Metric("threads", "max")
    baseline = "sgd"
    default_optimizer = "sgd"
    provides = frozenset({"classification"})

    def run(self, ctx):
        return {"threads": float(torch.get_num_threads())}


class StandardProbe(ThreadProbe):
    name = "test-thread-probe-standard"
    tier = "standard"


class FullProbe(ThreadProbe):
    name = "test-thread-probe-full"
    tier = "full"


class PinnedProbe(FullProbe):
    name = "test-thread-probe-pinned"
    threads = 2


@pytest.fixture(scope="module")
def probe_registry(registry):
    tasks = {**registry.tasks}
    for cls in (ThreadProbe, StandardProbe, FullProbe, PinnedProbe):
        tasks[cls.key()] = cls()
    return dataclasses.replace(registry, tasks=tasks)


@pytest.fixture()
def three_threads():
    """The process runs with 3 torch threads during the test (restored afterwards)."""
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    yield 3
    torch.set_num_threads(before)


def seen(reg, name, **kw) -> int:
    spec = build_plan(reg, tasks=[f"vision/{name}"], methods=["sgd"], seeds=1, tier=None).runs[0]
    row, _ = execute_run(reg, spec, **kw)
    assert row["status"] == "ok", row["error"]
    return int(json.loads(row["metrics"])["threads"])


def test_the_tier_decides_the_default_and_a_task_may_pin_its_own():
    assert ThreadProbe().cpu_threads() == 1
    assert StandardProbe().cpu_threads() == 1
    assert FullProbe().cpu_threads() is None
    assert PinnedProbe().cpu_threads() == 2


def test_the_override_wins_and_other_devices_are_left_alone():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert run_threads(ThreadProbe(), cpu, {}) == 1
    assert run_threads(ThreadProbe(), cpu, {"threads": 4}) == 4
    assert run_threads(FullProbe(), cpu, {"threads": None}) is None
    assert run_threads(FullProbe(), cpu, {"threads": 5}) == 5
    assert run_threads(ThreadProbe(), cuda, {"threads": 4}) is None


def test_runs_see_the_policy_and_the_process_gets_its_count_back(probe_registry, three_threads):
    assert seen(probe_registry, "test-thread-probe") == 1
    assert torch.get_num_threads() == 3
    assert seen(probe_registry, "test-thread-probe-standard") == 1
    assert seen(probe_registry, "test-thread-probe-full") == 3  # torch's (here: the process's) setting
    assert seen(probe_registry, "test-thread-probe-pinned") == 2
    assert seen(probe_registry, "test-thread-probe", options={"threads": 2}) == 2
    assert seen(probe_registry, "test-thread-probe-full", options={"threads": 2}) == 2
    assert torch.get_num_threads() == 3


def test_the_digits_continual_tasks_no_longer_pin_threads_themselves():
    from regsuite.suites.continual import tasks

    assert not hasattr(tasks.ContinualTask, "single_thread")
    assert tasks.SplitDigitsClass().cpu_threads() == 1 and tasks.SplitMnist().cpu_threads() is None
