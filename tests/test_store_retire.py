"""`regsuite results retire`: finals of a superseded selection leave the board, and nothing is lost."""

from __future__ import annotations

import json

from faults_cli import invoke as _invoke

from regsuite.store import Store


def test_finals_of_a_superseded_selection_move_to_superseded_with_their_curves(tmp_path):
    assert _invoke("tune", "--task", "faults/probe", "--trials", "3", "--seeds", "2", "--out", str(tmp_path),
                   "--quiet").exit_code == 0
    assert _invoke("bench", "--task", "faults/probe", "--seeds", "1", "--out", str(tmp_path), "--quiet").exit_code == 0
    before = Store(tmp_path).runs()
    assert sorted(before["protocol"]) == ["default", "tuned:sobol-3+default", "tuned:sobol-3+default"]

    # Nothing is stale while the record names the stored finals.
    res = _invoke("results", "retire", "--results", str(tmp_path))
    assert res.exit_code == 0 and "moved 0 runs" in res.stderr

    # The selection is revised (e.g. a new selection rule picked another trial): the two finals are stale.
    record_file = next((tmp_path / "tuning" / "selections").glob("*.json"))
    record = json.loads(record_file.read_text())
    other = next(t for t in record["trial_runs"] if t["hparams"] != record["selected"]["hparams"])
    record["selected"]["hparams"] = other["hparams"]
    record_file.write_text(json.dumps(record))

    dry = _invoke("results", "retire", "--results", str(tmp_path), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "faults/probe probe-opt (tuned:sobol-3+default): 2 runs superseded" in dry.stderr and "would move 2" in dry.stderr
    assert len(Store(tmp_path).runs()) == 3  # a dry run moves nothing

    res = _invoke("results", "retire", "--results", str(tmp_path))
    assert res.exit_code == 0 and "moved 2 runs" in res.stderr
    after, moved = Store(tmp_path).runs(), Store(tmp_path / "superseded").runs()
    assert list(after["protocol"]) == ["default"]  # the defaults track is untouched
    assert sorted(moved["run_id"]) == sorted(before[before["protocol"] != "default"]["run_id"])
    assert set(Store(tmp_path / "superseded").curves()["run_id"]) == set(moved["run_id"])
    assert not set(Store(tmp_path).curves()["run_id"]) & set(moved["run_id"])
    assert not Store(tmp_path).problems and not Store(tmp_path / "superseded").problems
    # Moved once: a second retire finds nothing.
    assert "moved 0 runs" in _invoke("results", "retire", "--results", str(tmp_path)).stderr


def test_retire_refuses_a_folder_without_results_and_a_damaged_record(tmp_path):
    res = _invoke("results", "retire", "--results", str(tmp_path))
    assert res.exit_code == 2 and res.stderr.strip() == f"error: {tmp_path} holds no results (no runs/ folder)"
    assert _invoke("tune", "--task", "faults/probe", "--trials", "2", "--seeds", "1", "--out", str(tmp_path),
                   "--quiet").exit_code == 0
    record_file = next((tmp_path / "tuning" / "selections").glob("*.json"))
    record_file.write_text("{not json")
    res = _invoke("results", "retire", "--results", str(tmp_path))
    assert res.exit_code == 2 and "unreadable tuning record" in res.stderr and res.stderr.strip().endswith("nothing was moved")
    assert res.stderr.count("\n") == 1
    assert len(Store(tmp_path).runs()) == 1


def test_off_board_pairs_retire_their_tuned_rows_only():
    import pandas as pd

    from regsuite.store_retire import stale_ids

    runs = pd.DataFrame({
        "run_id": ["a", "b", "c", "d"],
        "task": ["v/cnn", "v/cnn", "v/cnn", "v/mlp"],
        "method": ["muon", "muon", "sgd", "muon"],
        "protocol": ["tuned:sobol-6+default", "default", "tuned:sobol-6+default", "tuned:sobol-6+default"],
        "hparams": ['{"muon": {"lr": 0.02}}', "{}", '{"sgd": {"lr": 0.1}}', '{"muon": {"lr": 0.02}}'],
        "suite_version": ["1", "1", "1", "1"],
    })
    chosen = {("v/cnn", "sgd", "tuned:sobol-6+default"): '{"sgd": {"lr": 0.5}}'}  # c's selection changed
    assert stale_ids(runs, chosen) == {"c": ("v/cnn", "sgd", "tuned:sobol-6+default")}
    # muon off the cnn board: its tuned row goes, its defaults-track row and its mlp row stay
    assert stale_ids(runs, chosen, off_board={("v/cnn", "muon")}) == {
        "a": ("v/cnn", "muon", "tuned:sobol-6+default"), "c": ("v/cnn", "sgd", "tuned:sobol-6+default")}


def test_rows_of_an_older_task_version_retire_whatever_their_protocol():
    import pandas as pd

    from regsuite.store_retire import stale_ids

    runs = pd.DataFrame({
        "run_id": ["a", "b", "c", "d"],
        "task": ["v/mlp", "v/mlp", "v/mlp", "v/cnn"],
        "method": ["sgd", "sgd", "l2", "sgd"],
        "protocol": ["tuned:sobol-6+default", "default", "tuned:sobol-6+default", "default"],
        "hparams": ["{}"] * 4,
        "suite_version": ["1", "1", "1+task2", "1"],
    })
    # v/mlp is at revision 2 of suite version 1; v/cnn unrevised; a task the registry does not know stays.
    current = {"v/mlp": "1+task2", "v/cnn": "1"}
    assert stale_ids(runs, {}, current=current) == {"a": ("v/mlp", "sgd", "tuned:sobol-6+default"),
                                                    "b": ("v/mlp", "sgd", "default")}
    assert stale_ids(runs, {}, current={"v/cnn": "2"}) == {"d": ("v/cnn", "sgd", "default")}
    assert stale_ids(runs, {}) == {}


def test_a_task_off_the_leaderboard_retires_every_row_whatever_its_protocol():
    import pandas as pd

    from regsuite.store_retire import stale_ids

    runs = pd.DataFrame({
        "run_id": ["a", "b", "c"],
        "task": ["ot/solver-300", "ot/solver-300", "ot/solver-200"],
        "method": ["sinkhorn-log", "emd", "emd"],
        "protocol": ["default", "tuned:sobol-6+default", "tuned:sobol-6+default"],
        "hparams": ["{}"] * 3,
        "suite_version": ["1+task3"] * 3,
    })
    assert stale_ids(runs, {}, off_tasks=frozenset({"ot/solver-300"})) == {
        "a": ("ot/solver-300", "sinkhorn-log", "default"), "b": ("ot/solver-300", "emd", "tuned:sobol-6+default")}


def test_an_off_leaderboard_task_leaves_with_its_selection_records(tmp_path):
    from regsuite.store_retire import retire

    assert _invoke("tune", "--task", "faults/probe", "--trials", "2", "--seeds", "2", "--out", str(tmp_path),
                   "--quiet").exit_code == 0
    assert _invoke("bench", "--task", "faults/probe", "--seeds", "1", "--out", str(tmp_path), "--quiet").exit_code == 0
    record_file = next((tmp_path / "tuning" / "selections").glob("*.json"))
    report = retire(tmp_path, off_tasks=frozenset({"faults/probe"}))
    assert report["runs"] == 3 and len(Store(tmp_path).runs()) == 0
    assert len(Store(tmp_path / "superseded").runs()) == 3
    assert not record_file.exists()
    assert (tmp_path / "superseded" / "tuning" / "selections" / record_file.name).exists()


def test_an_off_board_method_leaves_with_its_selection_record(tmp_path):
    from regsuite.store_retire import retire

    assert _invoke("tune", "--task", "faults/probe", "--trials", "2", "--seeds", "2", "--out", str(tmp_path),
                   "--quiet").exit_code == 0
    assert _invoke("bench", "--task", "faults/probe", "--seeds", "1", "--out", str(tmp_path), "--quiet").exit_code == 0
    record_file = next((tmp_path / "tuning" / "selections").glob("*.json"))
    report = retire(tmp_path, off_board={("faults/probe", "probe-opt")})
    assert report["stale"] == {("faults/probe", "probe-opt", "tuned:sobol-2+default"): 2} and report["runs"] == 2
    assert list(Store(tmp_path).runs()["protocol"]) == ["default"]  # the defaults track stays
    assert not record_file.exists()
    assert (tmp_path / "superseded" / "tuning" / "selections" / record_file.name).exists()
