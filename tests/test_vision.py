"""Vision suite: digits splits, the CIFAR pickle reader on files written in the exact format, models."""

import pickle

import numpy as np
import pytest

from regsuite import DataMissing
from regsuite.suites.vision import data, models


def write_cifar10(root, n_per_batch=4):
    d = root / "cifar-10-batches-py"
    d.mkdir(parents=True)
    rng = np.random.RandomState(0)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        payload = {
            b"batch_label": name.encode(),
            b"labels": list(rng.randint(0, 10, n_per_batch)),
            b"data": rng.randint(0, 256, (n_per_batch, 3072)).astype(np.uint8),
            b"filenames": [f"img{i}.png".encode() for i in range(n_per_batch)],
        }
        with open(d / name, "wb") as fh:
            pickle.dump(payload, fh, protocol=2)
        batches[name] = payload
    return batches


def test_cifar10_reader_reads_the_python_pickle_batches(tmp_path):
    batches = write_cifar10(tmp_path)
    out = data.read_cifar(tmp_path, 10)
    x, y = out["train"]
    assert x.shape == (20, 3, 32, 32) and x.dtype == np.uint8 and y.dtype == np.int64
    # Row-major 3072 bytes = 1024 red, then green, then blue values of a 32x32 image.
    first = batches["data_batch_1"][b"data"][0]
    assert x[0, 0, 0, 0] == first[0] and x[0, 1, 0, 0] == first[1024] and x[0, 2, 31, 31] == first[3071]
    assert x[0, 0, 1, 0] == first[32]
    assert list(y[:4]) == batches["data_batch_1"][b"labels"]
    assert out["test"][0].shape == (4, 3, 32, 32)


def test_cifar100_reader_uses_fine_labels(tmp_path):
    d = tmp_path / "cifar-100-python"
    d.mkdir()
    for name, labels in (("train", [5, 99, 0]), ("test", [42])):
        with open(d / name, "wb") as fh:
            pickle.dump({b"fine_labels": labels, b"coarse_labels": [0] * len(labels),
                         b"data": np.zeros((len(labels), 3072), np.uint8)}, fh)
    out = data.read_cifar(tmp_path, 100)
    assert list(out["train"][1]) == [5, 99, 0] and list(out["test"][1]) == [42]


def test_cifar_splits_normalise_and_hold_out_validation(tmp_path):
    write_cifar10(tmp_path)
    splits = data.cifar_splits(tmp_path, 10, val_size=5)
    assert len(splits["train"][0]) == 15 and len(splits["val"][0]) == 5
    raw = data.read_cifar(tmp_path, 10)["test"][0][0, 0, 0, 0]
    assert splits["test"][0][0, 0, 0, 0] == pytest.approx((raw / 255 - 0.4914) / 0.2470, rel=1e-5)


def test_missing_cifar_says_where_to_get_it(tmp_path):
    with pytest.raises(DataMissing, match="cifar-10-python.tar.gz"):
        data.check_cifar(tmp_path, 10)


def test_digits_splits_are_fixed_and_disjoint():
    s = data.digits_splits()
    assert [len(s[k][0]) for k in ("train", "val", "test")] == [1294, 144, 359]
    assert s["train"][0].shape[1:] == (1, 8, 8) and s["train"][0].max() <= 1.0
    again = data.digits_splits()
    assert np.array_equal(s["test"][1], again["test"][1])


def test_models_shapes():
    import torch

    assert models.mlp()(torch.zeros(2, 1, 8, 8)).shape == (2, 10)
    assert models.small_cnn()(torch.zeros(2, 1, 8, 8)).shape == (2, 10)
    net = models.resnet18(100)
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 100)
    assert 11_000_000 < sum(p.numel() for p in net.parameters()) < 11_300_000  # ResNet-18: ~11.2M


def test_random_crop_flip_keeps_shape_and_content_of_unflipped_uncropped():
    import torch

    x = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).view(2, 3, 4, 4)
    g = torch.Generator().manual_seed(0)
    out = data.random_crop_flip(x, padding=0, generator=g)
    assert out.shape == x.shape
    for i in range(2):
        assert torch.equal(out[i], x[i]) or torch.equal(out[i], x[i].flip(2))


def test_expected_calibration_error_by_hand():
    import torch

    from regsuite.loop import expected_calibration_error

    conf = torch.tensor([0.95, 0.95, 0.55, 0.55])
    correct = torch.tensor([1.0, 0.0, 1.0, 1.0])
    # bin (0.9,1]: acc 0.5, conf 0.95 -> |0.45| * 2/4; bin (0.5,0.6]: acc 1, conf 0.55 -> 0.45 * 2/4
    assert expected_calibration_error(conf, correct, 10) == pytest.approx(0.45)


# ----------------------------------------------------------------------------- MNIST-1D (standard tier)

from regsuite.suites.vision import mnist1d  # noqa: E402

SMALL = {**mnist1d.ARGS, "num_samples": 500}
SMALL_HELD_OUT = {**SMALL, "seed": 7}


def small_mnist1d(monkeypatch):
    """Generate 500-example draws (training, held-out, long-tail pool) instead of 6,000, 30,000 and 25,000."""
    from regsuite.suites import mnist1d_data

    monkeypatch.setattr(mnist1d_data, "ARGS", SMALL)
    monkeypatch.setattr(mnist1d_data, "HELD_OUT_ARGS", SMALL_HELD_OUT)
    monkeypatch.setattr(mnist1d_data, "LONG_TAIL_POOL_ARGS", {**SMALL, "seed": 11})
    monkeypatch.setattr(mnist1d, "VAL_SIZE", 100)
    monkeypatch.setattr(mnist1d, "LARGE_VAL_SIZE", 100)
    mnist1d.load.cache_clear()


def test_symmetric_noise_flips_exactly_the_rate_to_other_classes():
    y = np.arange(1000) % 10
    noisy = mnist1d.symmetric_noise(y, 0.3, 10, seed=0)
    assert (noisy != y).sum() == 300  # round(0.3 * 1000) flipped, and a flip never keeps the label
    assert (mnist1d.symmetric_noise(y, 0.3, 10, seed=0) == noisy).all()  # fixed by the seed
    assert (mnist1d.symmetric_noise(y, 0.0, 10) == y).all()
    # Every label flipped from class 0: each of the 9 other classes gets ~1/9 of them.
    counts = np.bincount(mnist1d.symmetric_noise(np.zeros(90000, np.int64), 1.0, 10), minlength=10)
    assert counts[0] == 0 and np.all(np.abs(counts[1:] / 90000 - 1 / 9) < 0.01)
    with pytest.raises(ValueError, match="rate"):
        mnist1d.symmetric_noise(y, 1.5, 10)


def test_generation_is_fixed_and_leaves_the_global_random_state_alone():
    import random

    np.random.seed(5)
    random.seed(5)
    before = (np.random.rand(), random.random())
    np.random.seed(5)
    random.seed(5)
    first = mnist1d.generate(SMALL)
    after = (np.random.rand(), random.random())
    assert before == after
    # The package's 80/20 split of 500 examples (50 per class), 40 samples per signal.
    assert first["x"].shape == (400, 40) and first["x_test"].shape == (100, 40) and first["x"].dtype == np.float32
    assert np.bincount(np.concatenate([first["y"], first["y_test"]])).tolist() == [50] * 10
    assert mnist1d.arrays_digest(mnist1d.generate(SMALL)) == mnist1d.arrays_digest(first)


def test_cache_is_written_reused_and_regenerated_when_tampered(tmp_path, monkeypatch):
    from regsuite.suites import mnist1d_data  # the shared generator and cache under the vision splits

    monkeypatch.setattr(mnist1d_data, "ARGS", SMALL)
    monkeypatch.setattr(mnist1d, "VAL_SIZE", 100)
    mnist1d.load.cache_clear()
    out = mnist1d.splits(str(tmp_path))
    # 400 generated training examples: 100 validation, 300 training; 100 test.
    assert [len(out[k][0]) for k in ("train", "val", "test")] == [300, 100, 100]
    assert out["train"][0].shape[1:] == (1, 40)
    (path,) = tmp_path.glob("mnist1d-*.npz")
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in ("x", "y", "x_test", "y_test")}
    np.savez(path, digest=np.asarray("0" * 64), **arrays)  # the digest no longer matches
    mnist1d.load.cache_clear()
    calls = []
    real = mnist1d_data.generate
    monkeypatch.setattr(mnist1d_data, "generate", lambda *a: calls.append(1) or real(*a))
    again = mnist1d.splits(str(tmp_path))
    assert calls == [1] and (again["val"][1] == out["val"][1]).all()
    mnist1d.load.cache_clear()
    mnist1d.splits(str(tmp_path))  # the rewritten file is intact: no generation
    assert calls == [1]
    mnist1d.load.cache_clear()


def test_large_eval_sets_come_from_a_second_draw_and_training_is_unchanged(tmp_path, monkeypatch):
    small_mnist1d(monkeypatch)
    small = mnist1d.splits(str(tmp_path))
    large = mnist1d.splits(str(tmp_path), large_eval=True)
    assert (large["train"][0] == small["train"][0]).all() and (large["train"][1] == small["train"][1]).all()
    # The held-out draw's 500 examples: the first 100 validate, the other 400 test; none is a training signal.
    assert len(large["val"][1]) == 100 and len(large["test"][1]) == 400
    train = {row.tobytes() for row in large["train"][0]}
    assert not any(row.tobytes() in train for row in np.concatenate([large["val"][0], large["test"][0]]))
    assert len(list(tmp_path.glob("mnist1d-*.npz"))) == 2  # both draws cached, under their own argument hashes
    mnist1d.load.cache_clear()


def test_revised_mnist1d_tasks_carry_their_revision_in_the_board_version():
    from regsuite.registry import build_registry

    reg = build_registry(())
    version = reg.suite("vision").version
    for name, revision in (("mnist1d-mlp", 2), ("mnist1d-noisy-mlp", 2), ("mnist1d-lt-mlp", 3)):
        task = reg.task(f"vision/{name}")
        assert task.large_eval and task.board_version(version) == f"{version}+task{revision}"
    cnn = reg.task("vision/mnist1d-cnn")  # unrevised: its runs keep the suite's version, and their ids
    assert not cnn.large_eval and cnn.board_version(version) == version


def test_mnist1d_models():
    import torch

    cnn = models.cnn1d()
    # Lengths 40 -> 19 -> 9 -> 4 (kernel 5, stride 2, padding 1): a 25 * 4 = 100-input head.
    assert cnn[-1].in_features == 100 and cnn(torch.zeros(3, 1, 40)).shape == (3, 10)
    mlp = models.mlp1d()
    assert mlp(torch.zeros(3, 1, 40)).shape == (3, 10)
    assert sum(p.numel() for p in mlp.parameters()) == 40 * 100 + 100 + 100 * 100 + 100 + 100 * 10 + 10


@pytest.mark.parametrize("name", ["mnist1d-mlp", "mnist1d-cnn", "mnist1d-noisy-mlp"])
def test_mnist1d_tasks_run_end_to_end_on_a_short_budget(name, tmp_path, monkeypatch):
    from regsuite import Budget
    from regsuite.context import RunContext
    from regsuite.plan import RunSpec, resolve_components, resolve_hparams
    from regsuite.registry import build_registry
    from regsuite.runner import build_hooks, seed_everything
    from regsuite.suites.vision import tasks

    small_mnist1d(monkeypatch)
    cls = next(c for c in tasks.ALL if c.name == name)
    task = type("Short", (cls,), {"budget": Budget(steps=20, eval_every=10, log_every=10)})()
    reg = build_registry(())
    components = resolve_components(reg, "sgd", task)
    hp = resolve_hparams(reg, components, task, [])
    spec = RunSpec(task.suite, "1", task.key(), task.tier, "sgd", components, hp, 0)
    seed_everything(0)
    import torch

    ctx = RunContext(seed=0, device=torch.device("cpu"), tier=task.tier, hooks=build_hooks(reg, spec), hparams=hp,
                     data_dir=tmp_path)
    metrics = task.run(ctx)
    mnist1d.load.cache_clear()
    assert ctx.counters["steps"] == 20 and ctx.counters["samples"] == 20 * 100
    assert 0 <= metrics["test_accuracy"] <= 1 and 0 <= metrics["val_accuracy"] <= 1
    assert task.tier == "standard" and "images" not in task.provides  # Cutout/CutMix do not apply


def test_noisy_task_corrupts_training_labels_only(tmp_path, monkeypatch):
    from regsuite.suites.vision import tasks

    small_mnist1d(monkeypatch)

    class Ctx:
        def data_path(self, *parts):
            return tmp_path.joinpath(*parts)

    clean = tasks.MNIST1DMLP().splits(Ctx())
    noisy = tasks.MNIST1DNoisyMLP().splits(Ctx())
    mnist1d.load.cache_clear()
    assert (noisy["train"][1] != clean["train"][1]).sum() == round(0.4 * 300)
    assert [len(clean[k][1]) for k in ("train", "val", "test")] == [300, 100, 400]  # held-out draw: 100 + 400
    assert (noisy["train"][0] == clean["train"][0]).all()
    for split in ("val", "test"):
        assert (noisy[split][1] == clean[split][1]).all()
