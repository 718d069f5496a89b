"""What a one-run bench does not pay for: command modules it never runs (issue 18, harness overhead)."""

import subprocess
import sys

from click.testing import CliRunner

from regsuite.cli import LAZY_COMMANDS, cli

OTHER_COMMAND_MODULES = ["regsuite.scaffold", "regsuite.check", "regsuite.site_cli", "regsuite.tune", "regsuite.show",
                         "regsuite.leaderboard"]


def test_starting_the_cli_imports_no_other_commands_module():
    code = ("import sys; import regsuite.cli; "
            f"print([m for m in {OTHER_COMMAND_MODULES!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_lazy_command_is_found_under_its_name_and_listed():
    ctx = cli.make_context("regsuite", ["--help"], resilient_parsing=True)
    assert set(LAZY_COMMANDS) <= set(cli.list_commands(ctx))
    for name in LAZY_COMMANDS:
        assert cli.get_command(ctx, name).name == name
    out = CliRunner().invoke(cli, ["--help"])
    listed = [line.split()[0] for line in out.output.split("Commands:")[1].splitlines() if line.strip()]
    assert listed == sorted(listed) and {"bench", "results", "tune", "site", "leaderboard", "plugin"} <= set(listed)


def test_a_typo_is_answered_with_the_close_lazy_command():
    out = subprocess.run([sys.executable, "-c", "from regsuite.cli import main; main()", "leaderbord"],
                         capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr.strip() == "error: No such command 'leaderbord'. Did you mean 'leaderboard'?"
