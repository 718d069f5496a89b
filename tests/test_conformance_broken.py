"""Conformance names the cause of a broken plugin: a failed import, a left-out method, an unmarked
hook, a name conflict; `plugin check` fails on each (exit 1) instead of passing or suggesting
another plugin."""

import textwrap

import pytest
from click.testing import CliRunner

from regsuite.cli import cli
from regsuite.errors import UsageError
from regsuite.registry import build_registry
from regsuite.testing import conformance, plugin_problems, unmarked_hooks


def test_a_hook_without_hookimpl_fails_metadata():
    import unmarked_hook_plugin as plugin

    assert unmarked_hooks(plugin.UnmarkedPenalty) == [
        "regsuite_after_stepp is neither marked @hookimpl nor a run hook; did you mean regsuite_after_step?",
        "regsuite_penalty is not marked @hookimpl, so it is never called (decorate it with regsuite.hookimpl)",
    ]
    # Refused at registration, so it can never run silently doing nothing; conformance says why.
    reg = build_registry(("unmarked_hook_plugin",))
    assert "unmarked-penalty" not in reg.methods
    with pytest.raises(UsageError) as err:
        conformance(["unmarked-penalty"], reg=reg)
    assert "regsuite_penalty is not marked @hookimpl" in str(err.value)


def test_unknown_method_names_why_its_plugin_left_it_out():
    reg = build_registry(("malformed.bad_methods",))
    with pytest.raises(UsageError) as err:
        conformance(["malformed-misspelled"], reg=reg)
    text = str(err.value)
    assert text.startswith("unknown method 'malformed-misspelled'")
    assert "it was left out: plugin 'malformed.bad_methods': method 'malformed-misspelled' has invalid " \
           "metadata: implements unknown hook 'regsuite_penalti'; did you mean regsuite_penalty?" in text


def test_unknown_method_lists_plugins_that_failed_to_import():
    reg = build_registry(("malformed.bad_import",))
    with pytest.raises(UsageError) as err:
        conformance(["not-a-method-anywhere"], reg=reg)
    assert "plugins that failed to load (one may provide it): plugin 'malformed.bad_import': failed to import " \
           "malformed.bad_import: ModuleNotFoundError" in str(err.value)


def test_plugin_check_on_a_plugin_that_failed_to_import_says_so():
    out = CliRunner().invoke(cli, ["-p", "malformed.bad_import", "plugin", "check", "malformed.bad_import"])
    assert out.exit_code == 1, out.output
    assert "FAIL plugin 'malformed.bad_import': failed to import malformed.bad_import: ModuleNotFoundError" \
        in out.output
    assert "did you mean" not in out.output
    assert "0 methods, 0 checks passed, 0 failed, 1 plugin problems" in out.output


def test_plugin_check_without_argument_fails_when_a_plugin_failed_to_load():
    out = CliRunner().invoke(cli, ["-p", "malformed.bad_import", "plugin", "check"])
    assert out.exit_code == 1, out.output
    assert "FAIL plugin 'malformed.bad_import': failed to import" in out.output
    assert "all passed" not in out.output


def test_plugin_in_a_name_conflict_fails_its_check():
    reg = build_registry(("malformed.bad_methods",))
    problems = plugin_problems(reg, "malformed.bad_methods")
    assert any(p.startswith("plugin 'malformed.bad_methods': method 'sgd' is provided by 2 plugins")
               for p in problems), problems
    # the built-in side of the conflict is regsuite's, so a bare check names only the third party
    assert not any(p.startswith("plugin 'optimizers'") for p in plugin_problems(reg))
    out = CliRunner().invoke(cli, ["-p", "malformed.bad_methods", "plugin", "check", "malformed.bad_methods"])
    assert out.exit_code == 1
    assert "FAIL plugin 'malformed.bad_methods': method 'sgd' is provided by 2 plugins" in out.output
    assert "FAIL plugin 'malformed.bad_methods': method 'malformed-family' has invalid metadata" in out.output


BROKEN_PACKAGE = {
    "pyproject.toml": """
        [build-system]
        requires = ["setuptools>=64"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "regsuite-broken"
        version = "0.1.0"
        dependencies = ["regsuite"]

        [project.entry-points.regsuite]
        brokenhook = "regsuite_broken"
        brokenimport = "regsuite_broken.needs_missing"

        [tool.setuptools]
        packages = ["regsuite_broken"]
    """,
    "regsuite_broken/__init__.py": """
        from regsuite import Citation, Method, hookimpl


        class Penalty(Method):
            '''A penalty whose hook name is misspelled.'''

            name = "broken-penalty"
            family = "regularizer"
            citation = Citation("t", "a", 2024, "https://example.org")

            @hookimpl
            def regsuite_penalti(self, model, outputs, batch, state):
                return None


        @hookimpl
        def regsuite_methods():
            return [Penalty]
    """,
    "regsuite_broken/needs_missing.py": "import regsuite_dependency_that_is_not_installed\n",
    "tests/test_it.py": """
        from regsuite.testing import assert_conformance


        def test_conformance():
            assert_conformance("broken-penalty")
    """,
}


def test_installed_broken_plugins_fail_with_their_cause(tmp_path_factory):
    from test_plugin_experience import REGSUITE, pip_install, run, venv

    python = venv.__wrapped__(tmp_path_factory)
    src = tmp_path_factory.mktemp("broken")
    for rel, text in BROKEN_PACKAGE.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(textwrap.dedent(text).lstrip())
    pip_install(python, src)
    tests = run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", cwd=src)
    assert tests.returncode == 1
    # pytest's output carries the real cause, not only "unknown method"
    assert "implements unknown hook 'regsuite_penalti'; did you mean regsuite_penalty?" in tests.stdout
    bare = run(python, *REGSUITE, "plugin", "check")
    assert bare.returncode == 1, bare.stdout + bare.stderr
    assert "FAIL plugin 'brokenimport': failed to import regsuite_broken.needs_missing: ModuleNotFoundError" \
        in bare.stdout
    assert "FAIL plugin 'brokenhook': method 'broken-penalty' has invalid metadata" in bare.stdout
    named = run(python, *REGSUITE, "plugin", "check", "brokenimport")
    assert named.returncode == 1 and "failed to import regsuite_broken.needs_missing" in named.stdout
    by_dist = run(python, *REGSUITE, "plugin", "check", "regsuite-broken")
    assert by_dist.returncode == 1
    assert "FAIL plugin 'brokenimport'" in by_dist.stdout and "FAIL plugin 'brokenhook'" in by_dist.stdout
