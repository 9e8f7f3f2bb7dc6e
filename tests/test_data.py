"""Tests for minnet.data: datasets, DataLoader, preprocessing, generators, digits."""
import math
import warnings

import numpy as np
import pytest

import minnet
from minnet.data import (
    DataLoader,
    Dataset,
    MinMaxScaler,
    Standardizer,
    Subset,
    TensorDataset,
    hard_function,
    load_digits,
    make_blobs,
    make_moons,
    make_regression_1d,
    make_spirals,
    make_xor,
    make_xor_table,
    one_hot,
    random_split,
    train_test_split,
)
from minnet.data import digits as digits_module


def epoch_labels(loader):
    """All the labels one epoch yields, in order."""
    return np.concatenate([y.numpy() for _, y in loader])


def id_dataset(n=10, n_features=3):
    """Features whose first column equals the sample id, and the id as label."""
    X = np.repeat(np.arange(n, dtype=np.float32)[:, None], n_features, axis=1)
    return TensorDataset(X, np.arange(n))


# --------------------------------------------------------------------------
# Dataset / TensorDataset
# --------------------------------------------------------------------------
def test_tensor_dataset_items_and_dtypes():
    X = np.arange(12, dtype=np.float64).reshape(6, 2)
    y = np.array([0, 1, 0, 1, 2, 2], dtype=np.uint8)
    ds = TensorDataset(X, y)
    assert len(ds) == 6
    x5, y5 = ds[-1]
    assert isinstance(x5, minnet.Tensor) and isinstance(y5, minnet.Tensor)
    np.testing.assert_array_equal(x5.numpy(), [10.0, 11.0])
    assert x5.dtype == np.float64 and y5.dtype == np.int64 and y5.item() == 2
    # Python floats become float32, as torch.tensor does.
    assert TensorDataset([[0.5], [1.5]]).arrays[0].dtype == np.float32
    # Tensors are accepted and their data shared.
    tensor_x = minnet.Tensor(np.ones((6, 2), dtype=np.float32))
    assert TensorDataset(tensor_x).arrays[0] is tensor_x.numpy()


def test_tensor_dataset_errors():
    with pytest.raises(ValueError, match=r"TensorDataset.*same length.*\[10, 9\]"):
        TensorDataset(np.zeros((10, 2)), np.zeros(9))
    with pytest.raises(ValueError, match="TensorDataset"):
        TensorDataset()
    with pytest.raises(ValueError, match="scalar"):
        TensorDataset(np.float32(3.0))
    ds = TensorDataset(np.zeros((4, 2)))
    with pytest.raises(IndexError, match="index 4 is out of range.*length 4"):
        ds[4]
    with pytest.raises(TypeError, match="index must be an integer"):
        ds[1.0]


def test_dataset_base_class_requires_methods():
    with pytest.raises(NotImplementedError, match="__getitem__"):
        Dataset()[0]
    with pytest.raises(NotImplementedError, match="__len__"):
        len(Dataset())


# --------------------------------------------------------------------------
# DataLoader
# --------------------------------------------------------------------------
def test_loader_batch_shapes_dtypes_and_len():
    ds = TensorDataset(np.zeros((10, 3), dtype=np.float32), np.arange(10, dtype=np.int32))
    loader = DataLoader(ds, batch_size=4)
    assert len(loader) == 3
    batches = list(loader)
    assert len(batches) == 3
    assert [xb.shape for xb, _ in batches] == [(4, 3), (4, 3), (2, 3)]
    assert [yb.shape for _, yb in batches] == [(4,), (4,), (2,)]
    for xb, yb in batches:
        assert isinstance(xb, minnet.Tensor) and xb.dtype == np.float32
        assert yb.dtype == np.int64
        assert not xb.requires_grad


def test_loader_keeps_float64_and_casts_other_floats():
    ds = TensorDataset(np.zeros((5, 2), dtype=np.float64), np.zeros((5, 2), dtype=np.float16))
    xb, hb = next(iter(DataLoader(ds, batch_size=5)))
    assert xb.dtype == np.float64 and hb.dtype == np.float32


def test_loader_drop_last():
    ds = id_dataset(10)
    loader = DataLoader(ds, batch_size=4, drop_last=True)
    assert len(loader) == 2
    assert [yb.shape[0] for _, yb in loader] == [4, 4]
    exact = DataLoader(ds, batch_size=5, drop_last=True)
    assert len(exact) == 2 and sum(yb.shape[0] for _, yb in exact) == 10
    with pytest.warns(UserWarning, match="no batches"):
        empty = DataLoader(ds, batch_size=11, drop_last=True)
    assert len(empty) == 0 and list(empty) == []


def test_loader_without_shuffle_keeps_order():
    np.testing.assert_array_equal(epoch_labels(DataLoader(id_dataset(10), batch_size=3)),
                                  np.arange(10))


def test_loader_every_sample_once_per_epoch():
    loader = DataLoader(id_dataset(23), batch_size=4, shuffle=True, seed=0)
    for _ in range(3):
        seen = []
        for xb, yb in loader:
            # features and labels stay aligned through the shuffle
            np.testing.assert_array_equal(xb.numpy()[:, 0], yb.numpy())
            seen.append(yb.numpy())
        np.testing.assert_array_equal(np.sort(np.concatenate(seen)), np.arange(23))


def test_loader_shuffle_reproducible_and_new_order_each_epoch():
    ds = id_dataset(50)
    first = DataLoader(ds, batch_size=8, shuffle=True, seed=7)
    second = DataLoader(ds, batch_size=8, shuffle=True, seed=7)
    epochs_first = [epoch_labels(first) for _ in range(3)]
    epochs_second = [epoch_labels(second) for _ in range(3)]
    for a, b in zip(epochs_first, epochs_second):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(epochs_first[0], epochs_first[1])
    assert not np.array_equal(epochs_first[1], epochs_first[2])
    assert not np.array_equal(epochs_first[0], np.arange(50))
    other_seed = DataLoader(ds, batch_size=8, shuffle=True, seed=8)
    assert not np.array_equal(epoch_labels(other_seed), epochs_first[0])


def test_loader_generator_and_default_generator():
    ds = id_dataset(30)
    a = epoch_labels(DataLoader(ds, batch_size=5, shuffle=True, generator=np.random.default_rng(3)))
    b = epoch_labels(DataLoader(ds, batch_size=5, shuffle=True, seed=3))
    np.testing.assert_array_equal(a, b)  # seed=n means a fresh default_rng(n)
    loader = DataLoader(ds, batch_size=5, shuffle=True)
    minnet.manual_seed(123)
    c = epoch_labels(loader)
    minnet.manual_seed(123)
    d = epoch_labels(loader)
    np.testing.assert_array_equal(c, d)


class ListDataset(Dataset):
    """A plain dataset: one (features, label) sample at a time, no get_batch."""

    def __init__(self, X, y):
        self.X, self.y = X, y

    def __len__(self):
        return len(self.X)

    def __getitem__(self, index):
        return self.X[index], int(self.y[index])


def test_loader_fast_path_does_not_index_sample_by_sample():
    class NoSingleSamples(TensorDataset):
        def __getitem__(self, index):
            raise AssertionError("the loader should gather whole batches via get_batch")

    loader = DataLoader(NoSingleSamples(np.zeros((9, 2)), np.arange(9)), batch_size=4, shuffle=True)
    assert [yb.shape[0] for _, yb in loader] == [4, 4, 1]


def test_generic_path_matches_fast_path():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(17, 4)).astype(np.float32)
    y = rng.integers(0, 3, 17)
    fast = DataLoader(TensorDataset(X, y), batch_size=5, shuffle=True, seed=2)
    slow = DataLoader(ListDataset(X, y), batch_size=5, shuffle=True, seed=2)
    assert not hasattr(slow.dataset, "get_batch")
    for (xf, yf), (xs, ys) in zip(fast, slow):
        np.testing.assert_array_equal(xf.numpy(), xs.numpy())
        np.testing.assert_array_equal(yf.numpy(), ys.numpy())
        assert xs.dtype == np.float32 and ys.dtype == np.int64


def test_generic_collate_numbers_dicts_and_errors():
    class Pairs(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return {"x": np.full(2, i, dtype=np.float64), "target": 0.5 * i}

    batch = next(iter(DataLoader(Pairs(), batch_size=4)))
    assert batch["x"].shape == (4, 2) and batch["x"].dtype == np.float64
    assert batch["target"].dtype == np.float32  # Python floats -> float32
    np.testing.assert_allclose(batch["target"].numpy(), [0.0, 0.5, 1.0, 1.5])

    class Ragged(Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return np.zeros(i + 1)

    with pytest.raises(ValueError, match="different shapes"):
        next(iter(DataLoader(Ragged(), batch_size=2)))


def test_loader_bad_arguments():
    ds = id_dataset(5)
    with pytest.raises(ValueError, match=r"DataLoader.*batch_size=0"):
        DataLoader(ds, batch_size=0)
    with pytest.raises(ValueError, match=r"batch_size=2.5"):
        DataLoader(ds, batch_size=2.5)
    with pytest.raises(TypeError, match="TensorDataset"):
        DataLoader(42)
    with pytest.raises(ValueError, match="not both"):
        DataLoader(ds, seed=1, generator=np.random.default_rng(1))


def test_subset_and_random_split():
    ds = id_dataset(20)
    parts = random_split(ds, [15, 5], seed=0)
    assert [len(p) for p in parts] == [15, 5]
    ids = np.concatenate([epoch_labels(DataLoader(p, batch_size=4)) for p in parts])
    np.testing.assert_array_equal(np.sort(ids), np.arange(20))
    assert hasattr(parts[0], "get_batch")  # fast path carried through
    np.testing.assert_array_equal(parts[1][0][1].numpy(), parts[1].indices[0])
    assert [len(p) for p in random_split(ds, [0.5, 0.25, 0.25])] == [10, 5, 5]
    with pytest.raises(ValueError, match="random_split"):
        random_split(ds, [10, 5])
    with pytest.raises(IndexError, match="Subset"):
        Subset(ds, [0, 20])


# --------------------------------------------------------------------------
# Standardizer, MinMaxScaler, one_hot
# --------------------------------------------------------------------------
def test_standardizer_uses_training_statistics_only():
    X_train = np.array([[0.0, 10.0], [2.0, 30.0]], dtype=np.float32)  # means 1, 20; stds 1, 10
    X_test = np.array([[4.0, 20.0]], dtype=np.float32)
    scaler = Standardizer()
    Z_train = scaler.fit_transform(X_train)
    np.testing.assert_allclose(scaler.mean_, [1.0, 20.0])
    np.testing.assert_allclose(scaler.std_, [1.0, 10.0])
    np.testing.assert_allclose(Z_train, [[-1.0, -1.0], [1.0, 1.0]])
    # The test row is scaled with the training statistics, not its own.
    np.testing.assert_allclose(scaler.transform(X_test), [[3.0, 0.0]])
    assert scaler.transform(X_test).dtype == np.float32


def test_standardizer_moments_and_inverse():
    rng = np.random.default_rng(1)
    X = rng.normal(5.0, 3.0, size=(200, 7))  # float64 stays float64
    scaler = Standardizer().fit(X)
    Z = scaler.transform(X)
    assert Z.dtype == np.float64
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(Z.std(axis=0), 1.0, atol=1e-12)
    np.testing.assert_allclose(scaler.inverse_transform(Z), X, atol=1e-12)
    # integers are standardised in float32
    assert Standardizer().fit_transform(np.arange(6).reshape(3, 2)).dtype == np.float32


def test_standardizer_constant_features_warn_and_stay_finite():
    X = np.array([[1.0, 7.0, 0.1, 5.0], [2.0, 7.0, 0.1, 5.0], [3.0, 7.0, 0.1, 6.0]],
                 dtype=np.float32)
    with pytest.warns(UserWarning, match=r"column\(s\) \[1, 2\] are constant"):
        scaler = Standardizer().fit(X)
    Z = scaler.transform(X)
    assert np.all(np.isfinite(Z))
    np.testing.assert_allclose(Z[:, 1:3], 0.0)
    np.testing.assert_array_equal(scaler.constant_features_, [False, True, True, False])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Standardizer().fit(np.array([[0.0], [1e-3]]))  # small but real spread: no warning


def test_standardizer_errors():
    with pytest.raises(RuntimeError, match=r"Standardizer.transform.*fit\(X_train\)"):
        Standardizer().transform(np.zeros((2, 2)))
    scaler = Standardizer().fit(np.random.default_rng(0).normal(size=(5, 3)))
    with pytest.raises(ValueError, match=r"shape \(3,\).*\(5, 4\)"):
        scaler.transform(np.zeros((5, 4)))
    with pytest.raises(ValueError, match="n_samples >= 1"):
        Standardizer().fit(np.zeros((0, 3)))


def test_min_max_scaler_and_one_hot():
    X_train = np.array([[0.0, -1.0], [4.0, 1.0], [2.0, 1.0]], dtype=np.float32)
    scaler = MinMaxScaler(feature_range=(-1, 1)).fit(X_train)
    Z = scaler.transform(X_train)
    np.testing.assert_allclose(Z, [[-1, -1], [1, 1], [0, 1]])
    np.testing.assert_allclose(scaler.transform(np.array([[8.0, 0.0]])), [[3.0, 0.0]])
    np.testing.assert_allclose(scaler.inverse_transform(Z), X_train, atol=1e-6)
    np.testing.assert_array_equal(one_hot(np.array([2, 0, 1])), np.eye(3)[[2, 0, 1]])
    assert one_hot([1], num_classes=4).shape == (1, 4)
    with pytest.raises(ValueError, match=r"one_hot.*\[0, 3\)"):
        one_hot(np.array([3]), num_classes=3)


# --------------------------------------------------------------------------
# train_test_split
# --------------------------------------------------------------------------
def test_split_sizes_order_and_alignment():
    X = np.arange(40).reshape(20, 2)
    y = np.arange(20)
    X_train, X_test, y_train, y_test = train_test_split(X, y)
    assert (len(X_train), len(X_test)) == (15, 5)
    np.testing.assert_array_equal(X_train[:, 0], 2 * y_train)  # rows stay together
    np.testing.assert_array_equal(X_test[:, 0], 2 * y_test)
    np.testing.assert_array_equal(np.sort(np.concatenate([y_train, y_test])), np.arange(20))
    # a fraction rounds the test part up, as scikit-learn does: ceil(0.25 * 10) = 3
    assert [len(a) for a in train_test_split(np.arange(10), test_size=0.25)] == [7, 3]
    assert [len(a) for a in train_test_split(np.arange(10), test_size=4)] == [6, 4]


def test_split_determinism_and_tensors():
    X = np.arange(100)
    first = train_test_split(X, seed=3)
    np.testing.assert_array_equal(first[1], train_test_split(X, seed=3)[1])
    assert not np.array_equal(first[1], train_test_split(X, seed=4)[1])
    assert not np.array_equal(first[0], np.sort(first[0]))  # shuffled
    t_train, t_test = train_test_split(minnet.Tensor(X.astype(np.float32)), test_size=0.1)
    assert isinstance(t_train, minnet.Tensor) and t_test.shape == (10,)


def test_split_stratified_keeps_class_proportions():
    y = np.repeat([0, 1, 2], [60, 30, 10])
    X = np.arange(100)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y)
    np.testing.assert_array_equal(np.bincount(y_test), [12, 6, 2])
    np.testing.assert_array_equal(np.bincount(y_train), [48, 24, 8])
    np.testing.assert_array_equal(y[X_test], y_test)
    assert not np.array_equal(y_test, np.sort(y_test))  # classes are mixed, not in blocks
    # on the digits, every class keeps its share of the test set within one sample
    _, labels = load_digits(return_X_y=True)
    _, _, _, digits_test = train_test_split(labels, labels, test_size=0.3, stratify=labels)
    expected = np.bincount(labels) * len(digits_test) / len(labels)
    assert np.all(np.abs(np.bincount(digits_test) - expected) < 1)
    assert len(digits_test) == math.ceil(0.3 * len(labels))


def test_split_errors():
    with pytest.raises(ValueError, match=r"train_test_split.*test_size=1.5"):
        train_test_split(np.arange(10), test_size=1.5)
    with pytest.raises(ValueError, match=r"test_size=0\.0"):
        train_test_split(np.arange(10), test_size=0.0)
    with pytest.raises(ValueError, match=r"\[1, 9\].*test_size=10"):
        train_test_split(np.arange(10), test_size=10)
    with pytest.raises(ValueError, match=r"same length.*\[10, 8\]"):
        train_test_split(np.arange(10), np.arange(8))
    with pytest.raises(ValueError, match="only 1 sample"):
        train_test_split(np.arange(5), stratify=np.array([0, 0, 1, 1, 2]))


# --------------------------------------------------------------------------
# digits
# --------------------------------------------------------------------------
def test_digits_shapes_dtypes_and_range():
    digits = load_digits()
    assert digits.data.shape == (1797, 64) and digits.data.dtype == np.float32
    assert digits.target.shape == (1797,) and digits.target.dtype == np.int64
    assert digits.images.shape == (1797, 8, 8)
    assert digits.images_2d.shape == (1797, 1, 8, 8)
    assert digits.data.min() == 0.0 and digits.data.max() == 16.0  # unnormalised on purpose
    np.testing.assert_array_equal(digits.data, np.round(digits.data))
    np.testing.assert_array_equal(digits.images_2d[5, 0], digits.data[5].reshape(8, 8))
    assert digits["target"] is digits.target
    X, y = load_digits(return_X_y=True, as_float=False)
    assert X.dtype == np.uint8 and X.shape == (1797, 64) and y.dtype == np.int64


def test_digits_labels_and_known_values():
    X, y = load_digits(return_X_y=True)
    counts = np.bincount(y)
    assert len(counts) == 10 and counts.min() >= 174 and counts.max() <= 183
    np.testing.assert_array_equal(counts, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])
    # values read off scikit-learn's copy when the file was made
    np.testing.assert_array_equal(y[:20], list(range(10)) * 2)
    np.testing.assert_array_equal(y[-5:], [9, 0, 8, 9, 8])
    np.testing.assert_array_equal(X[0].reshape(8, 8)[1], [0, 0, 13, 15, 10, 15, 5, 0])
    np.testing.assert_array_equal(X.sum(axis=0)[:8], [0, 546, 9353, 21269, 21291, 10390, 2448, 233])
    assert X.sum() == 561718


def test_digits_checksum_and_file_size():
    X, y = load_digits(return_X_y=True, as_float=False)
    checksum = digits_module.digits_checksum(X.reshape(-1, 8, 8), y)
    assert checksum == "87ff0c9e40dc7e2c0e34e7257799c2e3f3aec1a016363bb11cad869ec428a826"
    assert digits_module.DIGITS_PATH.stat().st_size < 100_000


def test_digits_calls_return_independent_arrays():
    first = load_digits()
    first.data[:] = -1
    first.target[:] = 99
    again = load_digits()
    assert again.data.min() == 0 and again.target.max() == 9


def test_digits_detects_a_corrupted_file(tmp_path, monkeypatch):
    X, y = load_digits(return_X_y=True, as_float=False)
    images = X.reshape(-1, 8, 8).copy()
    images[100, 3, 3] ^= 1  # flip one bit of one pixel
    bad = tmp_path / "digits.npz"
    np.savez_compressed(bad, images=images, labels=y.astype(np.uint8))
    monkeypatch.setattr(digits_module, "DIGITS_PATH", bad)
    digits_module._read_raw.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="corrupted"):
            load_digits()
    finally:
        digits_module._read_raw.cache_clear()


# --------------------------------------------------------------------------
# synthetic generators
# --------------------------------------------------------------------------
CLASSIFIERS = [
    (make_spirals, dict(n_samples=301, n_classes=3), 3, 2),
    (make_moons, dict(n_samples=201), 2, 2),
    (make_blobs, dict(n_samples=250, centers=4, n_features=5), 4, 5),
    (make_xor, dict(n_samples=203), 2, 2),
]


@pytest.mark.parametrize("make, kwargs, n_classes, n_features", CLASSIFIERS)
def test_classification_generators_shapes_balance_determinism(make, kwargs, n_classes, n_features):
    X, y = make(**kwargs)
    n = kwargs["n_samples"]
    assert X.shape == (n, n_features) and X.dtype == np.float32
    assert y.shape == (n,) and y.dtype == np.int64
    counts = np.bincount(y, minlength=n_classes)
    assert len(counts) == n_classes and counts.sum() == n
    assert counts.max() - counts.min() <= 1
    X2, y2 = make(**kwargs)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    X3, _ = make(**kwargs, seed=1)
    assert not np.array_equal(X, X3)
    X4, _ = make(**kwargs, generator=np.random.default_rng(1))
    np.testing.assert_array_equal(X3, X4)
    assert not np.array_equal(y, np.sort(y))  # shuffled by default


def test_spirals_geometry():
    X, y = make_spirals(n_samples=300, n_classes=3, noise=0.0, shuffle=False)
    radius = np.hypot(X[:, 0], X[:, 1])
    assert radius.max() <= 1.0 + 1e-6
    np.testing.assert_allclose(radius[:100], np.linspace(0, 1, 100), atol=1e-6)
    np.testing.assert_array_equal(y, np.repeat([0, 1, 2], 100))
    # class k's arm is class 0's arm turned by k * 120 degrees
    angle = np.deg2rad(120)
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    np.testing.assert_allclose(X[100:200], X[:100] @ turn, atol=1e-5)


def test_moons_without_noise_lie_on_half_circles():
    X, y = make_moons(n_samples=100, noise=0.0)
    upper, lower = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1.0, atol=1e-6)
    assert upper[:, 1].min() >= -1e-6 and lower[:, 1].max() <= 0.5 + 1e-6


def test_blobs_with_given_centers():
    centers = np.array([[0.0, 0.0], [10.0, -10.0]])
    X, y = make_blobs(n_samples=400, centers=centers, cluster_std=[0.1, 0.5])
    np.testing.assert_allclose(X[y == 0].mean(axis=0), centers[0], atol=0.05)
    np.testing.assert_allclose(X[y == 1].mean(axis=0), centers[1], atol=0.15)
    assert X[y == 0].std() < 0.2 < X[y == 1].std()
    X, _ = make_blobs(n_samples=50, centers=3, cluster_std=0.0, center_box=(-2, 2))
    assert np.abs(X).max() <= 2 and len(np.unique(X, axis=0)) == 3


def test_xor_labels_and_table():
    X, y = make_xor(n_samples=400, noise=0.1)
    signs_differ = (X[:, 0] > 0) != (X[:, 1] > 0)
    np.testing.assert_array_equal(y, signs_differ.astype(np.int64))
    X4, y4 = make_xor_table()
    assert X4.dtype == np.float32 and y4.dtype == np.int64
    np.testing.assert_array_equal(y4, np.logical_xor(X4[:, 0], X4[:, 1]))


def test_regression_1d():
    X, y = make_regression_1d(n_samples=500, kind="sine", noise=0.0)
    assert X.shape == y.shape == (500, 1) and X.dtype == y.dtype == np.float32
    assert X.min() >= -3 and X.max() <= 3 and X.min() < -2.9 and X.max() > 2.9
    np.testing.assert_allclose(y, np.sin(X), atol=1e-6)
    _, y_noisy = make_regression_1d(n_samples=500, kind="sine", noise=0.5)
    assert 0.4 < np.std(y_noisy - np.sin(X)) < 0.6  # same x (same seed), added noise
    Xh, yh = make_regression_1d(n_samples=300, kind="hard", noise=0.0, seed=5)
    np.testing.assert_allclose(yh, hard_function(Xh.astype(np.float64)), atol=1e-6)
    np.testing.assert_array_equal(make_regression_1d(kind="hard")[1], make_regression_1d(kind="hard")[1])


def test_hard_function_has_flat_and_steep_parts():
    # f(1) = tanh(0) + 0.5 sin(3) e^-1
    assert hard_function(np.array(1.0)) == pytest.approx(0.5 * np.sin(3.0) * np.exp(-1.0))
    x = np.linspace(-3, 3, 6001)
    slope = np.abs(np.gradient(hard_function(x), x))
    assert slope[x < -2].max() < 0.05 and slope[x > 2].max() < 0.05  # flat ends
    assert slope[np.abs(x - 1) < 0.01].min() > 9  # the step: slope about 10
    assert hard_function(np.array(-3.0)) == pytest.approx(-1, abs=1e-3)
    assert hard_function(np.array(3.0)) == pytest.approx(1, abs=1e-3)


def test_generator_bad_inputs_name_function_and_value():
    with pytest.raises(ValueError, match=r"make_spirals.*n_samples=0"):
        make_spirals(n_samples=0)
    with pytest.raises(ValueError, match=r"make_moons.*noise=-1"):
        make_moons(noise=-1)
    with pytest.raises(ValueError, match=r"make_regression_1d.*kind='cos'"):
        make_regression_1d(kind="cos")
    with pytest.raises(ValueError, match=r"make_blobs.*cluster_std"):
        make_blobs(centers=3, cluster_std=[1.0, 2.0])
    with pytest.raises(ValueError, match=r"make_xor.*n_samples=1"):
        make_xor(n_samples=1)


def test_batch_sampler_gives_the_batches_and_excludes_the_batching_options():
    from minnet.utils.data import BatchSampler, SequentialSampler
    assert list(BatchSampler(SequentialSampler(range(10)), 3, False)) == \
        [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert len(BatchSampler(range(10), 3, True)) == 3
    X, y = np.arange(20.0).reshape(10, 2), np.arange(10)
    loader = DataLoader(TensorDataset(minnet.tensor(X), minnet.tensor(y)),
                        batch_sampler=[[9, 0], [4, 5, 6]])
    assert len(loader) == 2
    assert [batch[1].tolist() for batch in loader] == [[9, 0], [4, 5, 6]]
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(TensorDataset(minnet.tensor(X)), batch_size=4, batch_sampler=[[0]])
    with pytest.raises(ValueError, match="BatchSampler: batch_size should be a positive"):
        BatchSampler(range(3), 0, False)


def test_weighted_and_subset_random_samplers():
    from minnet.utils.data import SubsetRandomSampler, WeightedRandomSampler
    drawn = list(WeightedRandomSampler([0.1, 0.0, 0.9], 2000,
                                       generator=np.random.default_rng(0)))
    counts = np.bincount(drawn, minlength=3)
    assert counts[1] == 0 and 0.87 < counts[2] / 2000 < 0.93
    once = list(WeightedRandomSampler([1.0, 2.0, 3.0], 3, replacement=False,
                                      generator=np.random.default_rng(1)))
    assert sorted(once) == [0, 1, 2]
    with pytest.raises(ValueError, match="cannot draw 3 distinct indices"):
        WeightedRandomSampler([1.0, 0.0, 1.0], 3, replacement=False)
    order = list(SubsetRandomSampler([3, 5, 7, 9], generator=np.random.default_rng(0)))
    assert sorted(order) == [3, 5, 7, 9] and len(SubsetRandomSampler([3, 5])) == 2


def test_strings_are_batched_as_lists_as_in_pytorch():
    from minnet.utils.data import default_collate
    words, labels = default_collate([("cat", 1), ("dog", 0)])
    assert words == ["cat", "dog"] and labels.tolist() == [1, 0]
    assert default_collate(["a", "b"]) == ["a", "b"]
    loader = DataLoader(TensorDataset(minnet.ones(3)), batch_size=2, multiprocessing_context=None,
                        pin_memory_device="", in_order=True)  # worker options: ignored
    assert len(loader) == 2


def test_an_endless_sampler_is_read_batch_by_batch():
    """makemore's InfiniteDataLoader: RandomSampler(ds, replacement=True, num_samples=1e10).
    The indices used to be drawn all at once (74.5 GiB)."""
    from minnet.utils.data import RandomSampler
    ds = TensorDataset(minnet.arange(10))
    sampler = RandomSampler(ds, replacement=True, num_samples=int(1e10),
                            generator=np.random.default_rng(0))
    batches = iter(DataLoader(ds, batch_size=4, sampler=sampler))
    for _ in range(3):
        (x,) = next(batches)
        assert x.shape == (4,) and 0 <= x.numpy().min() and x.numpy().max() < 10
    assert len(list(DataLoader(ds, batch_size=4, sampler=range(10), drop_last=True))) == 2
    assert [b[0].tolist() for b in DataLoader(ds, batch_size=4, sampler=range(10))][-1] == [8, 9]


def test_an_iterable_dataset_is_batched_in_stream_order():
    from minnet.utils.data import IterableDataset

    class Squares(IterableDataset):
        def __iter__(self):
            for i in range(7):
                yield np.array([float(i)]), i * i

    batches = list(DataLoader(Squares(), batch_size=3))
    assert [b[1].tolist() for b in batches] == [[0, 1, 4], [9, 16, 25], [36]]
    assert batches[0][0].shape == (3, 1)
    assert len(list(DataLoader(Squares(), batch_size=3, drop_last=True))) == 2
    with pytest.raises(TypeError):
        len(DataLoader(Squares(), batch_size=3))  # the stream has no length
    with pytest.raises(ValueError, match="IterableDataset: expected unspecified shuffle"):
        DataLoader(Squares(), shuffle=True)
    assert "a stream" in repr(DataLoader(Squares()))
