import math

import numpy as np
import torch

from regsuite.plan import build_plan
from regsuite.registry import build_registry
from regsuite.runner import execute_run
from regsuite.testing import assert_conformance
from regsuite_sinefit.task import mse, splits


def test_data_is_the_noisy_sine():
    data = splits()
    assert {k: v[0].shape for k, v in data.items()} == {"train": (256, 1), "val": (128, 1), "test": (256, 1)}
    x, y = data["train"]
    assert x.min() >= -math.pi and x.max() <= math.pi
    residual = (y - np.sin(x)).ravel()
    assert 0.08 < residual.std() < 0.12  # N(0, 0.1^2) noise
    assert not np.array_equal(data["train"][0][:128], data["val"][0])  # splits are independent draws


def test_mse_by_hand():
    model = torch.nn.Linear(1, 1)
    with torch.no_grad():
        model.weight.fill_(2.0)
        model.bias.fill_(0.0)
    # predictions 2 and 4 against targets 1 and 1: errors 1 and 9, mean 5
    assert mse(model, torch.tensor([[1.0], [2.0]]), torch.tensor([[1.0], [1.0]])) == 5.0


def test_task_is_discovered_and_sgd_beats_a_constant_predictor():
    reg = build_registry()
    assert "sinefit/sine-mlp" in reg.tasks and "sinefit" in reg.suites
    spec = build_plan(reg, tasks=["sine-mlp"], methods=["sgd"], seeds=1).runs[0]
    assert spec.hparams["sgd"]["lr"] == 0.02  # the task's hp_overrides
    row, curves = execute_run(reg, spec)
    assert row["status"] == "ok", row["error"]
    _, y = splits()["test"]
    constant = float(np.mean((y - y.mean()) ** 2))  # the best constant prediction's MSE, about 0.5
    assert row["primary_value"] < constant / 10
    assert {(c["split"], c["metric"]) for c in curves} >= {("train", "loss"), ("val", "mse"), ("test", "mse")}


def test_a_regularizer_conforms_on_this_task():
    assert_conformance("l2", task="sinefit/sine-mlp")
