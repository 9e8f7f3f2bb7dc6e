"""Lab 12: from one neuron to deep nets, on 1-D functions over [-3, 3].

Every model here maps one number x to one number. Layers use PyTorch's layout: an
``nn.Linear(n_in, n_out)`` holds ``weight`` (n_out, n_in) and ``bias`` (n_out,) and
computes ``x @ weight.T + bias`` on a batch x of shape (N, n_in).
"""
import numpy as np

from minnet import nn, optim
from minnet.data import hard_function, make_regression_1d
from minnet.tensor import Tensor, no_grad

TRAIN_RANGE = (-3.0, 3.0)


# ---------------------------------------------------------------------------------------
# given: data, training, measuring
# ---------------------------------------------------------------------------------------
def load_data(kind="sine", n_samples=200, seed=0):
    """Noisy samples of sin(x) (``kind="sine"``) or of ``hard_function`` (``"hard"``) on
    [-3, 3]: X (n, 1) float32, y (n, 1) float32."""
    return make_regression_1d(n_samples, kind=kind, noise=0.05, seed=seed)


def target_function(kind="sine"):
    """The noise-free function behind ``load_data(kind)``."""
    return np.sin if kind == "sine" else hard_function


def train(model, X, y, steps=300, lr=0.05, momentum=0.0):
    """Full-batch SGD on the mean squared error, in place. Returns the per-step losses."""
    optimizer = optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    inputs, targets = Tensor(X), Tensor(y)
    loss_fn = nn.MSELoss()
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.item()))
    return losses


def predict(model, x):
    """The model's outputs for the numbers ``x`` (any shape) as a float64 array of x's shape."""
    x = np.asarray(x, dtype=np.float64)
    with no_grad():
        out = model(Tensor(x.reshape(-1, 1).astype(np.float32))).detach().numpy()
    return np.asarray(out, dtype=np.float64).reshape(x.shape)


def mse_on(model, f, xs):
    """Mean squared error between ``model`` and the function ``f`` at the points ``xs``."""
    return float(np.mean((predict(model, xs) - f(xs)) ** 2))


def training_range_mse(model, f):
    """MSE against ``f`` on 601 evenly spaced points of the training range [-3, 3]."""
    return mse_on(model, f, np.linspace(*TRAIN_RANGE, 601))


# ---------------------------------------------------------------------------------------
# 1. many linear neurons are still one line
# ---------------------------------------------------------------------------------------
def compose_linear(layers):
    """The single affine map equal to applying the affine ``layers`` one after another.

    layers: a list of (weight, bias) pairs, weight (n_out, n_in), bias (n_out,), in the
    order they are applied (the first takes the input). Returns (weight, bias) with
    weight (last n_out, first n_in), such that for every batch x

        x @ weight.T + bias == (...((x @ W1.T + b1) @ W2.T + b2)...)

    This is why a stack of Linear layers without activations can only fit a line.
    """
    ### BEGIN SOLUTION
    weight, bias = layers[0]
    weight, bias = np.array(weight, dtype=np.float64), np.array(bias, dtype=np.float64)
    for next_weight, next_bias in layers[1:]:
        # y = W2 (W x + b) + b2 = (W2 W) x + (W2 b + b2)
        weight, bias = next_weight @ weight, next_weight @ bias + next_bias
    return weight, bias
    ### END SOLUTION


# ---------------------------------------------------------------------------------------
# 2. ReLU pieces, by hand
# ---------------------------------------------------------------------------------------
def relu_pieces(knots, values):
    """A Linear(1, k) - ReLU - Linear(k, 1) network, built by hand (no training), that
    passes through the points (knots[i], values[i]) and is linear between them.

    knots: increasing floats, length k + 1 (k >= 1); values: the same length.
    Hidden unit i (i = 0 .. k-1) computes relu(x - knots[i]): weight 1, bias -knots[i].
    The output layer starts at values[0] (its bias) and each unit adds its CHANGE of
    slope: slope_0 for unit 0, slope_i - slope_(i-1) for unit i, where
    slope_i = (values[i+1] - values[i]) / (knots[i+1] - knots[i]).
    Left of knots[0] the network is constant (values[0]); right of knots[-1] it goes on
    with the last slope. Returns the nn.Sequential (float32 parameters).
    """
    ### BEGIN SOLUTION
    knots = np.asarray(knots, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    k = len(knots) - 1
    slopes = np.diff(values) / np.diff(knots)                       # (k,)
    slope_changes = np.concatenate([slopes[:1], np.diff(slopes)])   # (k,)
    model = nn.Sequential(nn.Linear(1, k), nn.ReLU(), nn.Linear(k, 1))
    model[0].weight.data[...] = 1.0
    model[0].bias.data[...] = -knots[:-1]
    model[2].weight.data[...] = slope_changes[None, :]
    model[2].bias.data[...] = values[0]
    return model
    ### END SOLUTION


# ---------------------------------------------------------------------------------------
# 3. initialisation and the network
# ---------------------------------------------------------------------------------------
def init_layer(linear, scheme, generator):
    """Initialise ``linear`` (an nn.Linear) in place: bias 0, weight drawn with
    ``generator.normal(0.0, std, size=linear.weight.shape)`` where

        scheme "glorot": std = sqrt(2 / (fan_in + fan_out))   (for tanh, Glorot & Bengio 2010)
        scheme "he":     std = sqrt(2 / fan_in)               (for ReLU, He et al. 2015)

    fan_in is the number of inputs, fan_out the number of outputs of the layer.
    """
    ### BEGIN SOLUTION
    fan_out, fan_in = linear.weight.shape
    if scheme == "glorot":
        std = np.sqrt(2.0 / (fan_in + fan_out))
    elif scheme == "he":
        std = np.sqrt(2.0 / fan_in)
    else:
        raise ValueError(f"init_layer: scheme must be 'glorot' or 'he', got {scheme!r}")
    linear.weight.data[...] = generator.normal(0.0, std, size=linear.weight.shape)
    linear.bias.data[...] = 0.0
    ### END SOLUTION


def build_net(hidden=(32,), activation="relu", init="he", seed=0):
    """1 -> hidden[0] -> ... -> hidden[-1] -> 1, the activation ("relu" or "tanh") after
    every hidden Linear, none after the last. Every Linear initialised with
    ``init_layer(layer, init, generator)`` in order, one ``np.random.default_rng(seed)``
    for all of them. Returns the nn.Sequential."""
    ### BEGIN SOLUTION
    generator = np.random.default_rng(seed)
    activations = {"relu": nn.ReLU, "tanh": nn.Tanh}
    sizes = [1, *hidden, 1]
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        linear = nn.Linear(n_in, n_out)
        init_layer(linear, init, generator)
        layers.append(linear)
        if i < len(sizes) - 2:
            layers.append(activations[activation]())
    return nn.Sequential(*layers)
    ### END SOLUTION


# ---------------------------------------------------------------------------------------
# 4. the fits (graded by their MSE on [-3, 3])
# ---------------------------------------------------------------------------------------
def fit_sine(seed=0):
    """ONE hidden layer fitted to sin(x) on [-3, 3], in at most 300 steps of ``train``.
    Returns the trained model."""
    X, y = load_data("sine", seed=seed)
    ### BEGIN SOLUTION
    model = build_net(hidden=(32,), activation="tanh", init="glorot", seed=seed)
    train(model, X, y, steps=300, lr=0.1, momentum=0.9)
    ### RELEASE AS
    # model = build_net(hidden=(2,), activation="relu", init="he", seed=seed)
    # train(model, X, y, steps=300, lr=0.01)
    ### END SOLUTION
    return model


def fit_hard(seed=0):
    """A network fitted to ``hard_function`` on [-3, 3], in at most 600 steps of ``train``.
    Start simple (one hidden layer), then add what helps. Returns the trained model."""
    X, y = load_data("hard", seed=seed)
    ### BEGIN SOLUTION
    model = build_net(hidden=(32, 32), activation="tanh", init="glorot", seed=seed)
    train(model, X, y, steps=600, lr=0.05, momentum=0.9)
    ### RELEASE AS
    # model = build_net(hidden=(16,), activation="relu", init="he", seed=seed)
    # train(model, X, y, steps=600, lr=0.01)
    ### END SOLUTION
    return model


# ---------------------------------------------------------------------------------------
# 5. outside the training range
# ---------------------------------------------------------------------------------------
def extrapolation_error(model, f):
    """MSE between ``model`` and ``f`` outside the training range: on
    ``np.concatenate([np.linspace(-6, -3, 151), np.linspace(3, 6, 151)])``."""
    ### BEGIN SOLUTION
    outside = np.concatenate([np.linspace(-6.0, -3.0, 151), np.linspace(3.0, 6.0, 151)])
    return mse_on(model, f, outside)
    ### END SOLUTION


def save_fit_figure(model, X, y, f, path):
    """Draw ``model``'s fit with ``minnet.viz.plot_function_fit``: the data (X, y), the
    target function ``f`` and the contribution of each hidden unit; save it to ``path``
    (a .png). ``model`` has one hidden layer."""
    ### BEGIN SOLUTION
    import minnet.viz as viz
    viz.plot_function_fit(model, X, y, target=f, path=path)
    ### END SOLUTION
