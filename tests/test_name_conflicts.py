"""Two plugins providing the same method, task or suite name: refused, never one picked silently."""

import pytest
from click.testing import CliRunner

from regsuite.cli import cli
from regsuite.errors import UsageError
from regsuite.plan import build_plan
from regsuite.registry import build_registry

BOTH = ("plan_fixture_plugin", "plan_twin_plugin")


@pytest.fixture(scope="module")
def reg():
    return build_registry(BOTH)


def test_the_conflict_is_recorded_for_each_kind_of_name(reg):
    assert reg.conflicts == {
        ("method", "plan-twin"): ["plan_fixture_plugin", "plan_twin_plugin"],
        ("task", "planfix/scheduled"): ["plan_fixture_plugin", "plan_twin_plugin"],
        ("suite", "planfix"): ["plan_fixture_plugin", "plan_twin_plugin"],
    }
    assert "plan-twin" not in reg.methods and "planfix/scheduled" not in reg.tasks and "planfix" not in reg.suites
    # The rest of both plugins stays usable.
    assert {"plan-plain", "plan-dropper", "plan-self-scheduled"} <= set(reg.methods)


def test_a_conflicting_method_is_one_line_naming_both_and_how_to_block_one(reg):
    with pytest.raises(UsageError) as exc:
        build_plan(reg, tasks=["digits-mlp"], methods=["plan-twin"], seeds=1)
    assert str(exc.value) == (
        "method 'plan-twin' is provided by 2 plugins, "
        "plugin 'plan_fixture_plugin' (module plan_fixture_plugin, loaded with -p) and "
        "plugin 'plan_twin_plugin' (module plan_twin_plugin, loaded with -p); "
        "none is used: block all but one with -p no:plan_fixture_plugin or -p no:plan_twin_plugin"
    )
    assert "\n" not in str(exc.value)


def test_a_conflict_with_a_built_in_names_the_distribution(monkeypatch):
    import types
    import sys

    from regsuite import Citation, Fidelity, Method, hookimpl

    class FakeSam(Method):
        """Not SAM."""

        name = "sam"
        family = "procedure"
        citation = Citation("x", "y", 2024, "https://example.org")
        fidelity = Fidelity.faithful("paper")

    module = types.ModuleType("impostor_plugin")
    module.regsuite_methods = hookimpl(lambda: [FakeSam])
    monkeypatch.setitem(sys.modules, "impostor_plugin", module)
    reg = build_registry(("impostor_plugin",))
    from importlib.metadata import version

    with pytest.raises(UsageError, match=(
        r"^method 'sam' is provided by 2 plugins, plugin 'procedures' \(distribution regsuite "
        + version("regsuite").replace(".", r"\.")
        + r"\) and plugin 'impostor_plugin' \(module impostor_plugin, loaded with -p\); none is used: "
        r"block all but one with -p no:procedures or -p no:impostor_plugin$"
    )):
        reg.method("sam")
    assert reg.method("asam").name == "asam"  # the rest of the built-in plugin is still there


def test_conflicting_task_and_suite_are_refused_on_use(reg):
    with pytest.raises(UsageError, match="task 'planfix/scheduled' is provided by 2 plugins"):
        reg.task("scheduled")
    with pytest.raises(UsageError, match="task 'planfix/scheduled' is provided by 2 plugins"):
        build_plan(reg, tasks=["planfix/scheduled"], methods=["sgd"])
    with pytest.raises(UsageError, match="suite 'planfix' is provided by 2 plugins"):
        build_plan(reg, suites=["planfix"], methods=["sgd"])


def test_commands_that_do_not_touch_the_name_work_and_plugins_lists_it():
    runner = CliRunner()
    p = [a for name in BOTH for a in ("-p", name)]
    listed = runner.invoke(cli, [*p, "list", "methods", "--family", "optimizer"])
    assert listed.exit_code == 0 and "plan-plain" in listed.output
    assert "warning: method 'plan-twin' is provided by 2 plugins" in listed.stderr
    plugins = runner.invoke(cli, [*p, "plugins"])
    assert plugins.exit_code == 0
    assert "conflict: suite 'planfix' is provided by 2 plugins" in plugins.stdout
    bench = runner.invoke(cli, [*p, "bench", "--task", "digits-mlp", "--method", "plan-twin", "--quiet"])
    assert bench.exit_code == 2
    assert bench.stderr.strip().splitlines()[-1].startswith("error: method 'plan-twin' is provided by 2 plugins")


def test_blocking_one_resolves_the_conflict():
    reg = build_registry((*BOTH, "no:plan_twin_plugin"))
    assert reg.conflicts == {}
    assert reg.provider("plan-twin")["plugin"] == "plan_fixture_plugin"
    assert reg.task("planfix/scheduled").baseline == "plan-plain"


def test_the_same_class_or_an_equal_suite_from_two_plugins_is_no_conflict(monkeypatch):
    import sys
    import types

    import plan_fixture_plugin as first
    from regsuite import Suite, hookimpl

    module = types.ModuleType("reexport_plugin")
    module.regsuite_methods = hookimpl(lambda: [first.Twin])
    module.regsuite_suites = hookimpl(lambda: [Suite(name="planfix", version="7", default_methods=("plan-plain",),
                                                     default_seeds=1)])
    monkeypatch.setitem(sys.modules, "reexport_plugin", module)
    reg = build_registry(("plan_fixture_plugin", "reexport_plugin"))
    assert reg.conflicts == {}
    assert reg.method("plan-twin") is first.Twin and reg.method_plugin["plan-twin"] == "plan_fixture_plugin"
