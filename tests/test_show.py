"""`regsuite show NAME`: a method's or a task's metadata, as one block of aligned lines."""

import pytest
from click.testing import CliRunner

from regsuite.cli import cli

P = ["-p", "plan_fixture_plugin"]


def show(*args):
    return CliRunner().invoke(cli, [*args])


def test_show_a_method():
    out = show(*P, "show", "plan-dropper")
    assert out.exit_code == 0, out.output
    assert out.stdout.splitlines() == [
        "method           plan-dropper",
        "family           regularizer",
        "summary          A regularizer with a probability, to test hard limits apart from the tuning range.",
        'citation         Nobody 2024, "A test method", https://example.org',
        "fidelity         faithful (paper): a fixture for the plan tests",
        "version          3",
        "provider         plugin plan_fixture_plugin (module plan_fixture_plugin, loaded with -p)",
        "hooks            regsuite_penalty",
        "requires         nothing",
        "hyperparameters  default; tuning range; values it can take (--hp, hp_overrides)",
        "  p              default 0.1; tuned over uniform(0.0, 0.5); valid: >= 0 and <= 1",
    ]


def test_show_an_optimizer_says_whether_it_schedules_itself_and_lists_untuned_hyperparameters():
    out = show(*P, "show", "plan-self-scheduled").stdout.splitlines()
    words = [" ".join(ln.split()) for ln in out]  # alignment is checked in test_show_a_method
    assert words[9:] == [
        "schedules itself yes: no default schedule is added",
        "hyperparameters default; tuning range; values it can take (--hp, hp_overrides)",
        "lr default 0.1; tuned over loguniform(0.001, 1.0); valid: > 0",
        "nesterov default False; not tuned; valid: any bool",
        "note default 'x'; not tuned; valid: any str",
        "steps_per_cycle default 10; not tuned; valid: any int",
    ]
    assert out[-1].startswith("  steps_per_cycle  default")  # the longest key sets the column


def test_show_a_task():
    out = show(*P, "show", "scheduled")
    assert out.exit_code == 0, out.output
    assert out.stdout.splitlines() == [
        "task               planfix/scheduled",
        "suite              planfix (version 7)",
        "tier               smoke",
        "description        A fixture task whose default schedule is cosine.",
        "provider           plugin plan_fixture_plugin (module plan_fixture_plugin, loaded with -p)",
        "budget             20 steps, evaluated every 10 steps",
        "data               no local files needed",
        "primary metric     accuracy (max)",
        "validation metric  val_accuracy (max)",
        "secondary metrics  loss",
        "baseline           plan-plain",
        "default optimizer  plan-plain",
        "default schedule   cosine",
        "provides           classification",
        "hp_overrides       plan-dropper: p=0.9; plan-plain: lr=0.5",
    ]


def test_show_a_task_with_local_data_and_a_target_loss():
    cifar = show("show", "cifar10-cnn").stdout
    assert "data               local files, checked before a run (--data-dir or $REGSUITE_DATA)" in cifar
    tiny = show("show", "stdlib-tiny").stdout
    assert any(ln.startswith("target ") and "threshold=2.3" in ln and "axis='tokens'" in ln for ln in tiny.splitlines())


@pytest.mark.parametrize("args, message", [
    (["show", "plan-droper"], "error: unknown method or task 'plan-droper'; did you mean plan-dropper"),
    (["show", "digits-mpl"], "error: unknown method or task 'digits-mpl'; did you mean digits-mlp"),
    (["-p", "plan_twin_plugin", "show", "plan-twin"], "error: method 'plan-twin' is provided by 2 plugins"),
    (["-p", "plan_twin_plugin", "show", "scheduled"], "error: task 'planfix/scheduled' is provided by 2 plugins"),
])
def test_unknown_or_conflicting_names_are_one_line_and_exit_2(args, message):
    out = show(*P, *args)
    assert out.exit_code == 2 and "Traceback" not in out.output
    errors = [ln for ln in out.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(message), out.output
