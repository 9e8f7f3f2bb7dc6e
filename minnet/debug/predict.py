"""Predicted vs measured at initialisation: what the init *should* give, layer by layer.

``trace_layers`` runs one forward and backward pass on a batch and records, for every
leaf module in call order, its output and the RMS of dL/d(output). ``predict_layers``
derives the same two numbers from theory alone (the weights' variances, the input's
second moment, each activation's shape, the loss: mean-field variance propagation, as
in Glorot & Bengio 2010 and He et al. 2015). Side by side they show whether the
initialisation does what it is meant to. The formulas, to redo by hand:
docs/debugger.md, "How the initialisation prediction is made".
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..tensor import Tensor, no_grad

ELEMENTWISE_ACTIVATIONS = ("ReLU", "LeakyReLU", "ELU", "Tanh", "Sigmoid", "ReLU6", "SELU",
                           "GELU", "Softplus", "SiLU", "Hardtanh")
PASS_THROUGH = ("Flatten", "Identity", "Unflatten")
NORMALISATIONS = ("BatchNorm1d", "BatchNorm2d", "LayerNorm", "GroupNorm")

_HERMITE_POINTS = 60


# -- what the network did on one batch ---------------------------------------------------------
@dataclass
class LayerTrace:
    """One leaf module's call in a traced forward/backward pass."""
    label: str                   # "0 (Linear)", as the Monitor names layers
    path: str                    # "0" (the path in named_modules)
    kind: str                    # "Linear"
    module: object
    output: np.ndarray           # the output (float64 copy)
    input_mean: float            # of the first positional input (nan if not an array)
    input_second_moment: float
    fed_by_previous: bool        # its input is exactly the previous traced layer's output
    grad_rms: float = float("nan")   # RMS of dL/d(output); nan when no gradient reached it

    @property
    def weight(self) -> Optional[np.ndarray]:
        """The layer's weight array when it is a weight layer (ndim >= 2), else None."""
        weight = getattr(self.module, "_parameters", {}).get("weight")
        if weight is not None and weight._data.ndim >= 2:
            return weight._data
        return None

    @property
    def bias(self) -> Optional[np.ndarray]:
        bias = getattr(self.module, "_parameters", {}).get("bias")
        return None if bias is None else bias._data


@dataclass
class Trace:
    layers: list = field(default_factory=list)   # LayerTrace, in call order
    output: Optional[np.ndarray] = None          # the model's output
    loss: float = float("nan")
    final_is_last_layer: bool = False            # the model returned the last layer's output

    def weight_layers(self) -> list:
        return [i for i, layer in enumerate(self.layers) if layer.weight is not None]

    def following_activation(self, index: int) -> Optional[str]:
        """The type of the first activation/normalisation after layer ``index`` and before the
        next weight layer ("ReLU", "Tanh", "BatchNorm1d", ...); None when there is none."""
        for layer in self.layers[index + 1:]:
            if layer.weight is not None:
                return None
            if layer.kind in ELEMENTWISE_ACTIVATIONS or layer.kind in NORMALISATIONS:
                return layer.kind
        return None


def layer_label(path: str, module) -> str:
    """``"0 (Linear)"``: the label the Monitor and the op records give a module."""
    return f"{path or 'model'} ({type(module).__name__})"


def _leaf_modules(model) -> list:
    return [(path, module) for path, module in model.named_modules()
            if not any(True for _ in module.children())]


def trace_layers(model, X: np.ndarray, y: Optional[np.ndarray] = None, loss_fn=None,
                 train_mode: bool = True) -> Trace:
    """Run ``model`` on ``X`` (and backward through ``loss_fn(output, y)`` when given).

    Records every leaf module's output and dL/d(output) RMS. The model is left in the
    mode it was in; its gradients are cleared afterwards. Use it on a copy.
    """
    from .context import total_loss
    trace = Trace()
    handles = []
    last_output_id = [None]
    probes = []

    def make_hook(path, module):
        def on_output(module, args, output):
            if not isinstance(output, Tensor):
                return None
            first = args[0] if args else None
            if isinstance(first, Tensor) and first._data.dtype.kind == "f":
                data = first._data.astype(np.float64)
                in_mean, in_m2 = float(data.mean()), float(np.mean(data * data))
            else:
                in_mean = in_m2 = float("nan")
            fed = last_output_id[0] is not None and first is last_output_id[0]
            entry = LayerTrace(layer_label(path, module), path, type(module).__name__, module,
                               output._data.astype(np.float64), in_mean, in_m2, fed)
            trace.layers.append(entry)
            last_output_id[0] = output
            if output.requires_grad:
                def on_grad(grad, entry=entry):
                    flat = np.asarray(grad._data, dtype=np.float64).reshape(-1)
                    entry.grad_rms = float(np.sqrt(np.mean(flat * flat))) if flat.size else \
                        float("nan")
                    return None
                probes.append(output.register_hook(on_grad))
            return None
        return on_output

    for path, module in _leaf_modules(model):
        handles.append(module.register_forward_hook(make_hook(path, module)))
    was_training = model.training
    model.train(train_mode)
    try:
        with np.errstate(all="ignore"):
            inputs = Tensor(X)
            if loss_fn is None or y is None:
                with no_grad():
                    output = model(inputs)
            else:
                output = model(inputs)
            trace.output = np.asarray(output._data, dtype=np.float64)
            trace.final_is_last_layer = bool(trace.layers) and output is last_output_id[0]
            if loss_fn is not None and y is not None:
                loss, _ = total_loss(loss_fn(output, Tensor(y)))
                trace.loss = float(loss.item())
                loss.backward()
    finally:
        for handle in handles + probes:
            handle.remove()
        model.train(was_training)
        for param in model.parameters():
            param.grad = None
    return trace


# -- the theory ---------------------------------------------------------------------------------
def loss_kind(loss_fn) -> Optional[str]:
    """"cross_entropy", "nll", "mse", "l1", "bce_logits", "bce" or None, from the loss's name."""
    name = (getattr(loss_fn, "__name__", "") or type(loss_fn).__name__).lower().replace("_", "")
    for key, kind in (("bcewithlogits", "bce_logits"), ("binarycrossentropywithlogits",
                                                         "bce_logits"),
                      ("binarycrossentropy", "bce"), ("bceloss", "bce"),
                      ("crossentropy", "cross_entropy"), ("nll", "nll"),
                      ("mse", "mse"), ("l1", "l1"), ("huber", "l1")):
        if key in name:
            return kind
    return None


def loss_reduction(loss_fn) -> str:
    """The loss module's ``reduction`` ('mean' for plain functions)."""
    return getattr(loss_fn, "reduction", "mean")


def gaussian_moments(module, mean: float, std: float) -> tuple:
    """(E[f(z)], E[f(z)^2], E[f'(z)^2]) for z ~ N(mean, std^2), f the module's forward.

    Gauss-Hermite quadrature on the module itself, so any elementwise activation works;
    f' by central differences.
    """
    nodes, weights = np.polynomial.hermite_e.hermegauss(_HERMITE_POINTS)
    weights = weights / weights.sum()
    z = mean + std * nodes
    step = 1e-4 * max(std, 1e-3)

    def f(values):
        with no_grad(), np.errstate(all="ignore"):
            return np.asarray(module.forward(Tensor(values.astype(np.float64)))._data,
                              dtype=np.float64)

    out = f(z)
    slope = (f(z + step) - f(z - step)) / (2 * step)
    return (float(weights @ out), float(weights @ (out * out)), float(weights @ (slope * slope)))


def _fans(layer: LayerTrace) -> tuple:
    """(fan_in, fan_out for the backward pass) of a weight layer."""
    weight = layer.weight
    receptive = int(np.prod(weight.shape[2:])) if weight.ndim > 2 else 1
    stride = getattr(layer.module, "stride", (1, 1))
    stride = stride if isinstance(stride, tuple) else (stride, stride)
    fan_in = weight.shape[1] * receptive
    fan_out = weight.shape[0] * receptive / max(1, int(np.prod(stride)))
    return fan_in, fan_out


def _output_gradient(trace: Trace, loss_fn, y, out_mean: float, out_m2: float) -> Optional[float]:
    """Predicted mean square of dL/d(model output) at initialisation (None: unknown loss)."""
    if trace.output is None or y is None or loss_reduction(loss_fn) != "mean":
        return None
    kind = loss_kind(loss_fn)
    n = trace.output.shape[0]
    width = int(np.prod(trace.output.shape[1:])) if trace.output.ndim > 1 else 1
    if kind == "cross_entropy" and trace.output.ndim == 2 and width > 1:
        return (1 - 1 / width) / (width * n * n)
    if kind == "mse":
        targets = np.asarray(y, dtype=np.float64)
        residual = out_m2 + float(np.mean(targets ** 2)) - 2 * out_mean * float(targets.mean())
        entries = trace.output.size
        return 4 * max(residual, 0.0) / entries ** 2
    return None


def predict_layers(trace: Trace, loss_fn=None, y=None) -> list:
    """Rows ``{"layer", "predicted_std", "measured_std", "predicted_grad_rms",
    "measured_grad_rms"}`` for every traced layer (None where the model cannot predict)."""
    layers = trace.layers
    if not layers:
        return []
    forward = []          # per layer: (mean, second moment) of its output, predicted or carried
    predicted_std = []
    pre_activation = []   # per layer: (mean, std) of its input, for the backward pass
    for i, layer in enumerate(layers):
        if layer.fed_by_previous and i > 0:
            in_mean, in_m2 = forward[i - 1]
        else:
            in_mean, in_m2 = layer.input_mean, layer.input_second_moment
        in_std = math.sqrt(max(in_m2 - in_mean ** 2, 0.0)) if math.isfinite(in_m2) else math.nan
        pre_activation.append((in_mean, in_std))
        result = _forward_rule(layer, in_mean, in_m2, in_std)
        if result is None:   # no theory for this layer: carry what was measured
            out = layer.output
            forward.append((float(out.mean()), float(np.mean(out * out))))
            predicted_std.append(None)
        else:
            forward.append(result)
            predicted_std.append(math.sqrt(max(result[1] - result[0] ** 2, 0.0)))

    predicted_grad = [None] * len(layers)
    out_mean, out_m2 = forward[-1]
    g = _output_gradient(trace, loss_fn, y, out_mean, out_m2) if trace.final_is_last_layer else None
    for i in range(len(layers) - 1, -1, -1):
        layer = layers[i]
        measured = layer.grad_rms
        if g is None or not (i == len(layers) - 1 or layers[i + 1].fed_by_previous):
            g = measured ** 2 if math.isfinite(measured) else None   # carry the measured value
            predicted_grad[i] = None
        else:
            predicted_grad[i] = math.sqrt(g)
        if g is not None:
            g = _backward_rule(layer, g, *pre_activation[i])
    rows = []
    for i, layer in enumerate(layers):
        rows.append({"layer": layer.label, "predicted_std": predicted_std[i],
                     "measured_std": float(layer.output.std()),
                     "predicted_grad_rms": predicted_grad[i],
                     "measured_grad_rms": layer.grad_rms if math.isfinite(layer.grad_rms)
                     else None})
    return rows


def _forward_rule(layer: LayerTrace, in_mean: float, in_m2: float, in_std: float):
    """(mean, second moment) of the layer's output from its input's; None: no rule."""
    if not math.isfinite(in_m2):
        return None
    module = layer.module
    if layer.weight is not None:
        fan_in, _ = _fans(layer)
        w2 = float(np.mean(layer.weight.astype(np.float64) ** 2))
        bias = layer.bias
        b_mean = float(bias.mean()) if bias is not None and bias.size else 0.0
        b2 = float(np.mean(bias.astype(np.float64) ** 2)) if bias is not None and bias.size \
            else 0.0
        return b_mean, fan_in * w2 * in_m2 + b2
    if layer.kind in ELEMENTWISE_ACTIVATIONS:
        mean, m2, _ = gaussian_moments(module, in_mean, in_std)
        return mean, m2
    if layer.kind == "Dropout":
        p = float(getattr(module, "p", 0.0))
        if not module.training or p >= 1:
            return in_mean, in_m2
        return in_mean, in_m2 / (1 - p)
    if layer.kind in ("BatchNorm1d", "BatchNorm2d") and module.training:
        gamma = module._parameters.get("weight")
        beta = module._parameters.get("bias")
        g2 = float(np.mean(gamma._data.astype(np.float64) ** 2)) if gamma is not None else 1.0
        b_mean = float(beta._data.mean()) if beta is not None else 0.0
        b2 = float(np.mean(beta._data.astype(np.float64) ** 2)) if beta is not None else 0.0
        return b_mean, g2 + b2
    if layer.kind in PASS_THROUGH:
        return in_mean, in_m2
    return None


def _backward_rule(layer: LayerTrace, g: float, in_mean: float, in_std: float):
    """Mean square of dL/d(input) from dL/d(output)'s; None: no rule."""
    module = layer.module
    if layer.weight is not None:
        _, fan_out = _fans(layer)
        return g * fan_out * float(np.mean(layer.weight.astype(np.float64) ** 2))
    if layer.kind in ELEMENTWISE_ACTIVATIONS and math.isfinite(in_std):
        return g * gaussian_moments(module, in_mean, in_std)[2]
    if layer.kind == "Dropout":
        p = float(getattr(module, "p", 0.0))
        return g / (1 - p) if module.training and p < 1 else g
    if layer.kind in ("BatchNorm1d", "BatchNorm2d") and module.training and in_std > 0:
        gamma = module._parameters.get("weight")
        g2 = float(np.mean(gamma._data.astype(np.float64) ** 2)) if gamma is not None else 1.0
        return g * g2 / in_std ** 2
    if layer.kind in PASS_THROUGH:
        return g
    return None
