"""The data-selection hook (regsuite_select_training_data, train_supervised) and Data Diet.

Every expected value is worked out by hand (or from stepkit's numpy softmax and gradients), never
from the code under test.
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from regsuite import Budget, Citation, Method, hookimpl
from regsuite.context import RunContext
from regsuite.loop import infinite_batches, train_supervised
from regsuite.plugins.data_selection import DataDiet, el2n_scores, grand_scores, keep_hardest
from regsuite.selection import SelectionError, TrainingSet, check_indices
from stepkit import B0, LR, W0, X, Y, Linear, grads, hooks_of, probs

CITE = Citation("A test method", "Nobody", 2024, "https://example.org")
LN2 = math.log(2.0)

# Three hand-built examples for a bias-free linear model with W = [[1, 0], [0, 1], [0, 0]]:
#   x=(0, 0),   y=0: logits (0, 0, 0),   p = (1/3, 1/3, 1/3), p - e_y = (-2/3, 1/3, 1/3),  |.| = sqrt(6)/3
#   x=(ln2, 0), y=0: logits (ln2, 0, 0), p = (1/2, 1/4, 1/4), p - e_y = (-1/2, 1/4, 1/4),  |.| = sqrt(3/8)
#   x=(0, ln2), y=2: logits (0, ln2, 0), p = (1/4, 1/2, 1/4), p - e_y = (1/4, 1/2, -3/4),  |.| = sqrt(7/8)
THREE = {"x": torch.tensor([[0.0, 0.0], [LN2, 0.0], [0.0, LN2]], dtype=torch.float64),
         "y": torch.tensor([0, 0, 2])}
EL2N_THREE = [math.sqrt(6) / 3, math.sqrt(3 / 8), math.sqrt(7 / 8)]


def bias_free(W=((1.0, 0.0), (0.0, 1.0), (0.0, 0.0))):
    model = torch.nn.Linear(2, 3, bias=False, dtype=torch.float64)
    with torch.no_grad():
        model.weight.copy_(torch.tensor(W, dtype=torch.float64))
    return model


def forward(m, batch):
    return m(batch["x"])


def test_el2n_of_a_fixed_model_on_three_hand_built_examples():
    got = el2n_scores(bias_free(), forward, THREE, chunk=2)  # two chunks
    assert got.tolist() == pytest.approx(EL2N_THREE, rel=1e-12)


def test_grand_is_the_norm_of_each_examples_loss_gradient():
    # CE gradient of a bias-free linear model: dL/dW = (p - e_y) x^T, so |grad| = |p - e_y| |x|.
    got = grand_scores(bias_free(), forward, THREE)
    assert got.tolist() == pytest.approx([0.0, math.sqrt(3 / 8) * LN2, math.sqrt(7 / 8) * LN2], rel=1e-10)


def test_grand_counts_the_bias_gradient_too():
    # With a bias, dL/db = p - e_y as well: |grad|^2 = |p - e_y|^2 (|x|^2 + 1), on stepkit's model.
    tensors = {"x": torch.tensor(X), "y": torch.tensor(Y)}
    delta = probs(W0, B0) - np.eye(3)[Y]
    expected = np.linalg.norm(delta, axis=1) * np.sqrt((X**2).sum(1) + 1)
    assert grand_scores(Linear(), forward, tensors).tolist() == pytest.approx(expected.tolist(), rel=1e-10)


def test_pruning_keeps_the_highest_scores_ties_to_the_lower_index():
    scores = [0.3, 0.9, 0.1, 0.5, 0.5]
    assert keep_hardest(scores, 0.4).tolist() == [1, 3, 4]  # 5 - round(2.0) = 3 kept
    assert keep_hardest(scores, 0.6).tolist() == [1, 3]  # 0.5 tie: index 3 before 4
    assert keep_hardest(scores, 0.0).tolist() == [0, 1, 2, 3, 4]


class _FakeState:
    def __init__(self, hooks=None, steps=10, seed=0):
        self.hooks, self.seed, self.device = hooks, seed, torch.device("cpu")
        self.budget = Budget(steps=steps)
        self.forward = forward
        self.task_loss = lambda out, b: F.cross_entropy(out, b["y"])


def test_scores_are_averaged_over_initialisations():
    # score_at 0: each init is scored as built. Init 1 is W above, init 2 is W = 0 (uniform p, every
    # example sqrt(6)/3); their mean per example.
    models = iter([bias_free(), bias_free(((0.0, 0.0),) * 3)])
    data = TrainingSet(THREE, make_model=lambda: next(models), make_batches=None, batch_size=1)
    diet = DataDiet({"inits": 2, "score_at": 0.0})
    got = diet.scores(data, _FakeState())
    third = math.sqrt(6) / 3
    assert got.tolist() == pytest.approx([(e + third) / 2 for e in EL2N_THREE], rel=1e-12)
    assert data.steps == 0 and data.samples == 0


def test_scoring_trains_with_the_runs_optimizer_and_is_charged(registry):
    # One init, score_at 0.2 of 10 steps = 2 full-batch SGD steps (lr LR, no momentum) on stepkit's
    # four examples from (W0, B0), then EL2N at the trained weights.
    W, b = W0.copy(), B0.copy()
    for _ in range(2):
        gW, gb = grads(W, b)
        W, b = W - LR * gW, b - LR * gb
    expected = np.linalg.norm(probs(W, b) - np.eye(3)[Y], axis=1)

    def full_batches(tensors, generator):
        while True:
            yield dict(tensors)

    tensors = {"x": torch.tensor(X), "y": torch.tensor(Y)}
    data = TrainingSet(tensors, make_model=Linear, make_batches=full_batches, batch_size=4)
    diet = DataDiet({"inits": 1, "score_at": 0.2})
    got = diet.scores(data, _FakeState(hooks_of(registry), steps=10))
    assert got.tolist() == pytest.approx(expected.tolist(), rel=1e-10)
    assert (data.steps, data.samples) == (2, 8)


class FixedSelection(Method):
    """Keeps the examples given in hp["keep"] (test only); charges 7 scoring steps."""

    name = "fixed-selection"
    family = "procedure"
    citation = CITE
    defaults = {"keep": None}

    @hookimpl
    def regsuite_select_training_data(self, data, state):
        data.charge(7)
        return self.hp["keep"]


def _ctx(hooks, seed=0):
    return RunContext(seed=seed, device=torch.device("cpu"), tier="smoke", hooks=hooks, hparams={})


def _train(hooks, *, stream=True, steps=12, seen=None, seed=0):
    """train_supervised on 20 examples of 2 features (batch 4); ``seen`` collects the training indices."""
    g = torch.Generator().manual_seed(123)
    train = {"x": torch.randn(20, 2, generator=g, dtype=torch.float64), "y": torch.arange(20) % 3,
             "index": torch.arange(20)}

    def fwd(m, batch):
        if seen is not None and m.training:
            seen.extend(batch["index"].tolist())
        return m(batch["x"])

    def batches(part, generator):
        return infinite_batches(part, 4, generator)

    ctx = _ctx(hooks, seed)
    model = Linear()
    state, _ = train_supervised(
        ctx, model=model, batches=batches if stream else batches(train, torch.Generator().manual_seed(seed)),
        budget=Budget(steps=steps), forward=fwd, task_loss=lambda out, b: F.cross_entropy(out, b["y"]),
        evaluate=lambda m: {"val": {"accuracy": 0.0}}, batch_size=4, train=train if stream else None,
        make_model=Linear)
    return ctx, model


def test_the_loop_samples_only_the_selected_examples(registry):
    keep = [1, 4, 6, 9, 13, 17, 18, 19]
    seen = []
    ctx, _ = _train(hooks_of(registry, FixedSelection({"keep": keep})), steps=12, seen=seen)
    # 12 steps of batch 4 over 8 kept examples: 6 epochs, each kept example seen 6 times, no other.
    assert sorted(set(seen)) == keep and len(seen) == 48
    assert all(seen.count(i) == 6 for i in keep)
    # The charged scoring steps and samples come on top of the run's own.
    assert ctx.counters["steps"] == 12 + 7 and ctx.counters["samples"] == 48 + 28
    assert "trained on 8 of 20" in ctx.notes["data_selection"]


def test_none_keeps_every_example_and_matches_a_ready_stream(registry):
    # No selection method, or one returning None: the stream is the one the task would have built.
    _, plain = _train(hooks_of(registry), stream=False)
    _, built = _train(hooks_of(registry))
    _, kept_all = _train(hooks_of(registry, FixedSelection({"keep": None})))
    for model in (built, kept_all):
        assert torch.equal(model.classifier.weight, plain.classifier.weight)
        assert torch.equal(model.classifier.bias, plain.classifier.bias)


@pytest.mark.parametrize("keep, message", [
    ([0, 1, 2, 2, 5], "returned 1 duplicate indices"),
    ([0, 1, 2, 20], "returned index 20, outside the training set (0..19)"),
    ([0, 1, -1, 3], "returned index -1, outside the training set (0..19)"),
    ([0.0, 1.0, 2.0, 3.0], "returned float64 values; expected integer indices"),
    ([True] * 20, "returned bool values; expected integer indices"),
    ([[0, 1], [2, 3]], "returned an array of shape (2, 2); expected 1-D indices"),
    ([0, 1, 2], "kept 3 examples, fewer than one batch (4)"),
    ("all", "returned str; expected None or a 1-D sequence of indices"),
])
def test_bad_indices_end_the_run_with_one_clear_error(registry, keep, message):
    with pytest.raises(SelectionError) as info:
        _train(hooks_of(registry, FixedSelection({"keep": keep})))
    text = str(info.value)
    assert text == f"fixed-selection: regsuite_select_training_data {message}"
    assert "\n" not in text


def test_check_indices_accepts_tensors_and_arrays_and_sorts():
    assert check_indices(torch.tensor([3, 0, 2]), 4, 2, "m").tolist() == [0, 2, 3]
    assert check_indices(np.array([1, 0], dtype=np.int32), 2, 2, "m").tolist() == [0, 1]
    assert check_indices(None, 4, 2, "m") is None


def test_selection_on_a_task_with_a_ready_stream_is_an_error(registry):
    with pytest.raises(ValueError, match="fixed-selection selects training data, but this task passes"):
        _train(hooks_of(registry, FixedSelection({"keep": [0, 1, 2, 3]})), stream=False)


def test_data_diet_is_planned_only_where_the_loop_selects_data(registry):
    from regsuite.plan import missing_capabilities

    assert not missing_capabilities(registry, ["data-diet"], registry.task("vision/digits-mlp"))
    assert not missing_capabilities(registry, ["data-diet"], registry.task("vision/mnist1d-mlp"))
    assert missing_capabilities(registry, ["data-diet"], registry.task("grokking/mod-add-smoke")) == {
        "data-diet": {"data_selection"}}


def test_data_diet_on_the_digits_task_trains_on_the_hardest_half(registry):
    # End to end through the runner, on the smoke task shortened to 30 steps: half of the 1,294
    # training examples kept, and two inits of round(0.1 * 30) = 3 scoring steps charged.
    from regsuite.plan import build_plan
    from regsuite.runner import execute_run

    key = "vision/digits-mlp"
    spec = build_plan(registry, tasks=[key], methods=["data-diet"], seeds=1, hp=["data-diet.inits=2"]).runs[0]
    task = registry.tasks[key]
    registry.tasks[key] = type("Short", (type(task),), {"budget": Budget(steps=30, log_every=10)})()
    try:
        row, _ = execute_run(registry, spec)
    finally:
        registry.tasks[key] = task
    assert row["status"] == "ok", row["error"]
    assert "trained on 647 of 1294" in row["notes"]
    assert row["steps"] == 30 + 2 * 3


def test_data_diet_conformance():
    from regsuite.registry import build_registry
    from regsuite.testing import conformance

    failed = [r for r in conformance(["data-diet"], reg=build_registry()) if not r.ok]
    assert not failed, [(r.check, r.detail) for r in failed]


def test_a_resumed_data_diet_run_equals_the_uninterrupted_one(tmp_path):
    # The selection is redone on resume (own seeds: the same examples), the checkpoint's train_s
    # already holds its time, and the charged scoring steps are counted once.
    from dataclasses import replace

    from regsuite.plan import build_plan
    from regsuite.registry import build_registry
    from regsuite.runner import execute_run

    reg = build_registry(["faultplugin"])
    base = build_plan(reg, tasks=["vision/digits-mlp"], methods=["data-diet+fault-stop"], seeds=1,
                      hp=["data-diet.inits=2"]).runs[0]
    every = {"checkpoint_dir": str(tmp_path / "ckpt"), "checkpoint_every_steps": 100}
    stopped = replace(base, hparams={**base.hparams, "fault-stop": {"at": 250}})
    reference, _ = execute_run(reg, base)
    first, _ = execute_run(reg, stopped, options=every)
    assert "stopped at step 250" in first["error"]
    resumed, _ = execute_run(reg, base, options=every)
    assert resumed["status"] == "ok" and '"resumed_from_step": "200"' in resumed["notes"]
    assert resumed["metrics"] == reference["metrics"]
    assert resumed["steps"] == reference["steps"] == 400 + 2 * 40
