"""The sine-mlp task: fit y = sin(x) + N(0, 0.1^2) on x in [-pi, pi] with an MLP 1-32-32-1."""

from __future__ import annotations

from regsuite import Budget, Metric, Task
from regsuite.target import Target
from regsuite.loop import infinite_batches, train_supervised

NOISE_STD = 0.1
SIZES = {"train": 256, "val": 128, "test": 256}


def splits(seed: int = 0):
    """Fixed data for every run (the run's seed changes the weights and batch order, not the data):
    {split: (x, y)} float32 arrays of shape (n, 1); each split is drawn from its own stream."""
    import numpy as np

    out = {}
    for offset, (split, n) in enumerate(SIZES.items()):
        rng = np.random.default_rng(seed * 10 + offset)
        x = rng.uniform(-np.pi, np.pi, size=(n, 1))
        y = np.sin(x) + rng.normal(0.0, NOISE_STD, size=(n, 1))
        out[split] = (x.astype(np.float32), y.astype(np.float32))
    return out


def mse(model, x, y) -> float:
    """Mean squared error of the model on (x, y), in evaluation mode, without gradients."""
    import torch

    was_training = model.training
    model.eval()
    with torch.no_grad():
        value = torch.mean((model(x) - y) ** 2).item()
    model.train(was_training)
    return value


class SineMLP(Task):
    """Noisy sine regression: a task that is a few CPU seconds per run."""

    suite = "sinefit"  # a suite some plugin defines (here: suite.toml of this package)
    name = "sine-mlp"
    tier = "smoke"
    description = "y = sin(x) + N(0, 0.01), 256 train / 128 val / 256 test points, MLP 1-32-32-1, 300 steps of 32."
    budget = Budget(steps=300, eval_every=50, log_every=25)
    primary = Metric("test_mse", "min")  # reported on the leaderboard
    validation = Metric("val_mse", "min")  # what `regsuite tune` selects on (never the test split)
    secondary = ("val_mse", "train_loss")
    # Steps until the validation MSE first drops to 0.02 (the noise floor is 0.01); censored if never.
    target = Target(metric="val_mse", threshold=0.02, direction="min", axis="steps")
    baseline = "sgd"  # the row every other method is compared against
    default_optimizer = "sgd"  # added when no method of a run configures an optimizer
    # What methods may rely on; methods that require something else ("images", "classification")
    # are refused on this task with a message.
    provides = frozenset({"regression"})
    # Task-specific defaults, checked at registration (method, key and value must be valid).
    hp_overrides = {"sgd": {"lr": 0.02}}
    # The leaderboard runs only these families here (the baseline always runs).
    leaderboard_families = frozenset({"optimizer", "regularizer"})
    batch_size = 32

    def run(self, ctx):
        import torch

        arrays = splits()
        tensors = {k: (torch.from_numpy(x).to(ctx.device), torch.from_numpy(y).to(ctx.device))
                   for k, (x, y) in arrays.items()}
        model = torch.nn.Sequential(
            torch.nn.Linear(1, 32), torch.nn.Tanh(), torch.nn.Linear(32, 32), torch.nn.Tanh(),
            torch.nn.Linear(32, 1),
        ).to(ctx.device)
        train_x, train_y = tensors["train"]
        generator = torch.Generator().manual_seed(ctx.seed)  # batch order depends only on the seed
        batches = infinite_batches({"x": train_x, "y": train_y}, self.batch_size, generator)

        def evaluate(m):
            return {split: {"mse": mse(m, *tensors[split])} for split in ("val", "test")}

        state, final = train_supervised(
            ctx, model=model, batches=batches, budget=self.budget,
            forward=lambda m, batch: m(batch["x"]),
            task_loss=lambda outputs, batch: torch.nn.functional.mse_loss(outputs, batch["y"]),
            evaluate=evaluate, batch_size=self.batch_size, target=self.target,
        )
        train_loss = [v for (_, _, split, name, v) in ctx.curves if split == "train" and name == "loss"][-1]
        # No state.finish() needed: the framework runs the methods' run_end hooks and adds their
        # metrics after run() returns (train_supervised already filled ctx.counters).
        return {
            "test_mse": final["test"]["mse"],
            "val_mse": final["val"]["mse"],
            "train_loss": train_loss,
            **final["target"],
        }
