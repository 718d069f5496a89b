"""Data parallel on CPU with gloo and two processes.

Also a test plugin (loaded with ``-p test_llm_ddp`` by the torchrun test): it adds
a four-step version of the smoke task.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from regsuite import Budget, hookimpl
from regsuite.suites.llm.tasks import StdlibTiny

TESTS = Path(__file__).resolve().parent


class DDPCheck(StdlibTiny):
    name = "test-ddp-check"
    seq_len, batch_size, val_windows, eval_batch = 32, 4, 8, 8
    budget = Budget(steps=4, eval_every=0, log_every=1, tokens=4 * 4 * 32)


@hookimpl
def regsuite_tasks():
    return [DDPCheck()]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _one_sgd_step(model, idx):
    import torch
    import torch.nn.functional as F

    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    logits = model(idx[:, :-1])
    F.cross_entropy(logits.reshape(-1, logits.shape[-1]), idx[:, 1:].reshape(-1)).backward()
    opt.step()


def _tiny_model_and_batch():
    import torch

    from regsuite.suites.llm.model import GPT, config

    torch.manual_seed(0)
    model = GPT(config("tiny", seq_len=8, n_layer=1, n_embd=32, n_head=2))
    idx = torch.randint(0, 256, (4, 9), generator=torch.Generator().manual_seed(1))
    return model, idx


def _worker(rank: int, world: int, port: int, out: str) -> None:
    import torch
    import torch.distributed as dist

    from regsuite.suites.llm import ddp

    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    info = ddp.setup(torch.device("cpu"))
    model, idx = _tiny_model_and_batch()
    if rank == 1:  # a different start on rank 1: DDP must broadcast rank 0's weights
        with torch.no_grad():
            next(model.parameters()).add_(1.0)
    half = len(idx) // world
    _one_sgd_step(ddp.wrap(model, info), idx[rank * half : (rank + 1) * half])
    assert ddp.max_param_divergence(model, info) == 0.0
    if rank == 0:
        torch.save([p.detach() for p in model.parameters()], out)
    # Both ranks leave together: a rank tearing gloo down while the other still has a pending
    # connection aborted the process (SIGABRT, "terminate called without an active exception").
    dist.barrier()
    dist.destroy_process_group()


def test_two_process_step_equals_one_process_step_on_the_whole_batch(tmp_path):
    """Mean cross-entropy over 4 sequences = the average of two halves' means, so the
    DDP-averaged gradient step must equal the single-process step on the whole batch."""
    import torch
    import torch.multiprocessing as mp

    out = tmp_path / "rank0.pt"
    mp.spawn(_worker, args=(2, _free_port(), str(out)), nprocs=2, join=True)
    model, idx = _tiny_model_and_batch()
    _one_sgd_step(model, idx)
    for got, want in zip(torch.load(out), model.parameters()):
        assert torch.allclose(got, want.detach(), atol=1e-6)


def test_torchrun_entry_runs_a_task_on_two_processes_and_rank0_stores_it(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "-m", "regsuite.suites.llm.ddp", "-p", "test_llm_ddp", "--task", "llm/test-ddp-check",
        "--method", "sgd", "--device", "cpu", "--out", str(tmp_path),
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    from regsuite.store import Store

    runs = Store(tmp_path).runs()
    assert len(runs) == 1  # rank 1 wrote nothing
    row = runs.iloc[0]
    metrics, notes = json.loads(row["metrics"]), json.loads(row["notes"])
    assert row["status"] == "ok" and notes["world_size"] == "2"
    assert metrics["replica_divergence"] == 0.0
    assert row["tokens"] == 4 * 4 * 32  # the global batch is split, so the token budget is unchanged

