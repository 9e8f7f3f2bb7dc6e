"""minnet.serialization: .npz round trips, nested state, atomic writes, no pickle."""
import os
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import minnet.nn as nn
from minnet import Tensor
from minnet import serialization
from minnet.serialization import load, save


def small_model():
    return nn.Sequential(nn.Linear(4, 3, generator=np.random.default_rng(0)),
                         nn.BatchNorm1d(3), nn.ReLU(),
                         nn.Linear(3, 2, generator=np.random.default_rng(1)))


def test_state_dict_round_trip_restores_model(tmp_path):
    model = small_model()
    # one training step moves the BatchNorm running statistics
    model(Tensor(np.random.default_rng(2).standard_normal((5, 4)).astype(np.float32)))
    path = tmp_path / "model.npz"
    save(model.state_dict(), path)
    loaded = load(path)
    assert isinstance(loaded, OrderedDict)
    assert list(loaded) == list(model.state_dict())
    for name, value in model.state_dict().items():
        assert isinstance(loaded[name], Tensor)
        assert loaded[name].dtype == value.dtype
        np.testing.assert_array_equal(loaded[name].data, value.data)
    fresh = small_model()
    fresh.load_state_dict(loaded)
    x = Tensor(np.ones((2, 4), dtype=np.float32))
    model.eval(), fresh.eval()
    np.testing.assert_array_equal(fresh(x).data, model(x).data)
    assert int(fresh[1].num_batches_tracked.item()) == 1


def test_file_is_a_plain_npz_readable_without_pickle(tmp_path):
    path = tmp_path / "w.npz"
    save({"weight": Tensor(np.arange(6.0).reshape(2, 3))}, path)
    with np.load(path, allow_pickle=False) as archive:
        np.testing.assert_array_equal(archive["weight"], np.arange(6.0).reshape(2, 3))
    # and a plain np.savez file loads as tensors
    np.savez(tmp_path / "plain.npz", a=np.ones(2), b=np.zeros((1, 1), dtype=np.int64))
    plain = load(tmp_path / "plain.npz")
    assert list(plain) == ["a", "b"] and isinstance(plain["b"], Tensor)
    assert plain["b"].dtype == np.int64


def test_nested_dicts_lists_and_scalars_round_trip(tmp_path):
    state = {"step": 3, "lr": 0.1, "nesterov": False, "note": None,
             "state": {"0": {"momentum_buffer": np.ones((2, 2), dtype=np.float32)}},
             "betas": [0.9, 0.999], "weight": Tensor(np.array([1.0, 2.0]))}
    save(state, tmp_path / "opt.npz")
    loaded = load(tmp_path / "opt.npz")
    assert loaded["step"] == 3 and isinstance(loaded["step"], int)
    assert loaded["lr"] == 0.1 and loaded["nesterov"] is False and loaded["note"] is None
    assert loaded["betas"] == [0.9, 0.999]
    buffer = loaded["state"]["0"]["momentum_buffer"]
    assert isinstance(buffer, np.ndarray) and buffer.dtype == np.float32
    np.testing.assert_array_equal(buffer, np.ones((2, 2)))
    assert isinstance(loaded["weight"], Tensor)
    assert list(loaded) == list(state)


def test_save_writes_exactly_the_given_path(tmp_path):
    save({"a": np.zeros(1)}, tmp_path / "checkpoint.bin")
    assert os.listdir(tmp_path) == ["checkpoint.bin"]
    assert zipfile.is_zipfile(tmp_path / "checkpoint.bin")


def test_failed_write_leaves_no_partial_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    save({"a": np.array([1.0])}, path)
    before = path.read_bytes()

    def crash_midway(file, **arrays):
        file.write(b"PK\x03\x04 half an archive")
        raise OSError("disk full")

    monkeypatch.setattr(serialization.np, "savez", crash_midway)
    with pytest.raises(OSError, match="disk full"):
        save({"a": np.array([2.0])}, path)
    assert path.read_bytes() == before          # old file intact
    assert os.listdir(tmp_path) == ["model.npz"]  # no temporary file left behind
    with pytest.raises(OSError):
        save({"a": np.array([2.0])}, tmp_path / "new.npz")
    assert not (tmp_path / "new.npz").exists()


def test_save_rejects_what_it_cannot_store(tmp_path):
    with pytest.raises(TypeError, match="state_dict"):
        save(small_model(), tmp_path / "m.npz")
    with pytest.raises(TypeError, match="object"):
        save({"a": np.array([1, "x"], dtype=object)}, tmp_path / "m.npz")
    with pytest.raises(ValueError, match="must not contain"):
        save({"a/b": np.zeros(1)}, tmp_path / "m.npz")
    with pytest.raises(TypeError, match="cannot save"):
        save({"f": lambda: 0}, tmp_path / "m.npz")
    assert os.listdir(tmp_path) == []


def test_load_errors_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        load(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="npz"):
        load(tmp_path / "junk.npz")
    np.save(tmp_path / "single.npy", np.zeros(3))
    with pytest.raises(ValueError, match="single array"):
        load(tmp_path / "single.npy")
