"""LLM tasks through the runner: short versions of the smoke task and of the shard task."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from regsuite import Budget
from regsuite.plan import build_plan
from regsuite.runner import execute_run
from regsuite.suites.llm import corpus, shards
from regsuite.suites.llm.tasks import ALL, FinewebGPT2, StdlibMini, StdlibTiny
from regsuite.target import Target


class ShortStdlib(StdlibTiny):
    """The smoke task cut to 6 steps of 4 x 32 tokens, evaluated at steps 3 and 6."""

    name = "test-short-stdlib"
    seq_len, batch_size, val_windows, eval_batch = 32, 4, 8, 8
    budget = Budget(steps=6, eval_every=3, log_every=2, tokens=6 * 4 * 32)
    target = Target("val_loss", 100.0, "min", axis="tokens")  # reached at the first evaluation


class ShortUnreached(ShortStdlib):
    name = "test-short-unreached"
    target = Target("val_loss", 0.0, "min", axis="tokens")  # a byte model never gets there in 6 steps


class ShortMini(StdlibMini):
    """The standard task (whole standard library, warmup + cosine) cut to 8 steps of 4 x 32 tokens."""

    name = "test-short-mini"
    seq_len, batch_size, val_windows, eval_batch = 32, 4, 8, 8
    budget = Budget(steps=8, eval_every=4, log_every=2, tokens=8 * 4 * 32)


class ShortShards(FinewebGPT2):
    """The shard task on a tiny byte-vocabulary model and shards written by the test."""

    name = "test-short-shards"
    size, model_kw = "tiny", {"positions": "learned"}
    seq_len, batch_size, val_windows, eval_batch = 16, 4, 4, 4
    budget = Budget(steps=3, eval_every=0, log_every=1, tokens=3 * 4 * 16)

    def load(self, ctx):
        return shards.shard_data(ctx.data_path(self.folder), vocab_size=256)


@pytest.fixture(scope="module")
def llm_registry(registry):
    tasks = {**registry.tasks}
    for cls in (ShortStdlib, ShortShards, ShortUnreached, ShortMini):
        tasks[cls.key()] = cls()
    return dataclasses.replace(registry, tasks=tasks)


def run(reg, task, method="adamw", **kw):
    spec = build_plan(reg, tasks=[task], methods=[method], seeds=1, tier=None).runs[0]
    row, curves = execute_run(reg, spec, **kw)
    assert row["status"] == "ok", row["error"]
    return row, curves


def test_short_smoke_run_reports_the_llm_metrics_and_the_corpus(llm_registry):
    row, curves = run(llm_registry, "llm/test-short-stdlib")
    metrics, notes = json.loads(row["metrics"]), json.loads(row["notes"])
    assert row["primary_metric"] == "val_loss" and row["primary_direction"] == "min"
    assert 0 < metrics["val_loss"] < 6.0  # a byte model starts near ln 256 = 5.55
    # First evaluation (step 3 of 6, 4 x 32 tokens a step) meets the target: 3 steps, 384 tokens.
    assert metrics["target_censored"] == 0.0 and metrics["steps_to_target"] == 3.0
    assert metrics["tokens_to_target"] == 384 and metrics["samples_to_target"] == 12
    assert metrics["target_budget_tokens"] == 768
    for key in ("tokens_per_s", "max_grad_norm", "max_attn_logit", "output_logit_norm", "loss_spikes", "train_loss"):
        assert np.isfinite(metrics[key]), key
    assert "mfu" not in metrics  # CPU: no peak FLOP/s to compare against
    assert row["steps"] == 6 and row["tokens"] == 6 * 4 * 32 and row["samples"] == 24
    assert notes["corpus_fingerprint"] == corpus.stdlib_data("top").fingerprint
    assert notes["precision"] == "fp32" and notes["world_size"] == "1"
    val = [(c["step"], c["metric"]) for c in curves if c["split"] == "val"]
    assert [s for s, m in val if m == "loss"] == [3, 6]
    assert {m for _, m in val} == {"loss", "max_attn_logit", "output_logit_norm"}
    again, _ = run(llm_registry, "llm/test-short-stdlib")
    drop = lambda m: {k: v for k, v in json.loads(m).items() if k not in ("tokens_per_s", "wall_s_to_target")}  # noqa: E731
    assert drop(again["metrics"]) == drop(row["metrics"])  # same seed, same result


def test_sgd_runs_on_the_llm_task_too(llm_registry):
    row, _ = run(llm_registry, "llm/test-short-stdlib", method="sgd")
    assert json.loads(row["hparams"])["sgd"]["lr"] == StdlibTiny.hp_overrides["sgd"]["lr"]


def test_shard_task_reads_the_data_dir_and_fingerprints_the_shards(llm_registry, tmp_path):
    folder = tmp_path / "fineweb10B"
    folder.mkdir()
    rng = np.random.default_rng(0)
    shards.write_shard(folder / "fineweb_train_000001.bin", rng.integers(0, 256, 2000))
    shards.write_shard(folder / "fineweb_val_000000.bin", rng.integers(0, 256, 300))
    row, _ = run(llm_registry, "llm/test-short-shards", data_dir=tmp_path)
    notes = json.loads(row["notes"])
    assert notes["corpus_fingerprint"] == shards.shard_fingerprint(sorted(folder.glob("*.bin")))
    assert "1 train (2,000 tokens)" in notes["corpus"]


def test_every_task_provides_language_model_and_a_token_budget():
    for cls in ALL:
        assert "language_model" in cls.provides and cls.baseline == "adamw"
        assert cls.budget.tokens == cls.budget.steps * cls.batch_size * cls.seq_len


def test_listing_the_suite_does_not_import_torch():
    code = (
        "import sys; import regsuite.suites.llm as m; m.regsuite_suites(); m.regsuite_tasks();"
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_target_never_reached_is_censored_at_the_token_budget(llm_registry):
    row, _ = run(llm_registry, "llm/test-short-unreached")
    metrics = json.loads(row["metrics"])
    assert metrics["target_censored"] == 1.0 and metrics["target_budget_tokens"] == 6 * 4 * 32
    assert not [k for k in metrics if k.endswith("_to_target")]  # never the budget as a time


def test_the_standard_task_runs_end_to_end_on_the_whole_library(llm_registry):
    row, curves = run(llm_registry, "llm/test-short-mini")
    metrics, notes = json.loads(row["metrics"]), json.loads(row["notes"])
    assert row["tier"] == "standard" and 0 < metrics["val_loss"] < 6.0
    assert notes["corpus_fingerprint"] == corpus.stdlib_data("all").fingerprint
    assert json.loads(row["components"]) == ["adamw", "cosine"]  # the standard recipe's schedule
    assert json.loads(row["hparams"])["adamw"]["lr"] == 1e-3
    assert [c["step"] for c in curves if c["split"] == "val" and c["metric"] == "loss"] == [4, 8]


def test_the_standard_task_is_a_cpu_sized_budget():
    # About 1M parameters and under 1M tokens: one CPU core trains it in about a minute.
    assert StdlibMini.tier == "standard" and StdlibMini.size == "tiny"
    assert StdlibMini.budget.tokens == 300 * 16 * 128 == 614_400
    assert StdlibMini.target == Target("val_loss", 2.1, "min", axis="tokens")
