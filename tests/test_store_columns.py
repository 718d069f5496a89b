"""Store.runs(columns=...): what `regsuite results` reads, and why it sees the same runs as `bench`.

Reading a subset of the columns must not let a damaged file count: only a file the index vouches for
(validated whole before, its size and mtime unchanged) is read for the wanted columns alone.
"""

import io
import json
import os
from contextlib import redirect_stdout

import pyarrow as pa
import pyarrow.parquet as pq

from regsuite.store import RUNS_SCHEMA, Store
from regsuite.store_index import validated

COLUMNS = ["task", "method", "primary_value"]


def row(run_id, value=0.5, status="ok", method="sgd", notes="{}", metrics=None, finished="2026-01-01T00:00:00"):
    r = {f.name: None for f in RUNS_SCHEMA}
    r.update(run_id=run_id, suite="vision", suite_version="1", task="vision/t", tier="smoke", method=method, seed=0,
             protocol="default", status=status, primary_metric="acc", primary_direction="max", primary_value=value,
             metrics=json.dumps(metrics if metrics is not None else {"acc": value}), notes=notes,
             finished_at=finished)
    return r


def big_store(tmp_path, n=1200):
    """One file of n rows, over the index's 1,000-row threshold: validating it (finished_ids) indexes it."""
    store = Store(tmp_path, compact_at=0)
    store.append([row(f"r{i}", value=i / 10_000) for i in range(n)])
    assert len(Store(tmp_path).finished_ids()) == n
    return store


def test_only_the_asked_columns_come_back_with_the_full_reads_values(tmp_path):
    store = Store(tmp_path)
    store.append([row("a", 0.25), row("b", 0.75, method="adamw")])
    part = Store(tmp_path).runs(columns=COLUMNS)
    # run_id and finished_at always come along: the deduplication needs them; schema order kept.
    assert list(part.columns) == ["run_id", "task", "method", "primary_value", "finished_at"]
    assert sorted(zip(part["run_id"], part["method"], part["primary_value"])) == [("a", "sgd", 0.25),
                                                                                 ("b", "adamw", 0.75)]


def test_the_latest_row_of_a_run_wins_with_columns_too(tmp_path):
    store = Store(tmp_path)
    store.append([row("a", 0.1, finished="2026-01-01T00:00:00")])
    store.append([row("a", 0.9, finished="2026-01-02T00:00:00")])
    part = Store(tmp_path).runs(columns=["primary_value"])
    assert list(part["primary_value"]) == [0.9]


def test_the_index_vouches_for_a_large_validated_file_with_its_size_and_mtime(tmp_path):
    big_store(tmp_path)
    files = [p for p in (tmp_path / "runs").iterdir() if not p.name.startswith(".")]
    assert len(files) == 1
    st = files[0].stat()
    assert validated(tmp_path / "runs") == {files[0].name: (st.st_size, st.st_mtime_ns)}


def test_a_damaged_column_outside_the_subset_still_refuses_an_unvouched_file(tmp_path):
    store = Store(tmp_path)
    store.append([row("good")])
    store.append([row("bad", notes="{not json")])  # a small file: no index entry, validated whole
    reader = Store(tmp_path)
    part = reader.runs(columns=COLUMNS)
    assert list(part["run_id"]) == ["good"]
    assert any("not JSON in the column 'notes'" in p for p in reader.problems)
    assert Store(tmp_path).finished_ids() == {"good"}  # bench agrees: the same runs count


def test_a_vouched_file_that_changed_is_validated_again(tmp_path):
    big_store(tmp_path)
    path = next(p for p in (tmp_path / "runs").iterdir() if not p.name.startswith("."))
    table = pq.read_table(path)
    notes = pa.array(["{not json"] + table.column("notes").to_pylist()[1:], pa.string())
    damaged = table.set_column(table.column_names.index("notes"), "notes", notes)
    pq.write_table(damaged.replace_schema_metadata(table.schema.metadata), path)  # same name, new size/mtime
    os.utime(path, ns=(1, 1))
    reader = Store(tmp_path)
    assert len(reader.runs(columns=COLUMNS)) == 0
    assert any("not JSON in the column 'notes'" in p for p in reader.problems)


def test_a_vouched_file_is_read_for_the_asked_columns_alone(tmp_path, monkeypatch):
    big_store(tmp_path)
    import regsuite.store as store_module

    def refuse(path):
        raise AssertionError(f"{path} was validated again although the index vouches for it")

    monkeypatch.setattr(store_module, "read_runs_file", refuse)
    part = Store(tmp_path).runs(columns=COLUMNS)
    assert len(part) == 1200 and part["primary_value"].max() == 1199 / 10_000


def test_results_reads_metrics_when_a_censored_run_needs_its_budget(tmp_path):
    """A censored time-to-target run enters the mean at its budget, which only its metrics hold:
    (4000 + 1000) / 2 = 2500 for sgd's two seeds."""
    from regsuite.cli import _print_results

    store = Store(tmp_path)
    base = dict(primary_metric="steps_to_target", primary_direction="min")
    store.append([dict(row("s0", None, metrics={"target_censored": 1.0, "target_budget_steps": 4000.0}), **base),
                  dict(row("s1", 1000.0, metrics={"target_censored": 0.0}), seed=1, **base)])
    out = io.StringIO()
    with redirect_stdout(out):
        _print_results(None, Store(tmp_path), None, "csv")
    lines = out.getvalue().splitlines()
    header, values = lines[0].split(","), lines[1].split(",")
    got = dict(zip(header, values))
    assert got["mean"] == "2500.0" and got["censored"] == "1" and got["n"] == "2"
