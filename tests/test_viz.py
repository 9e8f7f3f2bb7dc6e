"""minnet.viz: every picture is checked by its pixels (something drawn where the data is).

Pictures are rendered to RGB arrays (``fig.canvas.buffer_rgba()``); a data
point (x, y) is mapped to its pixel through the Axes' own transform, so the
tests ask "is the line's colour at the pixel where this value belongs?" and
"is it absent where no data is?".
"""
import base64
import io
import os
import subprocess
import sys
from types import SimpleNamespace

import matplotlib.image as mpimg
import numpy as np
import pytest
from matplotlib.colors import to_rgb

import minnet
from minnet import nn, optim
from minnet.autograd import Function
from minnet.debug.monitor import Monitor
from minnet.debug.report import Finding, Report
from minnet.gradcheck.result import GradcheckResult, InputCheck
from minnet.optim.lr_find import LRFindResult
from minnet.viz import (plot_activation_histograms, plot_curves, plot_dead_fraction,
                        plot_decision_boundary, plot_function_fit, plot_gradcheck,
                        plot_grad_norms, plot_loss, plot_lr_find, plot_update_ratio,
                        plot_weight_histograms, render_report)
from minnet.viz._common import (BAND_COLOR, MARK_COLOR, SEVERITY_COLORS, TRAIN_COLOR,
                                VAL_COLOR, new_figure)
from minnet.viz.boundary import CLASS_COLORS, light


# -- pixels ----------------------------------------------------------------------------------------
def render(figure) -> np.ndarray:
    figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba())[..., :3].astype(int)


def pixel_of(ax, x, y, image) -> tuple:
    """(row, column) in the rendered array of data point (x, y)."""
    column, from_bottom = ax.transData.transform((x, y))
    return int(round(image.shape[0] - from_bottom)), int(round(column))


def has_color(image, row, column, color, radius=3, tolerance=40) -> bool:
    """Some pixel within ``radius`` of (row, column) is ``color`` (antialiasing tolerated)."""
    target = np.array(to_rgb(color)) * 255
    window = image[max(0, row - radius):row + radius + 1, max(0, column - radius):column + radius + 1]
    return bool((np.abs(window - target).max(axis=-1) <= tolerance).any())


def color_at(image, row, column) -> np.ndarray:
    return image[row, column]


# -- a Monitor-like object with exactly known numbers ---------------------------------------------
class FakeMonitor:
    """The Monitor's reading API over hand-made arrays (exact control of what is drawn)."""

    def __init__(self, steps, layers, scalars=None, params=None, hist=None, layer_types=None,
                 layer_of_param=None):
        self.steps = np.asarray(steps)
        self._layers = layers                  # {layer: {stat: array}}
        self._scalars = scalars or {}
        self._params = params or {}            # {name: {stat: array}}
        self._hist = hist or {}
        self.layer_types = layer_types or {}
        self.layer_of_param = layer_of_param or {}

    layers = property(lambda self: list(self._layers))
    param_names = property(lambda self: list(self._params))
    scalar_names = property(lambda self: list(self._scalars))
    n_steps = property(lambda self: max((len(v) for v in self._scalars.values()), default=0))

    def activation(self, layer, stat):
        return np.asarray(self._layers[layer][stat], float)

    def histogram(self, layer):
        return self._hist[layer]

    def param(self, name, stat):
        return np.asarray(self._params[name][stat], float)

    def scalar(self, name):
        return np.asarray(self._scalars[name], float)


N_STEPS = 40
STEPS = np.arange(N_STEPS)
EDGES = np.linspace(-2.0, 2.0, 33)  # 32 bins of width 0.125


def make_fake_monitor() -> FakeMonitor:
    counts = np.zeros((N_STEPS, 32), dtype=int)
    counts[:20, 4] = 100    # steps 0-19: every value in bin 4 ([-1.5, -1.375))
    counts[20:, 27] = 100   # steps 20-39: every value in bin 27 ([1.375, 1.5))
    relu_counts = np.zeros((N_STEPS, 32), dtype=int)
    relu_counts[:, 16] = 50
    relu_counts[:, 20] = 50
    layers = {"0 (Linear)": {"min": -np.ones(N_STEPS), "zero_fraction": np.zeros(N_STEPS),
                             "dead_fraction": np.zeros(N_STEPS)},
              "1 (ReLU)": {"min": np.zeros(N_STEPS), "zero_fraction": np.full(N_STEPS, 0.8),
                           "dead_fraction": np.full(N_STEPS, 0.75)},
              "2 (Linear)": {"min": -np.ones(N_STEPS), "zero_fraction": np.zeros(N_STEPS),
                             "dead_fraction": np.zeros(N_STEPS)}}
    params = {"0.weight": {"grad_norm": np.full(N_STEPS, 1e-1), "update_ratio": np.full(N_STEPS, 1e-1)},
              "0.bias": {"grad_norm": np.zeros(N_STEPS), "update_ratio": np.full(N_STEPS, np.nan)},
              "2.weight": {"grad_norm": np.full(N_STEPS, 1e-5), "update_ratio": np.full(N_STEPS, 3e-2)},
              "2.bias": {"grad_norm": np.zeros(N_STEPS), "update_ratio": np.full(N_STEPS, np.nan)}}
    val = np.full(N_STEPS, np.nan)
    val[::10] = 2.0
    return FakeMonitor(
        STEPS, layers,
        scalars={"loss": np.linspace(1.0, 0.2, N_STEPS), "val_loss": val,
                 "lr": np.full(N_STEPS, 0.1), "accuracy": np.linspace(0.5, 0.9, N_STEPS)},
        params=params, hist={"0 (Linear)": (counts, EDGES), "1 (ReLU)": (relu_counts, EDGES),
                             "2 (Linear)": (counts, EDGES)},
        layer_types={"0 (Linear)": "Linear", "1 (ReLU)": "ReLU", "2 (Linear)": "Linear"},
        layer_of_param={"0.weight": "0 (Linear)", "0.bias": "0 (Linear)",
                        "2.weight": "2 (Linear)", "2.bias": "2 (Linear)"})


@pytest.fixture(scope="module")
def fake():
    return make_fake_monitor()


# -- backend ---------------------------------------------------------------------------------------
def _python(code: str, **env) -> str:
    environment = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    environment.update(env)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=environment, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_import_minnet_does_not_load_matplotlib_and_viz_forces_agg(tmp_path):
    out = _python("import sys, minnet; print('matplotlib' in sys.modules); import minnet.viz, "
                  "matplotlib; print(matplotlib.get_backend().lower())",
                  MPLCONFIGDIR=str(tmp_path))  # no user matplotlibrc choosing a backend
    assert out.split() == ["False", "agg"]


def test_viz_keeps_a_backend_the_user_chose():
    assert _python("import matplotlib; matplotlib.use('pdf'); import minnet.viz; "
                   "print(matplotlib.get_backend().lower())") == "pdf"
    assert _python("import minnet.viz, matplotlib; print(matplotlib.get_backend().lower())",
                   MPLBACKEND="svg") == "svg"


# -- curves ----------------------------------------------------------------------------------------
def test_loss_curve_drawn_where_the_losses_are():
    losses = np.exp(-np.arange(100) / 20.0)  # 1 -> 0.007
    figure = plot_loss(losses, log=True)
    ax = figure.axes[0]
    image = render(figure)
    for step in (10, 50, 90):
        assert has_color(image, *pixel_of(ax, step, losses[step], image), TRAIN_COLOR)
    # nothing drawn far from the curve: at step 80 the loss is 0.018, not 0.5
    assert not has_color(image, *pixel_of(ax, 80, 0.5, image), TRAIN_COLOR)
    assert ax.get_yscale() == "log"


def test_curves_from_a_monitor_pair_train_and_sparse_validation(fake):
    figure = plot_curves(fake)
    titles = [ax.get_ylabel() for ax in figure.axes]
    assert titles == ["loss", "accuracy"]  # val_loss joins the loss panel; lr is left out
    ax = figure.axes[0]
    image = render(figure)
    for step in (0, 10, 20, 30):  # validation measured every 10 steps, at 2.0
        assert has_color(image, *pixel_of(ax, step, 2.0, image), VAL_COLOR)
    assert has_color(image, *pixel_of(ax, 20, fake.scalar("loss")[20], image), TRAIN_COLOR)
    # sparse validation is not a blow-up: no non-finite marker
    assert not any("non-finite" in text.get_text() for text in ax.get_legend().get_texts())


def test_smoothing_draws_the_moving_average():
    rng = np.random.default_rng(0)
    noisy = 1.0 + rng.choice([-0.5, 0.5], size=200)  # mean 1, every point 0.5 away from it
    figure = plot_curves({"loss": noisy}, smooth=0.95)
    ax = figure.axes[0]
    image = render(figure)
    smooth_line = ax.get_lines()[1]
    assert smooth_line.get_linestyle() == "-" and "smoothed" in smooth_line.get_label()
    # the smoothed curve runs near 1.0 late in the run, where no raw point ever is
    late = smooth_line.get_ydata()[150:]
    assert np.all(np.abs(late - 1.0) < 0.3)
    row, column = pixel_of(ax, 180, smooth_line.get_ydata()[180], image)
    assert has_color(image, row, column, TRAIN_COLOR, tolerance=30)


def test_blow_up_of_the_loss_is_marked():
    losses = np.r_[np.linspace(1, 2, 30), np.full(10, np.nan)]
    figure = plot_loss(losses)
    legend = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert "loss non-finite from step 30" in legend


def test_unknown_scalar_lists_what_was_logged(fake):
    with pytest.raises(KeyError, match=r"no scalar\(s\) \['acc'\].*'accuracy'"):
        plot_curves(fake, names=["acc"])


# -- layer pictures from a Monitor ------------------------------------------------------------------
def test_activation_histogram_is_bright_where_the_values_are(fake):
    figure = plot_activation_histograms(fake, layers=["0 (Linear)"])
    ax = figure.axes[0]
    image = render(figure)
    before_low = color_at(image, *pixel_of(ax, 10, -1.44, image))    # bin 4, steps < 20: full
    before_high = color_at(image, *pixel_of(ax, 10, 1.44, image))    # bin 27, steps < 20: empty
    after_low = color_at(image, *pixel_of(ax, 30, -1.44, image))
    after_high = color_at(image, *pixel_of(ax, 30, 1.44, image))
    assert before_low.sum() > before_high.sum() + 200   # bright vs black
    assert after_high.sum() > after_low.sum() + 200
    assert np.array_equal(before_high, after_low)       # both empty: the same colour


def test_unknown_layer_lists_the_known_ones(fake):
    with pytest.raises(KeyError, match=r"unknown layer 'conv1'.*'0 \(Linear\)', '1 \(ReLU\)'"):
        plot_activation_histograms(fake, layers=["conv1"])
    # a layer can also be named by its path or its position
    figure = plot_activation_histograms(fake, layers=["1", -1])
    assert [ax.get_title() for ax in figure.axes if ax.get_title()] == ["1 (ReLU)", "2 (Linear)"]


def test_dead_fraction_defaults_to_relu_layers_and_draws_the_level(fake):
    figure = plot_dead_fraction(fake, threshold=0.5)
    ax = figure.axes[0]
    line = ax.get_lines()[0]
    assert [l.get_label() for l in ax.get_lines()] == ["1 (ReLU)", "threshold 0.5"]
    image = render(figure)
    assert has_color(image, *pixel_of(ax, 20, 0.75, image), line.get_color())
    assert not has_color(image, *pixel_of(ax, 20, 0.25, image), line.get_color())
    assert has_color(image, *pixel_of(ax, 5, 0.5, image), BAND_COLOR)


def test_grad_norms_per_layer_on_a_log_axis(fake):
    figure = plot_grad_norms(fake)
    ax = figure.axes[0]
    assert ax.get_yscale() == "log"
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"0 (Linear)", "2 (Linear)"}
    image = render(figure)
    # layer 0: sqrt(0.1^2 + 0^2) = 0.1; layer 2: 1e-5 -- four decades apart on the picture
    assert has_color(image, *pixel_of(ax, 20, 1e-1, image), lines["0 (Linear)"].get_color())
    assert has_color(image, *pixel_of(ax, 20, 1e-5, image), lines["2 (Linear)"].get_color())
    assert not has_color(image, *pixel_of(ax, 20, 1e-3, image), lines["0 (Linear)"].get_color())


def test_grad_norms_by_param_and_bad_options(fake):
    figure = plot_grad_norms(fake, by="param", params=["2.weight"])
    assert [l.get_label() for l in figure.axes[0].get_lines()] == ["2 (Linear) weight"]
    with pytest.raises(ValueError, match="by must be 'layer' or 'param'"):
        plot_grad_norms(fake, by="unit")
    with pytest.raises(KeyError, match=r"unknown parameter\(s\) \['9.weight'\].*'0.weight'"):
        plot_grad_norms(fake, by="param", params=["9.weight"])


def test_update_ratio_band_is_shaded_over_its_rows(fake):
    figure = plot_update_ratio(fake)
    ax = figure.axes[0]
    image = render(figure)
    shade = 255 * (0.85 * np.ones(3) + 0.15 * np.array(to_rgb(BAND_COLOR)))
    # inside the band (1e-4 .. 1e-2, away from the dashed target and the data lines)
    for value in (1.5e-4, 1.5e-3):
        row, column = pixel_of(ax, 7, value, image)
        assert np.abs(color_at(image, row, column) - shade).max() < 12, value
    # just outside it: white
    for value in (4.5e-5, 6.5e-2):  # between minor grid lines
        row, column = pixel_of(ax, 7, value, image)
        assert np.all(color_at(image, row, column) > 245), value
    # the band's edges sit at 1e-4 and 1e-2: rows just inside are shaded, just outside white
    top_row = pixel_of(ax, 7, 1e-2, image)[0]
    bottom_row = pixel_of(ax, 7, 1e-4, image)[0]
    column = pixel_of(ax, 7, 1e-3, image)[1]
    assert np.abs(image[top_row + 3, column] - shade).max() < 12
    assert np.abs(image[bottom_row - 3, column] - shade).max() < 12
    assert np.all(image[bottom_row + 3, column] > 245)
    # the weights' lines (biases left out by default) at their ratios; the target line dashed
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert "2 (Linear) weight" in lines and "0 (Linear) bias" not in lines
    assert has_color(image, *pixel_of(ax, 20, 3e-2, image), lines["2 (Linear) weight"].get_color())
    assert lines["target 0.001"].get_linestyle() == "--"


def test_empty_monitor_and_wrong_object_get_clear_errors(fake):
    empty = FakeMonitor([], {"0 (Linear)": {}})
    with pytest.raises(ValueError, match="no recorded steps"):
        plot_activation_histograms(empty)
    with pytest.raises(TypeError, match="expected a minnet.debug.Monitor"):
        plot_grad_norms({"loss": [1, 2]})


# -- pictures of a model -----------------------------------------------------------------------------
def test_weight_histograms_show_each_weight_and_the_he_scale():
    minnet.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    figure = plot_weight_histograms(model)
    assert len(figure.axes) == 2  # weights only
    ax = figure.axes[0]
    assert "0.weight (32, 64)" in ax.get_title()
    he = np.sqrt(2 / 64)
    assert any(np.allclose(line.get_xdata(), he) for line in ax.get_lines())
    image = render(figure)
    # bars near 0 (where the weights are) and none far outside the init bound 1/sqrt(64)
    low = ax.get_ylim()[1] * 0.05
    assert has_color(image, *pixel_of(ax, 0.0, low, image), TRAIN_COLOR, tolerance=30)
    assert not has_color(image, *pixel_of(ax, ax.get_xlim()[1] * 0.999, low, image), TRAIN_COLOR,
                         radius=1, tolerance=30)


def test_decision_regions_two_colours_either_side_of_a_known_boundary():
    model = nn.Sequential(nn.Linear(2, 2))
    model[0].weight.data[...] = [[-1.0, 0.0], [1.0, 0.0]]  # class 1 iff x0 > 0
    model[0].bias.data[...] = 0.0
    model.train()
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(60, 2)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    figure = plot_decision_boundary(model, X, y, margin=0.3)
    ax = figure.axes[0]
    image = render(figure)
    empty_y = 2.2  # above every data point, inside the margin: only the region shows
    left, right = light(CLASS_COLORS[0]), light(CLASS_COLORS[1])
    assert has_color(image, *pixel_of(ax, -1.0, empty_y, image), left, radius=0, tolerance=3)
    assert has_color(image, *pixel_of(ax, 1.0, empty_y, image), right, radius=0, tolerance=3)
    assert not has_color(image, *pixel_of(ax, 1.0, empty_y, image), left, radius=0, tolerance=10)
    assert "100.0%" in ax.get_title()
    assert model.training  # mode restored


def test_decision_boundary_single_sigmoid_output_and_bad_inputs():
    model = nn.Sequential(nn.Linear(2, 1), nn.Sigmoid())
    model[0].weight.data[...] = [[0.0, 3.0]]   # class 1 iff x1 > 0 (p > 0.5)
    model[0].bias.data[...] = 0.0
    X = np.array([[0, -1], [0, 1], [1, -1], [1, 1]], dtype=np.float32)
    figure = plot_decision_boundary(model, X, np.array([0, 1, 0, 1]), margin=0.5)
    ax = figure.axes[0]
    image = render(figure)
    assert has_color(image, *pixel_of(ax, 0.5, -1.4, image), light(CLASS_COLORS[0]), 0, 3)
    assert has_color(image, *pixel_of(ax, 0.5, 1.4, image), light(CLASS_COLORS[1]), 0, 3)
    with pytest.raises(ValueError, match=r"X must have shape \(N, 2\).*\(4, 3\)"):
        plot_decision_boundary(model, np.zeros((4, 3)), np.zeros(4))
    with pytest.raises(ValueError, match=r"y must have shape \(4,\)"):
        plot_decision_boundary(model, X, np.zeros(3))


def test_function_fit_units_add_up_and_are_drawn():
    model = nn.Sequential(nn.Linear(1, 2), nn.ReLU(), nn.Linear(2, 1))
    model[0].weight.data[...] = [[1.0], [-1.0]]
    model[0].bias.data[...] = [0.0, 0.0]
    model[2].weight.data[...] = [[2.0, 1.0]]
    model[2].bias.data[...] = [0.5]
    X = np.linspace(-2, 2, 50)
    figure = plot_function_fit(model, X, 0.5 + np.abs(X) * 1.5, target=lambda x: 0.5 + 1.5 * np.abs(x))
    fit_ax, unit_ax = figure.axes
    image = render(figure)
    # fit = 0.5 + 2 relu(x) + relu(-x): 4.5 at x=2, 1.5 at x=-1
    assert has_color(image, *pixel_of(fit_ax, 1.0, 2.5, image), TRAIN_COLOR)
    assert has_color(image, *pixel_of(fit_ax, -1.0, 1.5, image), TRAIN_COLOR)
    units = [line for line in unit_ax.get_lines() if line.get_linestyle() == "-"]
    assert len(units) == 2
    # unit 0 is 2 relu(x): 2 at x = 1, 0 at x = -1; unit 1 is relu(-x): 1 at x = -1
    assert has_color(image, *pixel_of(unit_ax, 1.0, 2.0, image), units[0].get_color())
    assert has_color(image, *pixel_of(unit_ax, -1.0, 1.0, image), units[1].get_color())
    with pytest.raises(ValueError, match=r"expected Sequential\(Linear\(1, H\)"):
        plot_function_fit(nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)), X)


def test_lr_range_test_marks_the_suggestion():
    lrs = np.logspace(-5, 0, 60)
    losses = 2.0 - 1.5 / (1 + np.exp(-(np.log10(lrs) + 2.5) * 3))  # falls fastest at 10^-2.5
    losses[-8:] += np.linspace(0.5, 4, 8)                         # blow-up at the end
    result = LRFindResult(lrs, losses, losses, True, "stopped", 60)
    suggested = result.suggestion()
    figure = plot_lr_find(result)
    ax = figure.axes[0]
    image = render(figure)
    assert ax.get_xscale() == "log"
    row, column = pixel_of(ax, suggested, np.mean(ax.get_ylim()), image)
    assert has_color(image, row, column, MARK_COLOR, radius=4)
    assert has_color(image, *pixel_of(ax, 1e-4, losses[np.argmin(abs(lrs - 1e-4))], image),
                     TRAIN_COLOR)
    assert not has_color(image, *pixel_of(ax, 1e-4, np.mean(ax.get_ylim()), image), MARK_COLOR)
    with pytest.raises(TypeError, match="LRFindResult"):
        plot_lr_find({"lrs": lrs})


class WrongSquare(Function):
    """x**2 with one wrong gradient entry: [1, 2] gets 3x instead of 2x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.numpy() ** 2

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        scale = np.full(x.shape, 2.0)
        scale[1, 2] = 3.0
        return minnet.Tensor(grad.numpy() * scale * x.numpy())


def test_gradcheck_map_marks_exactly_the_failing_entry():
    x = minnet.Tensor(np.random.default_rng(0).normal(size=(3, 4)), requires_grad=True)
    result = minnet.gradcheck(lambda t: WrongSquare.apply(t).sum(), (x,))
    assert not result and result[0].mismatch[1, 2] and result[0].mismatch.sum() == 1
    figure = plot_gradcheck(result)
    ax = figure.axes[0]
    image = render(figure)
    assert has_color(image, *pixel_of(ax, 2, 1, image), MARK_COLOR, radius=2)
    assert not has_color(image, *pixel_of(ax, 0, 0, image), MARK_COLOR, radius=2)
    # the failing cell is the brightest (largest error) in viridis: yellow
    bad = color_at(image, *pixel_of(ax, 2.3, 1.3, image))
    good = color_at(image, *pixel_of(ax, 0.3, 0.3, image))
    assert bad.sum() > good.sum() + 150
    assert "FAILED" in ax.get_title()


def test_gradcheck_map_ticks_are_whole_indices_and_exact_zeros_are_explained():
    # a (4, 3) input once got ticks at -0.5, 0.0, 0.5, ...: half an index means nothing
    rel = np.full((4, 3), 1e-10)
    rel[2, 1] = 0.0  # analytic == numeric exactly: shown at the floor of the log scale
    shape = rel.shape
    check = InputCheck("x", shape, True, 1e-10, np.zeros(shape), np.zeros(shape), rel,
                       np.ones(shape, bool), np.zeros(shape, bool), np.zeros(shape, bool), 0, 12)
    figure = plot_gradcheck(GradcheckResult(True, [check]))
    render(figure)
    ax = figure.axes[0]
    for ticks in (ax.get_xticks(), ax.get_yticks()):
        shown = [t for t in ticks if -0.5 <= t <= max(shape) - 0.5]
        assert shown and all(float(t).is_integer() for t in shown), ticks
    assert "exact 0 drawn at 1e-16" in figure.axes[1].get_ylabel()


def test_gradcheck_map_of_a_vector_has_no_row_axis_and_an_honest_colour_bar():
    # lab 01's db = dout[0]: b (5,) failed with errors 0.66..1.0; the panel was ticked
    # -0.5, -0.4, ... on a "first index" axis and its colour bar ran up to 6.6
    rel = np.array([0.7, 0.9, 1.0, 0.66, 0.8])
    check = InputCheck("b", (5,), False, 1.0, np.zeros(5), np.zeros(5), rel,
                       np.ones(5, bool), np.ones(5, bool), np.zeros(5, bool), 5, 5)
    figure = plot_gradcheck(GradcheckResult(False, [check]))
    render(figure)
    ax, bar = figure.axes
    assert ax.get_xlabel() == "entry" and list(ax.get_yticks()) == []
    assert [t for t in ax.get_xticks() if -0.5 <= t <= 4.5] == [0, 1, 2, 3, 4]
    assert np.isclose(ax.images[0].norm.vmax, 1.0)
    assert ax.images[0].norm.vmin <= 0.1


def test_gradcheck_map_of_a_4d_input_and_fast_mode():
    shape = (2, 3, 2, 2)
    rel = np.full(shape, 1e-10)
    rel[1, 2, 0, 1] = 0.5
    mismatch = rel > 1e-3
    check = InputCheck("weight", shape, False, 0.5, np.zeros(shape), np.zeros(shape), rel,
                       np.ones(shape, bool), mismatch, np.zeros(shape, bool), 1, 24)
    fast = InputCheck("bias", (3,), True, 0.0, np.zeros(3), directional=(1.0, 1.0))
    figure = plot_gradcheck(GradcheckResult(False, [check, fast]))
    ax = figure.axes[0]
    image = render(figure)
    # (O, C, kh, kw) -> O rows of C*kh*kw: entry [1, 2, 0, 1] is row 1, column 2*4 + 0*2 + 1 = 9
    assert has_color(image, *pixel_of(ax, 9, 1, image), MARK_COLOR, radius=2)
    assert not has_color(image, *pixel_of(ax, 3, 0, image), MARK_COLOR, radius=2)
    assert any("fast mode" in text.get_text() for ax_ in figure.axes for text in ax_.texts)
    with pytest.raises(KeyError, match="no checked input named 'x'"):
        plot_gradcheck(GradcheckResult(False, [check]), inputs="x")


# -- saving ----------------------------------------------------------------------------------------
def test_saving_is_atomic_and_by_suffix(tmp_path, fake):
    target = tmp_path / "out" / "grads.png"
    plot_grad_norms(fake, path=target)
    assert os.listdir(tmp_path / "out") == ["grads.png"]  # no temp file left
    saved = mpimg.imread(target)
    assert saved.shape[0] > 200 and saved.shape[1] > 300
    assert (saved[..., :3] < 0.9).any()  # not blank
    plot_grad_norms(fake, path=tmp_path / "grads.svg")
    assert (tmp_path / "grads.svg").read_text().lstrip().startswith("<?xml")
    with pytest.raises(ValueError, match="cannot save a figure as 'txt'"):
        plot_grad_norms(fake, path=tmp_path / "grads.txt")
    assert not (tmp_path / "grads.txt").exists()


def test_a_failed_save_leaves_the_old_file_and_no_temp(tmp_path, fake, monkeypatch):
    target = tmp_path / "loss.png"
    target.write_bytes(b"old")
    from matplotlib.figure import Figure

    def broken_savefig(self, file, **kwargs):
        file.write(b"half a png")
        raise RuntimeError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken_savefig)
    with pytest.raises(RuntimeError, match="disk full"):
        plot_loss(fake, path=target)
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["loss.png"]


def test_drawing_into_the_callers_axes():
    figure = new_figure(8, 3)
    left, right = figure.subplots(1, 2)
    returned = plot_loss(np.linspace(1, 0, 10), ax=left)
    assert returned is figure and left.get_lines() and not right.get_lines()


# -- the one-page report ---------------------------------------------------------------------------
def make_report(monitor) -> Report:
    findings = [
        Finding("activation.dead_relu", "75% of the units of 1 (ReLU) never fire <script>x</script>",
                layer="1 (ReLU)", evidence={"dead_fraction": 0.75}, severity="error",
                thresholds=[{"name": "dead_relu_fraction", "value": 0.5, "default": 0.5,
                             "source": "SHAO 3", "why": "more than half the units"}]),
        Finding("grad.vanishing", "layer 0 gets gradients 1e4 x smaller than the last",
                layer="0 (Linear)", evidence={"ratio": 1e-4}),
        Finding("update.ratio", "updates are 3e-2 of the weights", layer="2 (Linear)",
                evidence={"update_ratio": 3e-2}),
        Finding("loss.plateau", "the loss stopped falling", evidence={"drop": 0.001}),
        Finding("data.not_normalized", "feature std 80", severity="warning"),
    ]
    predictions = {"loss": {"expected": 2.303, "measured": 9.1, "why": "log(10)"},
                   "layers": [{"layer": "0 (Linear)", "predicted_std": 1.41, "measured_std": 7.5,
                               "predicted_grad_rms": 0.01, "measured_grad_rms": 0.02}]}
    run = {"losses": np.r_[np.linspace(2.3, 1.0, 30), np.full(10, 1.0)]}
    return Report(findings, predictions=predictions, run=run,
                  context=SimpleNamespace(monitor=monitor))


@pytest.fixture(scope="module")
def report(fake):
    return make_report(fake)


def test_report_png_is_one_tall_page_with_severity_colours_and_plots(report, tmp_path):
    target = tmp_path / "report.png"
    figure = report.render(target)
    assert os.listdir(tmp_path) == ["report.png"]
    image = render(figure)
    height, width = image.shape[:2]
    assert height > 1.5 * width
    for severity in ("error", "warning"):  # the severity chips of the findings table
        chip = np.array(to_rgb(SEVERITY_COLORS[severity])) * 255
        assert (np.abs(image - chip).max(axis=-1) <= 8).sum() > 100, severity
    # one Axes per evidence panel: loss, dead fraction, grad norms, update ratio, histogram
    titles = [ax.get_title() for ax in figure.axes if ax.get_title()]
    for expected in ("training loss", "dead-unit fraction", "gradient norm", "update / parameter",
                     "activation histogram of 1 (ReLU)"):
        assert any(expected in title for title in titles), (expected, titles)
    assert any("evidence for: loss.plateau" in title for title in titles)
    saved = mpimg.imread(target)
    assert saved.shape[0] == height and saved.shape[1] == width


def _images_of(page: str) -> list:
    marker = "src='data:image/png;base64,"
    images = []
    for piece in page.split(marker)[1:]:
        data = base64.b64decode(piece.split("'", 1)[0], validate=True)
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        images.append(mpimg.imread(io.BytesIO(data), format="png"))
    return images


def test_report_html_is_self_contained_and_escaped(report, tmp_path):
    target = tmp_path / "report.html"
    page = render_report(report, target)
    assert os.listdir(tmp_path) == ["report.html"]
    assert target.read_text(encoding="utf-8") == page
    images = _images_of(page)
    assert len(images) == 5
    for picture in images:
        assert picture.shape[0] >= 200 and picture.shape[1] >= 300
        assert picture[..., :3].std() > 0.05  # something drawn
    for code in report.codes:
        assert code in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page and "<script>" not in page
    assert "http://" not in page and "https://" not in page and "<link" not in page
    assert "9.1" in page and "2.303" in page  # predicted vs measured
    assert SEVERITY_COLORS["error"] in page


def test_report_without_a_monitor_draws_the_loss_only(tmp_path):
    page = render_report(make_report(None), format="html")
    assert len(_images_of(page)) == 1
    figure = render_report(make_report(None))
    assert [ax.get_title().split("\n")[0] for ax in figure.axes] == ["training loss per step"]
    with pytest.raises(ValueError, match="unknown report format 'docx'"):
        render_report(make_report(None), tmp_path / "r.docx")
    assert not os.listdir(tmp_path)


def test_report_panel_that_cannot_be_drawn_says_why(fake):
    class Broken(FakeMonitor):
        def param(self, name, stat):
            raise RuntimeError("recording lost")

    monitor = make_fake_monitor()
    monitor.__class__ = Broken
    figure = render_report(make_report(monitor))
    texts = [t.get_text() for ax in figure.axes for t in ax.texts]
    assert any("could not draw" in text and "recording lost" in text for text in texts)


# -- with the real Monitor ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def real_run():
    """A moons MLP trained 30 steps under minnet.debug.Monitor, with a too-large lr."""
    from minnet.data import make_moons
    from minnet.debug.monitor import Monitor
    X, y = make_moons(128, seed=0)
    minnet.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
    optimizer = minnet.optim.SGD(model.parameters(), lr=0.5)
    loss_fn = nn.CrossEntropyLoss()
    with Monitor(model, optimizer) as monitor:
        for step in range(30):
            loss = loss_fn(model(minnet.Tensor(X)), minnet.Tensor(y))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            monitor.log(loss=loss.item())
    return model, monitor, X, y


def test_pictures_of_a_real_monitor(real_run):
    model, monitor, X, y = real_run
    figure = plot_loss(monitor)
    ax = figure.axes[0]
    image = render(figure)
    losses = monitor.scalar("loss")
    assert len(losses) == 30 and np.isfinite(losses).all()
    assert has_color(image, *pixel_of(ax, 15, losses[15], image), TRAIN_COLOR)

    figure = plot_activation_histograms(monitor)
    assert [ax.get_title() for ax in figure.axes if ax.get_title()] == list(monitor.layers)
    image = render(figure)
    ax = figure.axes[0]
    (left, bottom), (right, top) = ax.transAxes.transform([(0, 0), (1, 1)])
    inside = image[image.shape[0] - int(top) + 2:image.shape[0] - int(bottom) - 2,
                   int(left) + 2:int(right) - 2]
    assert len(np.unique(inside.reshape(-1, 3), axis=0)) > 3  # not a uniform image

    figure = plot_update_ratio(monitor)
    ax = figure.axes[0]
    image = render(figure)
    line = next(l for l in ax.get_lines() if l.get_label() == "0 (Linear) weight")
    ratio = monitor.param("0.weight", "update_ratio")
    step = int(np.nanargmax(ratio > 0))
    assert has_color(image, *pixel_of(ax, monitor.steps[step], ratio[step], image),
                     line.get_color())
    plot_grad_norms(monitor)
    plot_dead_fraction(monitor)

    findings = [Finding("update.ratio", "updates too large", layer="2 (Linear)"),
                Finding("activation.dead_relu", "dead units", layer="1 (ReLU)")]
    report = Report(findings, run={"losses": losses}, context=SimpleNamespace(monitor=monitor))
    assert len(_images_of(render_report(report, format="html"))) == 4  # loss, dead, update, hist


def test_a_run_that_stopped_after_two_steps_has_whole_step_ticks():
    # an exploding net turned NaN at step 2: its gradient-norm plot once had ticks 0.2, 0.4, ...
    model = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 2))
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    X = np.random.default_rng(0).normal(size=(8, 2)).astype(np.float32)
    y = np.array([0, 1] * 4)
    with Monitor(model, optimizer) as monitor:
        for _ in range(2):
            loss = nn.CrossEntropyLoss()(model(minnet.Tensor(X)), minnet.Tensor(y))
            optimizer.zero_grad(); loss.backward(); optimizer.step()
            monitor.log(loss=loss.item())
    for figure in (plot_grad_norms(monitor), plot_update_ratio(monitor), plot_dead_fraction(monitor),
                   plot_loss(monitor)):
        render(figure)
        axis = figure.axes[0]
        low, high = axis.get_xlim()
        shown = [t for t in axis.get_xticks() if low <= t <= high]
        assert shown and all(float(t).is_integer() for t in shown), (axis.get_title(), shown)
        assert axis.get_xlabel() == "step"


def test_a_long_title_is_wrapped_inside_the_figure():
    # minnet train --plot: "digits MLP: loss per step (test: per epoch), test accuracy 0.978"
    # ran off the right edge of the saved PNG
    title = "digits MLP: loss per step (test: per epoch), test accuracy 0.978"
    losses = np.linspace(2.0, 0.1, 50)
    for figure in (plot_loss(losses, title=title),
                   plot_curves({"loss": losses, "accuracy": losses[::-1] / 2}, title=title)):
        render(figure)
        shown = [text for ax_ in figure.axes for text in [ax_.title]] + \
            ([figure._suptitle] if figure._suptitle is not None else [])
        texts = [text for text in shown if text.get_text()]
        assert texts and " ".join(texts[0].get_text().split()) == title
        renderer = figure.canvas.get_renderer()
        box = texts[0].get_window_extent(renderer)
        assert box.x0 >= 0 and box.x1 <= figure.bbox.x1, (box, figure.bbox)


def test_plot_curves_of_a_real_monitor_draws_only_what_the_loop_logged():
    # the Monitor records scalars of its own (lr, grad norms) for its checks; viz.md's
    # plot_curves(monitor) once drew a "grad_norm_at_step" panel beside the user's loss
    model = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 2))
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    X = np.random.default_rng(0).normal(size=(8, 2)).astype(np.float32)
    y = np.array([0, 1] * 4)
    with Monitor(model, optimizer) as monitor:
        for _ in range(3):
            loss = nn.CrossEntropyLoss()(model(minnet.Tensor(X)), minnet.Tensor(y))
            optimizer.zero_grad(); loss.backward(); optimizer.step()
            monitor.log(loss=loss.item(), accuracy=0.5)
    assert len(monitor.scalar_names) > 2  # the Monitor's own scalars are there to be left out
    figure = plot_curves(monitor)
    assert sorted(axis.get_ylabel() for axis in figure.axes) == ["accuracy", "loss"]


def test_plot_loss_names_a_held_out_curve_as_asked():
    import matplotlib.pyplot as plt
    from minnet.viz import plot_loss
    losses = np.linspace(2.0, 0.5, 20)
    test = np.full(20, np.nan)
    test[9], test[19] = 1.5, 0.8
    figure = plot_loss(losses, val=test, val_label="test_loss")
    labels = [label for ax in figure.axes for label in ax.get_legend_handles_labels()[1]]
    plt.close(figure)
    assert any("test_loss" in label for label in labels) and len(figure.axes) == 1
    assert not any("val_loss" in label for label in labels)
