import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from regsuite.errors import StoreError
from regsuite.store import SCHEMA_VERSION

SCHEMA = SCHEMA_VERSION.encode()
from regsuite.store import RUNS_SCHEMA, Store


def row(run_id, value=0.5, status="ok", finished="2026-01-01T00:00:00"):
    r = {f.name: None for f in RUNS_SCHEMA}
    r.update(
        run_id=run_id, suite="vision", suite_version="1", task="vision/t", tier="smoke", method="sgd",
        seed=0, protocol="default", status=status, primary_metric="acc", primary_direction="max",
        primary_value=value, metrics=json.dumps({"acc": value}), finished_at=finished,
    )
    return r


def test_round_trip_and_dedup_keeps_the_latest(tmp_path):
    store = Store(tmp_path)
    store.append([row("a", 0.1), row("b", 0.2)], [{"run_id": "a", "step": 1, "wall_s": 0.1, "split": "train",
                                                   "metric": "loss", "value": 2.0}])
    store.append([row("a", 0.9, finished="2026-01-02T00:00:00")])
    runs = Store(tmp_path).runs()
    assert sorted(runs["run_id"]) == ["a", "b"]
    assert runs.set_index("run_id").loc["a", "primary_value"] == 0.9
    curves = Store(tmp_path).curves()
    assert curves.iloc[0]["value"] == 2.0
    # Atomic writes leave no temporary files behind.
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".")]
    assert all(pq.read_metadata(p).metadata[b"regsuite.schema_version"] == SCHEMA for p in tmp_path.rglob("*.parquet"))


def test_finished_ids_skip_errors_so_they_are_retried(tmp_path):
    store = Store(tmp_path)
    store.append([row("ok1"), row("div", status="diverged"), row("err", status="error")])
    assert store.finished_ids() == {"ok1", "div"}


def test_corrupt_and_foreign_files_are_named_and_the_rest_is_read(tmp_path):
    store = Store(tmp_path)
    store.append([row("good")])
    (tmp_path / "runs" / "broken.parquet").write_bytes(b"PAR1 this is not parquet")
    pq.write_table(pa.table({"x": [1]}), tmp_path / "runs" / "foreign.parquet")
    newer = pa.table({"x": [1]}).replace_schema_metadata({b"regsuite.table": b"runs", b"regsuite.schema_version": b"9"})
    pq.write_table(newer, tmp_path / "runs" / "newer.parquet")
    reader = Store(tmp_path)
    runs = reader.runs()
    assert list(runs["run_id"]) == ["good"]
    text = "\n".join(reader.problems)
    assert "broken.parquet is corrupt" in text
    assert "foreign.parquet is not a regsuite runs file" in text
    assert "newer.parquet has schema version 9" in text


def test_write_failure_is_a_clear_error_and_leaves_no_partial_file(tmp_path, monkeypatch):
    import regsuite.store as store_mod

    def boom(table, where, **kw):
        where.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store_mod.pq, "write_table", boom)
    with pytest.raises(StoreError, match="No space left on device"):
        Store(tmp_path).append([row("x")])
    assert list((tmp_path / "runs").iterdir()) == []


def test_finished_ids_among_a_plan_answers_as_the_whole_store_does_and_keeps_the_index_whole(tmp_path, monkeypatch):
    from regsuite import store_index
    from regsuite.store_compact import compact

    monkeypatch.setattr(store_index, "INDEX_ROWS", 3)  # files of more than 3 rows get index entries
    early, late = "2026-01-01T00:00:00", "2026-01-02T00:00:00"
    Store(tmp_path).append([row(f"r{i}") for i in range(6)] + [row("x"), row("y", status="error")])
    compact(Store(tmp_path), full=True)  # one indexed file of 8 runs
    small = Store(tmp_path)
    small.append([row("x", status="error", finished=late)])  # x's latest row is now an error: not finished
    small.append([row("y", finished=late), row("z", finished=early)])  # y retried and finished; z new
    big = [row(f"b{i}") for i in range(5)]
    small.append(big)  # a new large file the index does not know yet
    plan = {"r1", "x", "y", "z", "b2", "never-run"}

    scoped = Store(tmp_path)
    assert scoped.finished_ids(among=plan) == {"r1", "y", "z", "b2"}
    assert len(scoped._latest) == 5  # only the plan's runs were noted ("never-run" has no row)
    # The scoped refresh indexed the new large file with all its rows, not the plan's only.
    index = pq.read_table(tmp_path / "runs" / store_index.INDEX).column("run_id").to_pylist()
    assert {f"b{i}" for i in range(5)} <= set(index) and {f"r{i}" for i in range(6)} <= set(index)
    # Asking about every run re-reads: the same answer as a fresh store's, which saw everything.
    whole = Store(tmp_path).finished_ids()
    assert whole == {f"r{i}" for i in range(6)} | {"y", "z"} | {f"b{i}" for i in range(5)}
    assert scoped.finished_ids() == whole
    assert scoped.finished_ids(among={"r0", "x"}) == {"r0"}  # a full store answers any scope from memory


def test_string_arrays_built_from_buffers_equal_pyarrows_own():
    from regsuite.store_files import string_array

    for values in ([], [""], ["run-1", "é∂", "", "x" * 300]):
        assert string_array(values).equals(pa.array(values, pa.string()))
