"""A run id names exactly what produced it: each component's method version and providing distribution."""

import dataclasses
import json
from importlib.metadata import version

import pytest

from regsuite.plan import build_plan
from regsuite.registry import build_registry

REGSUITE = version("regsuite")


@pytest.fixture(scope="module")
def reg():
    return build_registry(("plan_fixture_plugin",))


def test_producers_name_each_component_version_and_distribution(reg):
    run = build_plan(reg, tasks=["digits-mlp"], methods=["plan-dropper"], seeds=1).runs[0]
    # plan-dropper (version "3") comes from a module loaded with -p; sgd from regsuite itself.
    sgd = reg.method("sgd").version  # declared by the optimizer's owner, bumped with its behaviour
    assert run.components == ("plan-dropper", "sgd")
    assert run.producers == (
        ("plan-dropper", "3", "-p plan_fixture_plugin", ""),
        ("sgd", sgd, "regsuite", REGSUITE),
    )
    assert run.canonical()["producers"] == [
        ["plan-dropper", "3", "-p plan_fixture_plugin", ""],
        ["sgd", sgd, "regsuite", REGSUITE],
    ]


def test_bumping_a_method_version_changes_the_run_id(reg, monkeypatch):
    before = build_plan(reg, tasks=["digits-mlp"], methods=["sgd"], seeds=1).runs[0]
    monkeypatch.setattr(reg.method("sgd"), "version", "2")
    after = build_plan(reg, tasks=["digits-mlp"], methods=["sgd"], seeds=1).runs[0]
    assert before.hparams == after.hparams and before.canonical()["task"] == after.canonical()["task"]
    assert after.producers == (("sgd", "2", "regsuite", REGSUITE),)
    assert after.run_id != before.run_id


def test_another_distribution_version_changes_the_run_id(reg):
    before = build_plan(reg, tasks=["digits-mlp"], methods=["sgd"], seeds=1).runs[0]
    upgraded = dataclasses.replace(reg, loaded=dataclasses.replace(reg.loaded, plugins=[
        dataclasses.replace(p, version="99.0") if p.distribution == "regsuite" else p for p in reg.loaded.plugins
    ]))
    after = build_plan(upgraded, tasks=["digits-mlp"], methods=["sgd"], seeds=1).runs[0]
    assert after.producers == (("sgd", reg.method("sgd").version, "regsuite", "99.0"),)
    assert after.run_id != before.run_id


def test_same_configuration_from_another_provider_is_another_run():
    mine = build_registry(("plan_fixture_plugin",))
    twin = build_registry(("plan_twin_plugin",))
    a = build_plan(mine, tasks=["digits-mlp"], methods=["plan-twin"], seeds=1).runs[0]
    b = build_plan(twin, tasks=["digits-mlp"], methods=["plan-twin"], seeds=1).runs[0]
    # Everything a user sees is equal: task, method, version, hyperparameters, seed ...
    assert (a.task, a.components, a.hparams, a.seed) == (b.task, b.components, b.hparams, b.seed)
    assert a.producers[0] == ("plan-twin", "1", "-p plan_fixture_plugin", "")
    assert b.producers[0] == ("plan-twin", "1", "-p plan_twin_plugin", "")
    # ... but they were produced by different code, so neither may be served as the other's cached result.
    assert a.run_id != b.run_id


def test_the_run_row_records_versions_and_providers(reg):
    from regsuite.runner import failure_row

    run = build_plan(reg, tasks=["digits-mlp"], methods=["plan-dropper"], seeds=1).runs[0]
    row = failure_row(reg, run, "error", "not run")
    assert json.loads(row["method_versions"]) == {"plan-dropper": "3", "sgd": reg.method("sgd").version}
    assert json.loads(row["method_providers"]) == {
        "plan-dropper": {"distribution": "-p plan_fixture_plugin", "version": ""},
        "sgd": {"distribution": "regsuite", "version": REGSUITE},
    }


def test_a_worker_with_other_plugins_refuses_the_run(reg):
    from regsuite.runner import build_hooks

    run = build_plan(reg, tasks=["digits-mlp"], methods=["plan-twin"], seeds=1).runs[0]
    twin = build_registry(("plan_twin_plugin",))
    with pytest.raises(RuntimeError, match="planned with.*install the same plugin versions"):
        build_hooks(twin, run)


def test_a_result_of_an_older_method_version_is_not_a_cache_hit(tmp_path, monkeypatch):
    from regsuite.runner import run_plan
    from regsuite.store import Store

    reg = build_registry(("fixture_plugin",))
    store = Store(tmp_path)
    plan = lambda: build_plan(reg, tasks=["fixture/vectors"], methods=["sgd"], seeds=1).runs  # noqa: E731
    first = run_plan(reg, plan(), store, progress=False)
    again = run_plan(reg, plan(), store, progress=False)
    assert (first["ok"], again["cached"], again["ok"]) == (1, 1, 0)
    old = reg.method("sgd").version
    monkeypatch.setattr(reg.method("sgd"), "version", "99")  # the rule changed: the old result must not serve
    bumped = run_plan(reg, plan(), store, progress=False)
    assert (bumped["cached"], bumped["ok"]) == (0, 1)
    versions = sorted(json.loads(v)["sgd"] for v in Store(tmp_path).runs()["method_versions"])
    assert versions == sorted([old, "99"])
