"""The CLI through click's test runner: listings, bench, results formats, and refusals (exit 2)."""

import json

import pytest
from click.testing import CliRunner

from regsuite.cli import cli


@pytest.fixture
def runner():
    return CliRunner()


def invoke(runner, *args):
    return runner.invoke(cli, ["-p", "fixture_plugin", *args], catch_exceptions=False)


def test_listings(runner):
    out = invoke(runner, "list", "methods")
    assert out.exit_code == 0
    assert "sam" in out.output and "Pierre Foret et al. 2021" in out.output
    fam = invoke(runner, "list", "methods", "--family", "optimizer").output
    assert "adamw" in fam and "label-smoothing" not in fam
    tasks = invoke(runner, "list", "tasks", "--suite", "vision").output
    assert "digits-mlp" in tasks and "cifar100-resnet18" in tasks and "vectors" not in tasks
    suites = invoke(runner, "list", "suites").output
    assert "vision" in suites and "fixture" in suites
    plugins = invoke(runner, "plugins").output
    assert "optimizers" in plugins and "regsuite.plugins.optimizers" in plugins


def test_bench_then_results_in_every_format(runner, tmp_path):
    out = invoke(runner, "bench", "--task", "fixture/vectors", "--method", "sgd", "--method", "sgd+l2",
                 "--seeds", "2", "--out", str(tmp_path), "--quiet")
    assert out.exit_code == 0, out.output
    assert "sgd+l2" in out.output and "± " in out.output
    again = invoke(runner, "bench", "--task", "fixture/vectors", "--method", "sgd", "--method", "sgd+l2",
                   "--seeds", "2", "--out", str(tmp_path), "--quiet")
    assert "4 cached" in again.output
    as_json = json.loads(invoke(runner, "results", "--results", str(tmp_path), "--format", "json").output)
    assert {r["method"] for r in as_json} == {"sgd", "sgd+l2"}
    base = next(r for r in as_json if r["method"] == "sgd")
    assert base["n"] == 2 and base["delta_pct"] == 0.0 and base["rank"] in (1, 2)
    csv = invoke(runner, "results", "--results", str(tmp_path), "--format", "csv").output
    assert csv.splitlines()[0].startswith("suite,suite_version,task")
    md = invoke(runner, "results", "--results", str(tmp_path), "--format", "markdown").output
    assert md.splitlines()[1].startswith("|---")


def test_progress_reports_runs_done_and_eta(runner, tmp_path):
    out = runner.invoke(cli, ["-p", "fixture_plugin", "bench", "--task", "fixture/vectors", "--seeds", "2",
                              "--out", str(tmp_path)])
    assert "[1/2] sgd on fixture/vectors seed 0" in out.output and "ETA" in out.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["bench", "--method", "samm"], "unknown method 'samm'; did you mean sam"),
        (["bench", "--task", "digits-mpl"], "unknown task 'digits-mpl'; did you mean"),
        (["bench", "--suite", "visoin"], "unknown suite 'visoin'; did you mean vision"),
        (["bench", "--task", "digits-mlp", "--hp", "sgd.lr=-1"], "outside"),
        (["bench", "--task", "digits-mlp", "--hp", "sgd.lr"], "malformed"),
        (["bench", "--task", "digits-mlp", "--method", "sam+fixture-own-step"], "both implement"),
        (["bench", "--task", "fixture/vectors", "--method", "cutout"], "cutout needs images"),
        (["bench", "--task", "cifar10-cnn", "--tier", "standard", "--data-dir", "/nonexistent"],
         "CIFAR-10 not found: /nonexistent/cifar-10-batches-py lacks data_batch_1"),
        (["results", "--results", "/nonexistent/results"], "does not exist"),
        (["list", "tasks", "--suite", "nope"], "unknown suite 'nope'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(runner, args, message, tmp_path):
    out = runner.invoke(cli, ["-p", "fixture_plugin", *args, *(["--out", str(tmp_path)] if args[0] == "bench" else [])])
    assert out.exit_code == 2, out.output
    assert "Traceback" not in out.output
    error_lines = [ln for ln in out.output.splitlines() if ln.startswith("error:")]
    assert len(error_lines) == 1 and message in error_lines[0], out.output
    assert not list(tmp_path.rglob("*.parquet"))  # refused before any run


def test_results_names_a_corrupt_file_shows_the_rest_and_exits_2(runner, tmp_path):
    invoke(runner, "bench", "--task", "fixture/vectors", "--seeds", "1", "--out", str(tmp_path), "--quiet")
    (tmp_path / "runs" / "bad.parquet").write_text("garbage")
    out = runner.invoke(cli, ["-p", "fixture_plugin", "results", "--results", str(tmp_path)])
    assert out.exit_code == 2
    assert "fixture/vectors" in out.output
    assert "bad.parquet is corrupt" in out.output


def test_console_script_exit_code_and_message():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", "from regsuite.cli import main; main()", "bench", "--method", "nope"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == ["error: unknown method 'nope'"] or out.stderr.startswith("error: unknown method")


def test_threads_option_sets_torch_threads(runner, tmp_path):
    import torch

    before = torch.get_num_threads()
    try:
        out = invoke(runner, "bench", "--task", "fixture/vectors", "--seeds", "1", "--threads", "1",
                     "--out", str(tmp_path), "--quiet")
        assert out.exit_code == 0, out.output
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    bad = runner.invoke(cli, ["bench", "--threads", "0"])
    assert bad.exit_code == 2


# ------------------------------------------------------------------ every bad input: one line, exit 2 (table)

LONG = "a" * 300
# (arguments, a phrase the one error line must contain). {tmp}: an empty folder; {file}: a plain file;
# {store}: a results store; {bad_cfg}/{bad_toml}/{odd_cfg}: executor configs with a non-numeric threads,
# broken TOML, an unknown setting.
BAD_INPUT = [
    (["bnch"], "No such command 'bnch'. Did you mean 'bench'?"),
    (["--nope"], "No such option '--nope'"),
    (["list", "methds"], "No such command 'methds'"),
    (["site", "biuld"], "No such command 'biuld'"),
    (["plugin", "neww"], "No such command 'neww'"),
    (["results", "show-me"], "No such command 'show-me'"),
    (["bench", "--seeds"], "Option '--seeds' requires an argument"),
    (["bench", "--seeds", "x"], "Invalid value for '--seeds'"),
    (["bench", "--seeds", "0"], "Invalid value for '--seeds'"),
    (["bench", "--seeds", "1001"], "Invalid value for '--seeds'"),
    (["bench", "--tier", "huge"], "Invalid value for '--tier'"),
    (["bench", "--device", "tpu"], "Invalid value for '--device'"),
    (["bench", "--precision", "fp8"], "Invalid value for '--precision'"),
    (["bench", "--threads", "0"], "Invalid value for '--threads'"),
    (["bench", "--threads", "many"], "Invalid value for '--threads'"),
    (["bench", "--out", ""], "must name a folder"),
    (["bench", "--out", "{file}"], "is a file"),
    (["bench", "--out", "{file}/sub"], "is a file, not a folder"),
    (["bench", "--out", LONG], "300 bytes long; the limit is 255"),
    (["bench", "--out", "{tmp}/" + LONG + "/x"], "the limit is 255"),
    (["bench", "--out", "caf\udce9"], "is not valid UTF-8"),
    (["bench", "--data-dir", "{file}"], "Invalid value for '--data-dir'"),
    (["bench", "--method", "samm", "--out", "{tmp}"], "unknown method 'samm'; did you mean sam"),
    (["bench", "--task", "digits-mpl", "--out", "{tmp}"], "unknown task 'digits-mpl'"),
    (["bench", "--suite", "visoin", "--out", "{tmp}"], "unknown suite 'visoin'; did you mean vision"),
    (["bench", "--task", "digits-mlp", "--hp", "sgd.lr", "--out", "{tmp}"], "malformed"),
    (["bench", "--task", "digits-mlp", "--hp", "sgd.lr=-1", "--out", "{tmp}"], "outside"),
    (["bench", "--executor", "nope"], "Invalid value for '--executor'"),
    (["bench", "--executor", "process", "--workers", "0", "--out", "{tmp}"], "--workers must be at least 1"),
    (["bench", "--executor", "process", "--workers", "two"], "Invalid value for '--workers'"),
    (["bench", "--executor", "process", "--timeout", "nan", "--out", "{tmp}"], "and finite (got nan)"),
    (["bench", "--executor", "process", "--timeout", "inf", "--out", "{tmp}"], "and finite (got inf)"),
    (["bench", "--executor", "process", "--timeout", "-1", "--out", "{tmp}"], "positive number of seconds"),
    (["bench", "--executor", "process", "--timeout", "0", "--out", "{tmp}"], "positive number of seconds"),
    (["bench", "--executor", "process", "--timeout", "1e9", "--out", "{tmp}"], "more than a year"),
    (["bench", "--executor", "process", "--timeout", "soon"], "Invalid value for '--timeout'"),
    (["bench", "--timeout", "5", "--out", "{tmp}"], "--timeout needs an executor that can stop a run"),
    (["bench", "--executor", "process", "--executor-config", "{tmp}/none.toml", "--out", "{tmp}"],
     "cannot read executor config"),
    (["bench", "--executor", "process", "--executor-config", "{bad_cfg}", "--out", "{tmp}"],
     "[process] threads must be a whole number >= 1 (got 'x')"),
    (["bench", "--executor", "process", "--executor-config", "{bad_toml}", "--out", "{tmp}"], "is not valid TOML"),
    (["bench", "--executor", "process", "--executor-config", "{odd_cfg}", "--out", "{tmp}"],
     "unknown [process] setting(s) cores"),
    (["check"], "Missing option '--baseline'"),
    (["check", "--baseline", "{store}"], "Missing option '--candidate'"),
    (["check", "--baseline", "{store}", "--candidate", "{store}", "--alpha", "nan"], "'nan' is not a finite number"),
    (["check", "--baseline", "{store}", "--candidate", "{store}", "--alpha", "0"], "must be > 0"),
    (["check", "--baseline", "{store}", "--candidate", "{store}", "--alpha", "1"], "must be < 1"),
    (["check", "--baseline", "{store}", "--candidate", "{store}", "--alpha", "x"], "'x' is not a number"),
    (["check", "--baseline", "{store}", "--candidate", "{store}", "--tolerance", "nan"], "not a finite number"),
    (["check", "--baseline", "{store}", "--candidate", "{store}", "--tolerance", "inf"], "not a finite number"),
    (["check", "--baseline", "{store}", "--candidate", "{store}", "--tolerance", "-0.1"], "must be >= 0"),
    (["check", "--baseline", "{store}", "--candidate", "{store}", "--tolerance", "2"], "must be <= 1"),
    (["results", "--results", "{tmp}/missing"], "does not exist"),
    (["results", "--results", "{store}", "--suite", "suite9"], "unknown suite 'suite9'; did you mean 'suite0'"),
    (["results", "--results", "{store}", "--suite", "visoin"], "unknown suite 'visoin'; did you mean 'vision'"),
    (["results", "--results", "{store}", "--task", "task-0"], "unknown task 'task-0'; did you mean"),
    (["results", "--results", "{store}", "--format", "xml"], "Invalid value for '--format'"),
    (["results", "compact", "--results", "{tmp}"], "holds no results"),
    (["list", "methods", "--family", "optimiser"], "unknown family 'optimiser'; did you mean 'optimizer'?"),
    (["list", "tasks", "--tier", "smok"], "Invalid value for '--tier'"),
    (["list", "tasks", "--suite", "nope"], "unknown suite 'nope'"),
    (["site", "build", "--out", ""], "not empty, not the current directory"),
    (["site", "build", "--results", "{store}", "--out", "{store}"], "is a folder that is not a regsuite site"),
    (["site", "build", "--results", "{tmp}/missing", "--out", "{tmp}/o"], "does not exist"),
    (["site", "build", "--results", "{store}", "--out", "{file}"], "is a file"),
    (["plugin", "new", "sgd", "--dir", "{tmp}/p"], "a method called 'sgd' already exists"),
    (["plugin", "new", "Bad_Name", "--dir", "{tmp}/p"], "must be lowercase letters and digits"),
    (["plugin", "new", "a" * 70, "--dir", "{tmp}/p"], "use at most 64"),
    (["plugin", "new", "fine-name", "--dir", "{file}/p"], "could not write the plugin"),
    (["plugin", "new"], "Missing argument 'NAME'"),
    (["tune"], "Missing option '--task'"),
    (["tune", "--task", "digits-mlp", "--trials", "0"], "Invalid value for '--trials'"),
    (["tune", "--task", "digits-mlp", "--sampler", "grid"], "Invalid value for '--sampler'"),
    (["tune", "--task", "digits-mlp", "--out", ""], "must name a folder"),
    (["tune", "--task", "digits-mpl", "--out", "{tmp}"], "unknown task 'digits-mpl'"),
]


@pytest.fixture(scope="module")
def bad_input_paths(tmp_path_factory):
    from regsuite.site.synthetic import write_synthetic

    root = tmp_path_factory.mktemp("bad-input")
    (root / "file.txt").write_text("a file, not a folder")
    write_synthetic(root / "store", n_runs=20, suites=1, tasks_per_suite=2, seeds=2, curve_points=2)
    (root / "bad.toml").write_text('[process]\nthreads = "x"\n')
    (root / "broken.toml").write_text("[process\n")
    (root / "odd.toml").write_text("[process]\ncores = 2\n")
    return {"file": root / "file.txt", "store": root / "store", "bad_cfg": root / "bad.toml",
            "bad_toml": root / "broken.toml", "odd_cfg": root / "odd.toml"}


def test_the_bad_input_table_is_large():
    assert len(BAD_INPUT) >= 60


@pytest.mark.parametrize("args, message", BAD_INPUT, ids=[" ".join(a)[:60] for a, _ in BAD_INPUT])
def test_every_bad_input_is_one_error_line_and_exit_2(runner, bad_input_paths, tmp_path, args, message):
    subst = {**{k: str(v) for k, v in bad_input_paths.items()}, "tmp": str(tmp_path)}
    argv = [a.format(**subst) if "{" in a else a for a in args]
    out = runner.invoke(cli, ["-p", "fixture_plugin", *argv])
    assert out.exit_code == 2, out.output
    assert "Traceback" not in out.output and "Usage:" not in out.output
    lines = [ln for ln in out.stderr.splitlines() if not ln.startswith("warning:")]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], out.output
    assert not list(tmp_path.rglob("*.parquet"))  # refused before any run


def test_ctrl_c_prints_the_documented_line_and_exits_130(runner, monkeypatch):
    import regsuite.cli as cli_mod

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_mod, "_print_results", interrupted)
    out = runner.invoke(cli, ["results", "--results", "results/baseline"])
    assert out.exit_code == 130
    # click ends the ^C line first; then the one documented line
    assert out.stderr.strip() == "interrupted; finished runs are stored, re-run the same command to resume"
