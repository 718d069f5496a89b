"""Continual streams: split / permuted / rotated construction and the IDX and CIFAR-100 loaders."""

from __future__ import annotations

import gzip
import pickle
import struct

import numpy as np
import pytest

from regsuite import DataMissing
from regsuite.suites.continual import streams


def toy_splits(n_per_class=3, classes=4, side=2):
    y = np.repeat(np.arange(classes), n_per_class).astype(np.int64)
    x = np.arange(len(y) * side * side, dtype=np.float32).reshape(len(y), 1, side, side)
    return {"train": (x, y), "val": (x[:4], y[:4]), "test": (x, y)}


def test_split_stream_class_and_task_incremental():
    s = streams.split_stream("toy", toy_splits(), 2, "task", 4)
    assert len(s) == 2 and s.scenario == "task"
    assert [e.classes for e in s.experiences] == [(0, 1), (2, 3)]
    second = s.experiences[1]
    assert set(second.train["y"].tolist()) == {2, 3} and (second.train["task"] == 1).all()
    assert s.class_mask().tolist() == [[True, True, False, False], [False, False, True, True]]
    union = s.train_union(range(2))
    assert len(union["y"]) == 12 and union["task"].tolist() == [0] * 6 + [1] * 6
    with pytest.raises(ValueError):
        streams.split_stream("toy", toy_splits(), 2, "domain", 4)


def test_permuted_stream_first_identity_then_fixed_permutations():
    splits = toy_splits()
    s = streams.permuted_stream("toy", splits, 3, n_classes=4)
    x = splits["train"][0]
    assert np.array_equal(s.experiences[0].train["x"], x)
    perm = streams.pixel_permutations(4, 3)[2]
    expected = x.reshape(len(x), -1)[:, perm].reshape(x.shape)
    assert np.array_equal(s.experiences[2].test["x"], expected)
    assert not np.array_equal(expected, x)
    assert np.array_equal(s.experiences[2].train["y"], splits["train"][1])
    assert s.scenario == "domain" and s.class_mask().all()


def test_rotation_by_90_degrees_by_hand():
    img = np.arange(1, 10, dtype=np.float32).reshape(1, 1, 3, 3)
    expected = np.array([[3, 6, 9], [2, 5, 8], [1, 4, 7]], dtype=np.float32)
    assert np.allclose(streams.rotate_images(img, 90)[0, 0], expected, atol=1e-5)
    s = streams.rotated_stream("toy", {"train": (img, np.array([1])), "val": (img, np.array([1])),
                                       "test": (img, np.array([1]))}, (0, 90))
    assert np.array_equal(s.experiences[0].train["x"], img)
    assert np.allclose(s.experiences[1].train["x"][0, 0], expected, atol=1e-5)


def test_digits_streams_have_expected_shapes():
    s = streams.split_stream("d", streams.digits_splits(), 2, "class", 10)
    assert len(s) == 5 and s.experiences[0].train["x"].shape[1:] == (1, 8, 8)
    total = sum(len(e.test["y"]) for e in s.experiences)
    assert total == len(streams.digits_splits()["test"][1])


def write_idx(path, array, compress=False):
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + b"".join(struct.pack(">I", d) for d in array.shape)
    blob = header + array.astype(np.uint8).tobytes()
    (gzip.open if compress else open)(path, "wb").write(blob)


def test_idx_reader_and_mnist_splits(tmp_path):
    d = tmp_path / "mnist"
    d.mkdir()
    rng = np.random.RandomState(0)
    train_x, train_y = rng.randint(0, 256, (30, 28, 28)), np.arange(30) % 10
    test_x, test_y = rng.randint(0, 256, (10, 28, 28)), np.arange(10)
    with pytest.raises(DataMissing, match="t10k-images"):
        streams.check_mnist(tmp_path)
    write_idx(d / "train-images-idx3-ubyte", train_x)
    write_idx(d / "train-labels-idx1-ubyte.gz", train_y, compress=True)
    write_idx(d / "t10k-images-idx3-ubyte.gz", test_x, compress=True)
    write_idx(d / "t10k-labels-idx1-ubyte", test_y)
    assert np.array_equal(streams.read_idx(d / "train-labels-idx1-ubyte.gz"), train_y)
    splits = streams.mnist_splits(tmp_path, val_size=5)
    assert splits["train"][0].shape == (25, 1, 28, 28) and len(splits["val"][1]) == 5
    assert np.allclose(splits["test"][0][3, 0], test_x[3] / 255.0)
    s = streams.permuted_stream("pm", splits, 2)
    assert s.experiences[1].train["x"].shape == (25, 1, 28, 28)


def test_idx_reader_rejects_bad_files(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x01\x05")
    with pytest.raises(ValueError, match="magic"):
        streams.read_idx(bad)
    short = tmp_path / "short"
    short.write_bytes(struct.pack(">BBBBI", 0, 0, 8, 1, 4) + b"\x01")
    with pytest.raises(ValueError, match="announces 4"):
        streams.read_idx(short)


def test_split_cifar100_from_pickle_batches(tmp_path):
    d = tmp_path / "cifar-100-python"
    d.mkdir()
    rng = np.random.RandomState(0)
    for name, n in (("train", 200), ("test", 100)):
        batch = {b"data": rng.randint(0, 256, (n, 3072)).astype(np.uint8), b"fine_labels": list(np.arange(n) % 100)}
        with open(d / name, "wb") as fh:
            pickle.dump(batch, fh)
    splits = streams.cifar100_splits(tmp_path)
    assert splits["train"][0].shape == (180, 3, 32, 32) and len(splits["val"][1]) == 20
    raw = pickle.load(open(d / "test", "rb"), encoding="bytes")[b"data"][0, 0]  # red channel, pixel (0, 0)
    assert splits["test"][0][0, 0, 0, 0] == pytest.approx((raw / 255.0 - 0.5071) / 0.2673, abs=1e-5)
    s = streams.split_stream("sc", splits, 10, "task", 100)
    assert len(s) == 10 and s.experiences[3].classes == tuple(range(30, 40))


def test_mnist1d_is_generated_with_fixed_arguments_and_standardised():
    import random

    from mnist1d.data import get_dataset_args

    from regsuite.suites.continual import mnist1d

    # The package's defaults, except 6,000 examples (and no download URL: get_dataset is never called).
    defaults = {k: v for k, v in vars(get_dataset_args()).items() if k != "url"}
    assert {**defaults, "num_samples": 6000} == mnist1d.ARGS
    random.seed(5)
    np.random.seed(5)
    expected = (random.random(), np.random.rand())
    random.seed(5)
    np.random.seed(5)
    mnist1d.mnist1d_splits.cache_clear()
    splits = mnist1d.mnist1d_splits()
    assert (random.random(), np.random.rand()) == expected  # the generator's reseeding is undone
    # 6,000 examples: the package's last 20% is test (1,200); 800 of the 4,800 others validate.
    assert {k: (v[0].shape, v[1].shape) for k, v in splits.items()} == {
        "train": ((4000, 40), (4000,)), "val": ((800, 40), (800,)), "test": ((1200, 40), (1200,))}
    x = splits["train"][0].astype(np.float64)
    assert abs(x.mean()) < 1e-5 and abs(x.std() - 1.0) < 1e-5
    assert sorted(set(splits["test"][1].tolist())) == list(range(10))


def test_mnist1d_streams_split_by_class_and_permute_positions():
    from regsuite.suites.continual import mnist1d

    splits = mnist1d.mnist1d_splits()
    split = streams.split_stream("split-mnist1d", splits, 2, "class", 10)
    assert [e.classes for e in split.experiences] == [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]
    assert sum(len(e.train["y"]) for e in split.experiences) == 4000
    perm = streams.permuted_stream("permuted-mnist1d", splits, 10)
    assert len(perm) == 10 and perm.scenario == "domain"
    first, second = perm.experiences[0].test["x"], perm.experiences[1].test["x"]
    assert np.array_equal(first, splits["test"][0])  # the first permutation is the identity
    order = streams.pixel_permutations(40, 10)[1]
    assert np.array_equal(second, splits["test"][0][:, order])
