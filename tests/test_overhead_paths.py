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


def test_a_cached_bench_prints_the_general_paths_table_without_importing_pandas(tmp_path):
    """The store's cached re-check (issue 18's 1 s target): pandas alone costs 0.3 s CPU to import."""
    import os
    from pathlib import Path

    tests = str(Path(__file__).parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([tests, os.environ.get("PYTHONPATH", "")]), OMP_NUM_THREADS="1")
    bench = ["-p", "faultplugin", "bench", "--task", "faults/probe", "--method", "probe-opt", "--method", "idle-reg",
             "--seeds", "3", "--out", str(tmp_path), "--quiet"]
    first = subprocess.run([sys.executable, "-c", "from regsuite.cli import main; main()", *bench],
                           capture_output=True, text=True, env=env)
    assert first.returncode == 0, first.stderr
    code = ("import sys\nfrom regsuite.cli import main\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('pandas imported:', 'pandas' in sys.modules, file=sys.stderr)")
    cached = subprocess.run([sys.executable, "-c", code, *bench], capture_output=True, text=True, env=env)
    assert "6 cached" in cached.stderr and "pandas imported: False" in cached.stderr, cached.stderr
    assert cached.stdout == first.stdout and "idle-reg" in cached.stdout


def test_a_plans_table_on_lists_is_the_general_paths_table(tmp_path, monkeypatch):
    import regsuite.cli as cli_module

    monkeypatch.syspath_prepend(str(__import__("pathlib").Path(__file__).parent))
    bench = ["-p", "faultplugin", "bench", "--task", "faults/probe", "--method", "probe-opt", "--method", "idle-reg",
             "--seeds", "3", "--out", str(tmp_path), "--quiet"]
    assert CliRunner().invoke(cli, bench).exit_code == 0
    on_lists = CliRunner().invoke(cli, bench)
    monkeypatch.setattr(cli_module, "_plan_table", lambda *a, **k: None)  # the DataFrame path
    general = CliRunner().invoke(cli, bench)
    assert on_lists.exit_code == general.exit_code == 0
    assert on_lists.stdout == general.stdout and "idle-reg" in general.stdout


def test_a_plans_table_with_baselines_from_elsewhere_is_the_general_paths_table(tmp_path, monkeypatch):
    """A method author's bench takes the baseline's rows from results/baseline: on lists too."""
    import regsuite.baseline_rows as baseline_rows
    import regsuite.cli as cli_module

    monkeypatch.syspath_prepend(str(__import__("pathlib").Path(__file__).parent))
    committed, mine = tmp_path / "baseline", tmp_path / "mine"
    base = ["-p", "faultplugin", "bench", "--task", "faults/probe", "--method", "probe-opt", "--seeds", "3", "--quiet"]
    assert CliRunner().invoke(cli, [*base, "--out", str(committed)]).exit_code == 0
    monkeypatch.setattr(baseline_rows, "COMMITTED", committed)
    bench = ["-p", "faultplugin", "bench", "--task", "faults/probe", "--method", "idle-reg", "--seeds", "2",
             "--out", str(mine), "--quiet"]
    assert CliRunner().invoke(cli, bench).exit_code == 0
    taken = []
    real = baseline_rows.baseline_columns
    monkeypatch.setattr(baseline_rows, "baseline_columns", lambda *a: taken.append(1) or real(*a))
    on_lists = CliRunner().invoke(cli, bench)
    assert taken, "the list path did not take the baselines"
    monkeypatch.setattr(cli_module, "_plan_table", lambda *a, **k: None)  # the DataFrame path
    general = CliRunner().invoke(cli, bench)
    assert on_lists.exit_code == general.exit_code == 0
    assert on_lists.stdout == general.stdout and "probe-opt" in general.stdout and "idle-reg" in general.stdout
    assert on_lists.stderr == general.stderr and "baseline probe-opt taken from" in general.stderr


def test_baseline_columns_append_the_missing_groups_rows_once_and_refuse_a_censored_one(tmp_path):
    from regsuite.baseline_rows import baseline_columns

    class Source:
        def __init__(self, columns):
            self.columns = columns

        def run_columns(self, run_ids, names, whole=True):
            return {c: self.columns[c] for c in names}

    keys = {"suite": "s", "suite_version": "1", "task": "s/t", "tier": "smoke", "protocol": "default"}

    def rows(*specs):
        out = {c: [] for c in [*keys, "method", "run_id", "status", "primary_value"]}
        for run_id, method, status, value, task in specs:
            for c, v in {**keys, "task": task, "method": method, "run_id": run_id, "status": status,
                         "primary_value": value}.items():
                out[c].append(v)
        return out

    plan = rows(("m1", "mine", "ok", 0.5, "s/t"))
    source = Source(rows(("b1", "sgd", "ok", 0.4, "s/t"), ("x", "sgd", "ok", 0.1, "s/u"), ("b2", "sgd", "ok", 0.6, "s/t"),
                         ("m1", "sgd", "ok", 0.9, "s/t")))
    columns, added = baseline_columns(plan, {"s/t": "sgd"}, source)
    assert columns["run_id"] == ["m1", "b1", "b2"] and columns["primary_value"] == [0.5, 0.4, 0.6]
    assert added == [("s/t", "sgd", 3)]
    assert baseline_columns(plan, {"s/t": "mine"}, source) == (plan, [])  # nothing missing: nothing read
    censored = Source(rows(("b1", "sgd", "ok", None, "s/t")))
    assert baseline_columns(plan, {"s/t": "sgd"}, censored) is None


def test_borrowed_baseline_rows_are_checked_in_the_columns_read(tmp_path):
    """A source store is read for the table's columns alone; damage there is reported, never read."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from regsuite.scoring import INPUT_COLUMNS
    from regsuite.store import Store

    wanted = [c for c in INPUT_COLUMNS if c != "metrics"]
    bench = ["-p", "faultplugin", "bench", "--task", "faults/probe", "--method", "probe-opt", "--seeds", "2",
             "--out", str(tmp_path), "--quiet"]
    assert CliRunner().invoke(cli, bench).exit_code == 0

    def damage(column, values):
        for path in (tmp_path / "runs").glob("runs-*.parquet"):
            table = pq.read_table(path)
            table = table.set_column(table.column_names.index(column), column, pa.array([values] * table.num_rows,
                                                                                       pa.string()))
            pq.write_table(table, path)

    damage("notes", "{not json")  # a JSON column the table does not read
    source = Store(tmp_path)
    assert len(source.run_columns(None, wanted, whole=False)["run_id"]) == 2
    whole = Store(tmp_path)
    assert whole.runs().empty and any("not JSON" in p for p in whole.problems)  # read whole, as a store: refused
    damage("run_id", None)  # a column the table reads
    fresh = Store(tmp_path)
    assert fresh.run_columns(None, wanted, whole=False)["run_id"] == []
    assert any("without a run_id" in p for p in fresh.problems)
