"""The command line with the fault-injection plugin (tests/faultplugin.py) loaded, for CLI tests.

tests/ is on sys.path (conftest.py), so ``-p faultplugin`` finds the module.
"""

from __future__ import annotations

from click.testing import CliRunner

from regsuite.cli import cli


def invoke(*args):
    return CliRunner().invoke(cli, ["-p", "faultplugin", *args])
