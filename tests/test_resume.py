"""Resume and consistency: SIGKILL mid-plan, concurrent benches, checkpoints of long runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from regsuite.plan import build_plan
from regsuite.registry import build_registry
from regsuite.store import Store

TESTS = Path(__file__).parent
REGSUITE = [sys.executable, "-c", "from regsuite.cli import main; main()"]


def _env():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
    env.pop("REGSUITE_CHECKPOINT_EVERY", None)
    return env


def _bench(out: Path, *args: str) -> list[str]:
    return [*REGSUITE, "-p", "faultplugin", "bench", "--task", "faults/probe", "--out", str(out), "--quiet", *args]


def _raw_rows(out: Path) -> list[str]:
    """Every run row in every file, duplicates included (what readers deduplicate)."""
    ids = []
    for path in sorted((out / "runs").glob("*.parquet")):
        ids += pq.read_table(path, columns=["run_id"]).column("run_id").to_pylist()
    return ids


def test_sigkill_mid_plan_then_rerun_completes_only_the_missing_runs(tmp_path):
    cmd = _bench(tmp_path, "--method", "nap", "--hp", "nap.seconds=0.25", "--seeds", "8")
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    seen = 0
    while seen < 3:  # watch the store while it is written: always readable
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "the bench did not store 3 runs in time"
        store = Store(tmp_path)
        seen = len(store.runs())
        assert not store.problems
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    store = Store(tmp_path)
    before = store.runs()
    assert not store.problems and 3 <= len(before) < 8
    assert sorted(_raw_rows(tmp_path)) == sorted(before["run_id"])  # nothing half-written, nothing twice

    rerun = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert f"8 runs: {len(before)} cached, {8 - len(before)} ok" in rerun.stderr
    after = Store(tmp_path).runs()
    assert len(after) == 8 and set(after["status"]) == {"ok"} and sorted(after["seed"]) == list(range(8))
    assert sorted(_raw_rows(tmp_path)) == sorted(after["run_id"])  # no row lost, none duplicated
    kept = after.set_index("run_id").loc[before["run_id"], "finished_at"]
    assert list(kept) == list(before["finished_at"])  # the runs stored before the kill were not re-run


def test_two_benches_on_one_directory_lose_nothing(tmp_path):
    """Overlapping plans at once: every run stored exactly once (claims stop the second from repeating it)."""
    a = subprocess.Popen(_bench(tmp_path, "--method", "nap", "--seeds", "5"), env=_env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    b = subprocess.Popen(_bench(tmp_path, "--method", "nap", "--seeds", "8"), env=_env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out_a, out_b = a.communicate(timeout=120), b.communicate(timeout=120)
    assert a.returncode == 0 and b.returncode == 0, (out_a[1], out_b[1])
    store = Store(tmp_path)
    df = store.runs()
    assert not store.problems
    assert len(df) == 8 and set(df["status"]) == {"ok"} and sorted(df["seed"]) == list(range(8))
    assert sorted(_raw_rows(tmp_path)) == sorted(df["run_id"])
    assert "5 runs:" in out_a[1] and "8 runs:" in out_b[1]


# ---------------------------------------------------------------- checkpoints


@pytest.fixture
def reg(monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS))
    return build_registry(["faultplugin"])


@pytest.fixture
def one_thread():
    """Tiny models on a shared machine: one torch thread avoids spin-waiting on busy cores."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_checkpoint_resume_is_exact(reg, tmp_path, one_thread):
    """Interrupted at step 250 with checkpoints every 100 steps, the resumed run equals the uninterrupted one."""
    import torch

    from regsuite.runner import execute_run

    base = build_plan(reg, tasks=["vision/digits-mlp"], methods=["sgd+fault-stop"], seeds=1).runs[0]
    every = {"checkpoint_dir": str(tmp_path / "ckpt"), "checkpoint_every_steps": 100}
    stopped = replace(base, hparams={**base.hparams, "fault-stop": {"at": 250}})

    reference, ref_curves = execute_run(reg, base)
    assert reference["status"] == "ok"
    first, _ = execute_run(reg, stopped, options=every)
    assert first["status"] == "error" and "stopped at step 250" in first["error"]
    saved = torch.load(tmp_path / "ckpt" / "last.pt", weights_only=False)
    assert saved["step"] == 200
    resumed, curves = execute_run(reg, base, options=every)
    assert resumed["status"] == "ok"
    assert resumed["metrics"] == reference["metrics"]  # bit for bit: model, optimizer, RNG and data order
    assert '"resumed_from_step": "200"' in resumed["notes"]
    assert [(c["step"], c["split"], c["metric"], c["value"]) for c in curves] == [
        (c["step"], c["split"], c["metric"], c["value"]) for c in ref_curves
    ]


def test_long_tiers_get_a_checkpoint_dir_and_it_is_removed_when_finished(reg, tmp_path, monkeypatch):
    from regsuite.checkpoint import parse_every, run_options
    from regsuite.errors import UsageError

    spec = build_plan(reg, tasks=["faults/probe"], seeds=1).runs[0]
    assert "checkpoint_dir" not in run_options({}, spec, tmp_path)  # smoke: none
    standard = replace(spec, tier="standard")
    opts = run_options({"compile": False}, standard, tmp_path)
    assert opts["checkpoint_dir"] == str(tmp_path / "checkpoints" / standard.run_id)
    assert opts["checkpoint_every_s"] == 300.0 and opts["compile"] is False
    assert parse_every("500steps") == (None, 500) and parse_every("0") == (None, None)
    monkeypatch.setenv("REGSUITE_CHECKPOINT_EVERY", "0")
    assert "checkpoint_dir" not in run_options({}, standard, tmp_path)
    with pytest.raises(UsageError):
        parse_every("often")

    from regsuite.runner import run_plan

    monkeypatch.delenv("REGSUITE_CHECKPOINT_EVERY")
    ckpt = tmp_path / "checkpoints" / standard.run_id
    ckpt.mkdir(parents=True)
    (ckpt / "last.pt").write_bytes(b"stale")
    run_plan(reg, [standard], Store(tmp_path), progress=False)
    assert Store(tmp_path).runs().iloc[0]["status"] == "ok" and not ckpt.exists()


def test_checkpoint_values_are_tensors_and_plain_containers_only():
    import collections

    import numpy as np
    import torch

    from regsuite.checkpoint import Unstorable, decode, encode

    extras = {"bank": collections.deque([1, 2], maxlen=3), "w": np.arange(3, dtype=np.float32), "seen": {4},
              "rng": ("MT19937", np.array([7, 8], dtype=np.uint32), 2)}
    coded = encode(extras)
    assert coded["bank"] == {"__regsuite_checkpoint__": "deque", "items": [1, 2], "maxlen": 3}
    assert torch.equal(coded["w"]["data"], torch.tensor([0.0, 1.0, 2.0]))
    back = decode(coded)
    assert back["bank"] == collections.deque([1, 2]) and back["bank"].maxlen == 3
    assert back["w"].tolist() == [0.0, 1.0, 2.0] and back["w"].dtype == np.float32
    assert back["seen"] == {4} and back["rng"][1].tolist() == [7, 8] and back["rng"][2] == 2
    with pytest.raises(Unstorable, match=r"state\['map'\] holds a builtins.function"):
        encode({"map": lambda x: x})


def test_a_planted_checkpoint_is_never_executed_and_a_truncated_one_restarts_the_run(reg, tmp_path, one_thread):
    import torch

    from regsuite.runner import execute_run

    base = build_plan(reg, tasks=["vision/digits-mlp"], methods=["sgd+fault-stop"], seeds=1).runs[0]
    every = {"checkpoint_dir": str(tmp_path / "ckpt"), "checkpoint_every_steps": 100}
    reference, _ = execute_run(reg, base)
    marker = tmp_path / "pwned"

    class Planted:
        def __reduce__(self):
            return (Path.touch, (marker,))

    (tmp_path / "ckpt").mkdir()
    torch.save({"step": 100, "model": Planted()}, tmp_path / "ckpt" / "last.pt")
    row, _ = execute_run(reg, base, options=every)
    assert not marker.exists()  # weights_only=False would have created it while loading
    assert row["status"] == "ok" and row["metrics"] == reference["metrics"]  # restarted from step 0
    assert "unreadable checkpoint removed, restarted from step 0" in json.loads(row["notes"])["checkpoint_discarded"]

    stopped = replace(base, hparams={**base.hparams, "fault-stop": {"at": 250}})
    (tmp_path / "ckpt" / "last.pt").unlink()  # the driver removes it once a run is stored finished
    first, _ = execute_run(reg, stopped, options=every)
    assert "stopped at step 250" in first["error"]
    ckpt = tmp_path / "ckpt" / "last.pt"
    ckpt.write_bytes(ckpt.read_bytes()[: ckpt.stat().st_size // 2])  # killed while a copy was made, disk full...
    row, _ = execute_run(reg, base, options=every)
    assert row["status"] == "ok" and row["metrics"] == reference["metrics"]
    assert "checkpoint_discarded" in json.loads(row["notes"]) and "resumed_from_step" not in json.loads(row["notes"])


def _same_curves(a, b) -> bool:
    return [(c["step"], c["split"], c["metric"], c["value"]) for c in a] == [
        (c["step"], c["split"], c["metric"], c["value"]) for c in b
    ]


def test_lawn_resumed_after_its_free_phase_keeps_the_recorded_norms(reg, tmp_path, one_thread):
    """lawn's free phase ends at step round(0.2 * 400) = 80; interrupted at 250 and resumed from the
    step-200 checkpoint, the run must project onto the norms recorded at step 80 (restarting would
    record new ones at step 201 and leave that step unconstrained)."""
    import torch

    from regsuite.runner import execute_run

    base = build_plan(reg, tasks=["vision/digits-mlp"], methods=["lawn+fault-stop"], seeds=1).runs[0]
    assert base.hparams["lawn"]["free_frac"] == 0.2
    every = {"checkpoint_dir": str(tmp_path / "ckpt"), "checkpoint_every_steps": 100}
    stopped = replace(base, hparams={**base.hparams, "fault-stop": {"at": 250}})

    reference, ref_curves = execute_run(reg, base)
    assert reference["status"] == "ok"
    first, _ = execute_run(reg, stopped, options=every)
    assert "stopped at step 250" in first["error"]
    saved = torch.load(tmp_path / "ckpt" / "last.pt", weights_only=True)
    assert saved["step"] == 200 and len(saved["methods"]["lawn"]["norms"]) >= 1  # recorded at step 80
    resumed, curves = execute_run(reg, base, options=every)
    assert resumed["status"] == "ok" and '"resumed_from_step": "200"' in resumed["notes"]
    assert resumed["metrics"] == reference["metrics"]
    assert _same_curves(curves, ref_curves)


def test_adadagrad_batch_resumed_mid_accumulation_equals_the_uninterrupted_run(reg, tmp_path, one_thread):
    """A run killed after its step-300 checkpoint, resumed: the grown accumulation count and the partial
    sums of the step in progress come back (restarting them would reset the batch to start_accum and
    drop the micro-batches already summed). The run is let finish and then re-run from its last
    checkpoint, as a kill after that save would leave it: fault-stop fires only on optimizer steps,
    which this method takes only every few micro-batches."""
    import torch

    from regsuite.runner import execute_run

    base = build_plan(reg, tasks=["vision/digits-mlp"], methods=["adadagrad-batch"], seeds=1,
                      hp=["adadagrad-batch.max_accum=8"]).runs[0]
    every = {"checkpoint_dir": str(tmp_path / "ckpt"), "checkpoint_every_steps": 100}

    reference, ref_curves = execute_run(reg, base)
    assert reference["status"] == "ok"
    first, _ = execute_run(reg, base, options=every)
    assert first["metrics"] == reference["metrics"]
    saved = torch.load(tmp_path / "ckpt" / "last.pt", weights_only=True)
    state = saved["methods"]["adadagrad-batch"]
    assert saved["step"] == 300
    assert state["accum"] > 2 and 0 < state["count"] < state["accum"]  # grown, and mid-step: both must return
    resumed, curves = execute_run(reg, base, options=every)
    assert resumed["status"] == "ok" and '"resumed_from_step": "300"' in resumed["notes"]
    assert resumed["metrics"] == reference["metrics"]
    assert _same_curves(curves, ref_curves)
