"""The LR range test on a tiny linear-regression problem.

For y = X w + noise with unit-variance inputs, the MSE loss has Hessian about
2 I, so plain SGD is stable for lr < 1 and fastest near 0.5. A sensible range
test must show a falling loss somewhere in 1e-2..1 and a blow-up beyond ~1.
"""
import numpy as np
import pytest

import minnet
from minnet import nn, optim


def regression_problem(n=256, features=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, features)).astype(np.float32)
    w = rng.standard_normal((features, 1)).astype(np.float32)
    y = (X @ w + 0.1 * rng.standard_normal((n, 1))).astype(np.float32)
    return X, y


def make_model():
    return nn.Linear(5, 1, generator=np.random.default_rng(1))


def test_curve_is_sensible_and_suggestion_is_in_the_useful_range():
    X, y = regression_problem()
    model = make_model()
    result = optim.lr_find(model, nn.MSELoss(), (X, y), batch_size=64, seed=0)
    lrs = result.lrs
    assert lrs[0] == pytest.approx(1e-7)
    ratios = lrs[1:] / lrs[:-1]
    np.testing.assert_allclose(ratios, (10 / 1e-7) ** (1 / 99), rtol=1e-10)  # exponential
    assert result.diverged and len(lrs) < 100 and lrs[-1] > 1.0  # blew up past lr ~ 1
    assert np.all(np.diff(lrs) > 0)
    # the raw loss drops by orders of magnitude where the lr is useful
    useful = (lrs > 0.05) & (lrs < 1.0)
    assert result.raw_losses[useful].min() < 0.05 * result.raw_losses[:10].mean()
    suggested = result.suggestion()
    assert 0.02 < suggested < 1.0, result
    assert 0.01 < result.suggestion("min/10") < 0.2
    print(f"\nlr_find: {len(lrs)} steps, suggestion {suggested:.3g}, "
          f"min/10 {result.suggestion('min/10'):.3g}, {result.stop_reason}")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_suggestion_is_stable_across_seeds(seed):
    X, y = regression_problem()
    result = optim.lr_find(make_model(), nn.MSELoss(), (X, y), batch_size=64, seed=seed)
    assert 0.02 < result.suggestion() < 1.0, result


def test_training_with_the_suggestion_works_and_beats_a_tiny_lr():
    X, y = regression_problem()
    model = make_model()
    suggested = optim.lr_find(model, nn.MSELoss(), (X, y), batch_size=64, seed=0).suggestion()

    def final_loss(lr):
        trained = make_model()
        opt = optim.SGD(trained.parameters(), lr=lr)
        x_all, y_all = minnet.tensor(X), minnet.tensor(y)
        for _ in range(50):
            opt.zero_grad()
            loss = nn.MSELoss()(trained(x_all), y_all)
            loss.backward()
            opt.step()
        return loss.item()

    assert final_loss(suggested) < 0.05 < final_loss(1e-4)


def test_model_and_optimizer_are_restored():
    X, y = regression_problem()
    model = make_model()
    model.eval()
    weight_array = model.weight.numpy()
    weights_before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    model.weight.grad = minnet.tensor(np.full((1, 5), 7.0, dtype=np.float32))
    caller_opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    hook_calls = []
    caller_opt.register_step_post_hook(lambda *a: hook_calls.append(1))

    result = optim.lr_find(model, nn.MSELoss(), (X, y), caller_opt, seed=0)

    assert len(result.lrs) > 10
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), weights_before[key])
    assert model.weight.numpy() is weight_array  # restored in place
    np.testing.assert_array_equal(model.weight.grad.numpy(), np.full((1, 5), 7.0))
    assert model.bias.grad is None
    assert model.training is False
    assert hook_calls == [] and len(caller_opt.state) == 0
    assert caller_opt.param_groups[0]["lr"] == 0.01
    assert caller_opt.param_groups[0]["momentum"] == 0.9


def test_optimizer_instance_options_are_used():
    """Momentum diverges earlier than plain SGD at the same lrs: the clone kept momentum=0.9."""
    X, y = regression_problem()
    model = make_model()
    plain = optim.lr_find(model, nn.MSELoss(), (X, y), batch_size=64, seed=0)
    heavy = optim.lr_find(model, nn.MSELoss(), (X, y),
                          optim.SGD(model.parameters(), lr=1.0, momentum=0.9),
                          batch_size=64, seed=0)
    assert heavy.lrs[-1] < plain.lrs[-1]
    with pytest.raises(ValueError, match="not this model's"):
        optim.lr_find(model, nn.MSELoss(), (X, y), optim.SGD(make_model().parameters()))


def test_factory_and_data_loader_are_accepted():
    X, y = regression_problem()
    loader = minnet.data.DataLoader(minnet.data.TensorDataset(X, y), batch_size=64, shuffle=True,
                                    seed=0)
    result = optim.lr_find(make_model(), nn.MSELoss(), loader,
                           lambda params: optim.Adam(params), num_iter=60, end_lr=100.0)
    # 4 batches per pass: the loader was cycled many times
    assert len(result.lrs) > 20
    assert np.all(np.isfinite(result.raw_losses[:-1]))


def test_smoothing_formula():
    X, y = regression_problem()
    raw_only = optim.lr_find(make_model(), nn.MSELoss(), (X, y), smooth=0.0, num_iter=20, diverge_threshold=100.0,
                             end_lr=1e-3, seed=0)
    np.testing.assert_allclose(raw_only.losses, raw_only.raw_losses)
    smoothed = optim.lr_find(make_model(), nn.MSELoss(), (X, y), smooth=0.9, num_iter=20, diverge_threshold=100.0,
                             end_lr=1e-3, seed=0)
    np.testing.assert_array_equal(smoothed.raw_losses, raw_only.raw_losses)  # same seed
    beta, average, expected = 0.9, 0.0, []
    for i, loss in enumerate(smoothed.raw_losses):
        average = beta * average + (1 - beta) * loss
        expected.append(average / (1 - beta ** (i + 1)))
    np.testing.assert_allclose(smoothed.losses, expected, rtol=1e-12)
    assert smoothed.losses[0] == smoothed.raw_losses[0]  # bias correction: no pull towards 0
    assert not smoothed.diverged and len(smoothed.lrs) == 20


def test_nonfinite_loss_stops_the_test():
    X, y = regression_problem()
    result = optim.lr_find(make_model(), nn.MSELoss(), (X, y), end_lr=1e6,
                           diverge_threshold=float("inf"), seed=0)
    assert result.diverged and not np.isfinite(result.raw_losses[-1])
    assert "loss became" in result.stop_reason


def test_plot_returns_axes():
    import matplotlib
    matplotlib.use("Agg")
    X, y = regression_problem()
    result = optim.lr_find(make_model(), nn.MSELoss(), (X, y), batch_size=64, seed=0)
    ax = result.plot()
    assert ax.get_xscale() == "log" and len(ax.lines) == 3


def test_errors():
    X, y = regression_problem()
    model = make_model()
    loss_fn = nn.MSELoss()
    with pytest.raises(ValueError, match="start_lr < end_lr"):
        optim.lr_find(model, loss_fn, (X, y), start_lr=1.0, end_lr=0.1)
    with pytest.raises(ValueError, match="num_iter"):
        optim.lr_find(model, loss_fn, (X, y), num_iter=1)
    with pytest.raises(ValueError, match="smooth"):
        optim.lr_find(model, loss_fn, (X, y), smooth=1.0)
    with pytest.raises(ValueError, match="different numbers of samples"):
        optim.lr_find(model, loss_fn, (X, y[:10]))
    with pytest.raises(ValueError, match="no batches"):
        optim.lr_find(model, loss_fn, iter([]))
    with pytest.raises(TypeError, match="optimizer"):
        optim.lr_find(model, loss_fn, (X, y), "adam")
    with pytest.raises(ValueError, match="unknown method"):
        optim.lr_find(model, loss_fn, (X, y), num_iter=20, seed=0).suggestion("best")
