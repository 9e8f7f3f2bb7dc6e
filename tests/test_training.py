"""End to end: whole training runs that must reach a stated quality.

Each run takes a few seconds at most. They exercise everything together --
data, layers, losses, autograd, optimizers, the `fit`/`evaluate` helpers --
so a subtle bug anywhere (a wrong gradient, an optimizer that ignores
momentum, leaking statistics) shows up here as a network that stops learning.
"""
import numpy as np
import pytest

import minnet
from minnet import nn, optim
from minnet.data import DataLoader, TensorDataset, make_regression_1d, make_xor_table
from minnet.train import (
    accuracy,
    confusion_matrix,
    digits_experiment,
    evaluate,
    fit,
    format_confusion,
    format_digits,
)


# --------------------------------------------------------------------------
# the main job: digits
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits_run():
    return digits_experiment(epochs=25, seed=0)


def test_digits_mlp_reaches_97_percent_test_accuracy(digits_run):
    assert digits_run.test_accuracy >= 0.97, digits_run.history.last


def test_digits_training_loss_falls_and_training_set_is_learned(digits_run):
    epochs = digits_run.history.epochs
    assert epochs[-1].train_loss < 0.1 * epochs[0].train_loss
    assert epochs[-1].train_accuracy >= 0.99


def test_digits_confusion_matrix_agrees_with_accuracy(digits_run):
    matrix = digits_run.confusion
    assert matrix.shape == (10, 10)
    assert matrix.sum() == len(digits_run.y_test)
    assert np.trace(matrix) / matrix.sum() == pytest.approx(digits_run.test_accuracy)
    # stratified split: every digit is in the test set about equally often
    assert matrix.sum(axis=1).min() >= 40


def test_digits_standardizer_sees_only_the_training_split():
    from minnet.data import Standardizer, load_digits, train_test_split

    X, y = load_digits(return_X_y=True)
    X_train, X_test, _, _ = train_test_split(X, y, test_size=0.25, seed=0, stratify=y)
    with pytest.warns(UserWarning):  # the always-blank border pixels
        train_only = Standardizer().fit(X_train)
    with pytest.warns(UserWarning):
        everything = Standardizer().fit(X)
    # the statistics differ, so fitting on all data would leak test information
    assert not np.allclose(train_only.mean_, everything.mean_)


def test_same_seed_gives_identical_losses_different_seed_does_not():
    first = digits_experiment(epochs=2, seed=3, hidden=32)
    second = digits_experiment(epochs=2, seed=3, hidden=32)
    other = digits_experiment(epochs=2, seed=4, hidden=32)
    assert first.history.step_losses == second.history.step_losses
    assert np.array_equal(first.predictions, second.predictions)
    assert first.history.step_losses != other.history.step_losses


# --------------------------------------------------------------------------
# small classic problems
# --------------------------------------------------------------------------
def test_xor_is_solved_on_all_four_points():
    X, y = make_xor_table()
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(2, 8, generator=rng), nn.Tanh(),
                          nn.Linear(8, 2, generator=rng))
    optimizer = optim.Adam(model.parameters(), lr=0.05)
    loader = DataLoader(TensorDataset(X, y), batch_size=4)
    history = fit(model, loader, nn.CrossEntropyLoss(), optimizer, epochs=300)
    result = evaluate(model, X, y, nn.CrossEntropyLoss())
    assert result["accuracy"] == 1.0, result["predictions"]
    assert result["loss"] < 0.05
    assert history.step_losses[-1] < history.step_losses[0]


def test_a_linear_model_cannot_solve_xor():
    # the control experiment: without a hidden layer, XOR stays unsolved
    X, y = make_xor_table()
    model = nn.Linear(2, 2, generator=np.random.default_rng(0))
    optimizer = optim.Adam(model.parameters(), lr=0.05)
    fit(model, DataLoader(TensorDataset(X, y), batch_size=4), nn.CrossEntropyLoss(),
        optimizer, epochs=300)
    assert evaluate(model, X, y)["accuracy"] <= 0.75


def test_one_hidden_layer_fits_sine_to_mse_below_1e_3():
    X, y = make_regression_1d(n_samples=256, kind="sine", noise=0.0, seed=0)
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(1, 32, generator=rng), nn.Tanh(),
                          nn.Linear(32, 1, generator=rng))
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    loader = DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True, seed=0)
    fit(model, loader, nn.MSELoss(), optimizer, epochs=300)
    # judge on a fresh grid over the whole interval, not only the training points
    grid = np.linspace(-3, 3, 601, dtype=np.float32).reshape(-1, 1)
    result = evaluate(model, grid, np.sin(grid), nn.MSELoss())
    assert result["loss"] < 1e-3
    assert result["accuracy"] is None  # regression: no accuracy


# --------------------------------------------------------------------------
# the helpers themselves
# --------------------------------------------------------------------------
def test_evaluate_restores_mode_records_no_graph_and_chunks_agree():
    X, y = make_xor_table()
    model = nn.Sequential(nn.Linear(2, 3, generator=np.random.default_rng(1)), nn.Dropout(0.5),
                          nn.Linear(3, 2, generator=np.random.default_rng(2)))
    model.train()
    whole = evaluate(model, X, y, nn.CrossEntropyLoss())
    chunked = evaluate(model, X, y, nn.CrossEntropyLoss(), batch_size=3)
    assert model.training  # restored
    # eval mode: Dropout is off, so the two passes agree exactly
    np.testing.assert_allclose(whole["outputs"], chunked["outputs"], rtol=1e-6)
    assert whole["loss"] == pytest.approx(chunked["loss"], rel=1e-6)
    assert all(p.grad is None for p in model.parameters())


def test_accuracy_and_confusion_matrix_by_hand():
    logits = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [0.0, 0.0, 1.0], [5.0, 0.0, 0.0]])
    targets = np.array([0, 2, 2, 1])
    assert accuracy(minnet.tensor(logits), targets) == 0.5
    matrix = confusion_matrix(targets, logits.argmax(axis=1), num_classes=3)
    expected = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 1]])
    np.testing.assert_array_equal(matrix, expected)
    assert format_confusion(matrix)[3].split() == ["2", ".", "1", "1"]
    with pytest.raises(ValueError, match="accuracy"):
        accuracy(logits, targets[:3])


def test_format_digits_draws_blank_and_full_pixels():
    images = np.stack([np.zeros(64), np.full(64, 16.0)])
    lines = format_digits(images, ["blank", "full"])
    assert len(lines) == 9
    assert lines[0] == " " * 16 + "   " + "@" * 16
    assert lines[-1].split() == ["blank", "full"]


def test_fit_rejects_negative_epochs():
    model = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="epochs"):
        fit(model, [], nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), epochs=-1)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # inf weights: NumPy says so, on purpose
def test_fit_stops_at_the_first_nonfinite_loss_when_asked():
    from minnet.train import TrainingDiverged
    X = np.ones((8, 2), dtype=np.float32)
    y = np.zeros(8, dtype=np.int64)
    loader = DataLoader(TensorDataset(X, y), batch_size=4)

    def model_and_optimizer():
        model = nn.Linear(2, 2, generator=np.random.default_rng(0))
        model.weight.data[...] = np.inf          # the first forward is already non-finite
        return model, optim.SGD(model.parameters(), lr=0.1)

    model, optimizer = model_and_optimizer()
    with pytest.raises(TrainingDiverged) as caught:
        fit(model, loader, nn.CrossEntropyLoss(), optimizer, epochs=3, stop_on_nonfinite=True)
    assert caught.value.step == 0 and caught.value.epoch == 1
    assert len(caught.value.history.step_losses) == 1 and "step 0 (epoch 1)" in str(caught.value)
    model, optimizer = model_and_optimizer()      # the default trains on, as before
    history = fit(model, loader, nn.CrossEntropyLoss(), optimizer, epochs=3)
    assert len(history.step_losses) == 6


def test_plot_digits_losses_draws_a_picture(tmp_path):
    pytest.importorskip("matplotlib")
    from minnet.train import plot_digits_losses
    result = digits_experiment(epochs=2, hidden=16)
    plot_digits_losses(result, tmp_path / "loss.svg")
    assert (tmp_path / "loss.svg").read_text().lstrip().startswith("<?xml")
