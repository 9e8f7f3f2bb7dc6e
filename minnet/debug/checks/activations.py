"""Checks of the activations during the short run: dead ReLUs, saturation, scale with depth.

They read only the Monitor, so ``Monitor.findings()`` runs them on any loop. Each
statistic is judged at the first recorded step (the initialisation) and as the median
of the last quarter of the run (one odd batch does not decide): the fraction of ReLU
units 0 for every sample, of tanh/sigmoid outputs in the flat tails, and the std of
each hidden weight layer's output across depth (several layers in a row outside
[0.5, 2], on the same side, is a signal shrinking or growing with depth).
"""
from __future__ import annotations

import math

import numpy as np

from ..report import Finding
from ..thresholds import define

DEAD = define(
    "dead_relu_fraction", 0.5, source="SHAO 3, HOLDEN 8",
    why="more than this share of a ReLU layer's units output 0 for every sample of a batch: "
        "they pass no gradient and stop learning")
DEAD_EXTREME = define(
    "dead_relu_fraction_extreme", 0.9, source="SHAO 3",
    why="this share of a layer dead leaves almost no capacity: an error, not a warning")
SATURATED = define(
    "saturated_fraction", 0.5, source="HOLDEN 7, 8",
    why="more than this share of tanh/sigmoid outputs in the flat tails (|tanh| > 0.99, sigmoid "
        "outside [0.01, 0.99]), where the local gradient is below ~0.02")
SATURATED_EXTREME = define(
    "saturated_fraction_extreme", 0.9, source="HOLDEN 8",
    why="nearly every output saturated: almost no gradient passes the layer (error)")
STD_LOW = define(
    "activation_std_low", 0.5, source="37R 33, 35",
    why="a hidden layer's output std below this: the signal shrinks on its way through")
STD_HIGH = define(
    "activation_std_high", 2.0, source="37R 33, 35",
    why="a hidden layer's output std above this: the signal grows on its way through")
STD_RUN = define(
    "activation_scale_layers", 3, source="37R 33, 35",
    why="this many weight layers in a row outside the std band on the same side: a trend with "
        "depth, not one odd layer")
STD_TREND = define(
    "activation_scale_trend", 2.0, source="37R 33, 35",
    why="the std must change by at least this factor from the first to the last layer of the "
        "run: a slow drift just outside the band (e.g. Glorot with gain 1 before tanh) is not "
        "a vanishing signal")
STD_EXTREME = define(
    "activation_scale_extreme", 100.0, source="37R 35",
    why="std this many times outside the band at the end of the run: the signal has all but "
        "vanished / exploded (error)")

RELU_TYPES = ("ReLU", "ReLU6")
SATURATING_TYPES = ("Tanh", "Sigmoid")
NORM_TYPES = ("BatchNorm1d", "BatchNorm2d", "LayerNorm", "GroupNorm")
WEIGHT_TYPES = ("Linear", "Conv2d", "Conv1d", "Bilinear")


def init_and_late(values) -> tuple:
    """(first finite value, median of the last quarter of the finite values)."""
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return math.nan, math.nan
    tail = finite[-max(1, finite.size // 4):]
    return float(finite[0]), float(np.median(tail))


def _monitor(ctx):
    monitor = ctx.monitor
    if monitor is None or not getattr(monitor, "layers", None):
        return None
    return monitor


def _severity(value: float, extreme: float):
    return "error" if value >= extreme else None


def initial_parameters(ctx) -> dict:
    """``{parameter name: array}`` at initialisation: from ``ctx.fresh_model()`` in a diagnosis,
    else (``Monitor.findings()`` on a user's loop) the monitored model's current values."""
    if "initial_parameters" not in ctx.cache:
        model = None
        if getattr(ctx, "_initial_model", None) is not None:
            model = ctx.fresh_model()
        elif ctx.monitor is not None:
            model = getattr(ctx.monitor, "model", None)
        ctx.cache["initial_parameters"] = (
            {} if model is None else
            {name: np.array(p._data, dtype=np.float64) for name, p in model.named_parameters()})
    return ctx.cache["initial_parameters"]


def dead_at_init_cause(ctx, monitor, layer: str) -> dict:
    """Why a ReLU layer is dead before any update, from the layer feeding it.

    Returns ``{"feeder", "pre_mean", "pre_std", "bias_mean", "cause"}``; ``cause`` is
    ``"bias"`` when the feeding layer's pre-activations sit below 0 by more than their spread
    (mean < -std) and its bias accounts for at least half that shift, ``"shift"`` when they sit
    below 0 for another reason, and None when they are not shifted (then the inputs' scale or
    the weights' are the suspects).
    """
    layers = monitor.layers
    index = layers.index(layer)
    if index == 0:
        return {"cause": None}
    feeder = layers[index - 1]
    pre_mean, _ = init_and_late(monitor.activation(feeder, "mean"))
    pre_std, _ = init_and_late(monitor.activation(feeder, "std"))
    biases = [value for name, value in initial_parameters(ctx).items()
              if getattr(monitor, "layer_of_param", {}).get(name) == feeder
              and name.endswith("bias")]
    bias_mean = float(np.mean(biases[0])) if biases and biases[0].size else math.nan
    cause = None
    if math.isfinite(pre_mean) and math.isfinite(pre_std) and pre_mean < -pre_std:
        cause = ("bias" if math.isfinite(bias_mean) and bias_mean <= 0.5 * pre_mean
                 else "shift")
    return {"feeder": feeder, "pre_mean": pre_mean, "pre_std": pre_std, "bias_mean": bias_mean,
            "cause": cause}


def fraction_over_run(monitor, layer: str, stat: str) -> tuple:
    """``(at_init, late, worst)`` of a layer's fraction statistic (``dead_fraction``,
    ``saturated_fraction``): at the first record, late in the run, the larger (-1 if none)."""
    at_init, late = init_and_late(monitor.activation(layer, stat))
    worst = max(v for v in (at_init, late, -1.0) if math.isfinite(v))
    return at_init, late, worst


def dead_relu(ctx) -> list:
    """ReLU layers with more than half their units dead (at init or late in the run)."""
    monitor = _monitor(ctx)
    if monitor is None:
        return []
    limit = ctx.thresholds[DEAD]
    extreme = ctx.thresholds[DEAD_EXTREME]
    findings = []
    for layer in monitor.layers:
        if monitor.layer_types.get(layer) not in RELU_TYPES:
            continue
        at_init, late, worst = fraction_over_run(monitor, layer, "dead_fraction")
        if not worst > limit:
            continue
        # present before the first update: the initialisation (or the inputs) did it, not the
        # learning rate; appearing later: the updates did it
        onset = "init" if at_init > limit else "training"
        when = ("from the start" if at_init > limit and late > limit else
                "at initialisation" if at_init > limit else "by the end of the run")
        activity = monitor.unit_activity(layer)
        units = int(np.asarray(activity).size) if activity is not None else None
        evidence = {"dead_fraction": worst, "dead_fraction_at_init": at_init,
                    "dead_fraction_late": late, "units": units}
        message = (f"{worst:.0%} of the units of {layer} output 0 for every sample of a batch "
                   f"({when}): they pass no gradient, so they never recover and the layer works "
                   f"with {1 - worst:.0%} of its width.")
        if onset == "training":
            fix = ("lower the learning rate (units die when a large update pushes their bias far "
                   "negative), use He init with zero biases, or nn.LeakyReLU(0.01)")
        else:
            why = dead_at_init_cause(ctx, monitor, layer)
            evidence.update({key: why[key] for key in ("pre_mean", "pre_std", "bias_mean")
                             if key in why})
            evidence["cause_at_init"] = why["cause"]
            feeder = why.get("feeder")
            if why["cause"] == "bias":
                message += (f" The cause is the initialisation, not the data or the learning "
                            f"rate: {feeder}'s bias starts at mean {why['bias_mean']:.3g}, which "
                            f"puts its outputs at mean {why['pre_mean']:.3g} with std "
                            f"{why['pre_std']:.3g}, below 0 for almost every unit and sample.")
                fix = (f"initialise {feeder}'s bias at zero (nn.init.zeros_(layer.bias)) or a "
                       f"small positive value, keep He init (nn.init.kaiming_normal_) for its "
                       f"weight; nn.LeakyReLU(0.01) would also keep the units alive")
            elif why["cause"] == "shift":
                message += (f" {feeder}'s outputs start at mean {why['pre_mean']:.3g} with std "
                            f"{why['pre_std']:.3g}: shifted below 0 by more than their spread "
                            f"before any update, by the inputs or the initialisation.")
                fix = (f"centre what enters {feeder} (standardise the inputs, or check the layer "
                       f"before), zero biases and He init (nn.init.kaiming_normal_) for "
                       f"{feeder}; or nn.LeakyReLU(0.01)")
            else:
                fix = ("the units are dead before training: zero (or small positive) biases and "
                       "He init (nn.init.kaiming_normal_) for the layer before, standardised "
                       "inputs; or nn.LeakyReLU(0.01)")
        findings.append(Finding(
            "activation.dead_relu", message,
            severity=_severity(worst, extreme), layer=layer, onset=onset,
            evidence=evidence,
            thresholds=[ctx.thresholds.describe(DEAD),
                        ctx.thresholds.describe(DEAD_EXTREME)],
            fix=fix))
    return findings


def saturated(ctx) -> list:
    """Hidden tanh/sigmoid layers with most outputs in the flat tails."""
    monitor = _monitor(ctx)
    if monitor is None:
        return []
    limit = ctx.thresholds[SATURATED]
    extreme = ctx.thresholds[SATURATED_EXTREME]
    findings = []
    # the output layer may saturate legitimately (a confident, correct classifier)
    for layer in monitor.layers[:-1]:
        if monitor.layer_types.get(layer) not in SATURATING_TYPES:
            continue
        at_init, late, worst = fraction_over_run(monitor, layer, "saturated_fraction")
        if not worst > limit:
            continue
        kind = monitor.layer_types[layer]
        tails = "|out| > 0.99" if kind == "Tanh" else "out < 0.01 or > 0.99"
        findings.append(Finding(
            "activation.saturated",
            f"{worst:.0%} of the outputs of {layer} are saturated ({tails}) "
            f"({'already at initialisation' if at_init > limit else 'late in the run'}): there the "
            f"{kind} is flat, its gradient is below ~0.02, and the layers before it barely learn.",
            severity=_severity(worst, extreme), layer=layer,
            onset="init" if at_init > limit else "training",
            evidence={"saturated_fraction": worst, "saturated_fraction_at_init": at_init,
                      "saturated_fraction_late": late},
            thresholds=[ctx.thresholds.describe(SATURATED),
                        ctx.thresholds.describe(SATURATED_EXTREME)],
            fix="standardise the inputs and re-initialise the layer before it with Glorot "
                "(nn.init.xavier_normal_) so pre-activations stay near unit scale; or use ReLU."))
    return findings


def block_scales(monitor, record: str = "init") -> list:
    """``[(layer, std)]`` for each hidden weight layer (its output, or the normalisation's output
    right after it), input to output; the last weight layer (the model's output) is left out."""
    layers = monitor.layers
    owners = set()
    model = getattr(monitor, "model", None)
    if model is not None:
        dims = {name: p._data.ndim for name, p in model.named_parameters()}
        owners = {monitor.layer_of_param[name] for name in monitor.param_names
                  if dims.get(name, 0) >= 2 and name in monitor.layer_of_param}
    weight_layers = [i for i, layer in enumerate(layers)
                     if layer in owners or monitor.layer_types.get(layer) in WEIGHT_TYPES]
    rows = []
    for i in weight_layers[:-1]:
        block = layers[i]
        if i + 1 < len(layers) and monitor.layer_types.get(layers[i + 1]) in NORM_TYPES:
            block = layers[i + 1]
        at_init, late = init_and_late(monitor.activation(block, "std"))
        rows.append((layers[i], at_init if record == "init" else late))
    return rows


def longest_run(scales: list, low: float, high: float) -> tuple:
    """(start, length, side) of the longest run of consecutive stds on one side of [low, high]."""
    best = (0, 0, None)
    start, side = 0, None
    for i, (_, std) in enumerate(scales + [(None, 1.0 if low <= 1.0 <= high else low)]):
        here = "low" if std < low else "high" if std > high else None
        if here != side:
            if side is not None and i - start > best[1]:
                best = (start, i - start, side)
            start, side = i, here
    return best


def activation_scale(ctx) -> list:
    """Several hidden layers in a row with output std outside [0.5, 2], shrinking or growing."""
    monitor = _monitor(ctx)
    if monitor is None:
        return []
    low, high = ctx.thresholds[STD_LOW], ctx.thresholds[STD_HIGH]
    needed = int(ctx.thresholds[STD_RUN])
    extreme = ctx.thresholds[STD_EXTREME]
    for moment in ("init", "late"):
        scales = [(layer, std) for layer, std in block_scales(monitor, moment)
                  if math.isfinite(std)]
        start, length, side = longest_run(scales, low, high)
        if side is None or length < needed:
            continue
        run = scales[start:start + length]
        stds = [std for _, std in run]
        factor = ctx.thresholds[STD_TREND]
        trend = (stds[-1] * factor <= stds[0] if side == "low" else stds[-1] >= factor * stds[0])
        if not trend:
            continue
        end = stds[-1]
        off = low / max(end, 1e-300) if side == "low" else end / high
        verb = "shrinks" if side == "low" else "grows"
        return [Finding(
            "activation.scale",
            f"the activation std {verb} with depth "
            f"({'at initialisation' if moment == 'init' else 'late in the run'}): "
            + ", ".join(f"{layer} {std:.3g}" for layer, std in run)
            + f" — {length} layers in a row {'below' if side == 'low' else 'above'} "
              f"[{low:g}, {high:g}].",
            severity="error" if off >= extreme else None, layer=run[0][0],
            onset="init" if moment == "init" else "training",
            evidence={"stds": {layer: std for layer, std in scales},
                      "run_layers": [layer for layer, _ in run], "run_length": length,
                      "first_std": stds[0], "last_std": end, "when": moment},
            thresholds=[ctx.thresholds.describe(name) for name in
                        (STD_LOW, STD_HIGH, STD_RUN,
                         STD_TREND, STD_EXTREME)],
            fix="initialise each layer for the activation after it (He / kaiming_normal_ for "
                "ReLU, Glorot / xavier_normal_ for tanh), or add BatchNorm between layers.")]
    return []


# -- mechanical fixes ---------------------------------------------------------------------------
def fix_dead_relu(setup, finding):
    from ...nn.activation import LeakyReLU
    from ..context import copy_model
    from .model import _with_model
    twin = copy_model(setup.model)
    replaced = 0
    for _, module in list(twin.named_modules()):
        for name, child in list(module._modules.items()):
            if child is not None and type(child).__name__ == "ReLU":
                module._modules[name] = LeakyReLU(0.01)
                replaced += 1
    if not replaced:
        raise ValueError("fix activation.dead_relu: no nn.ReLU module to replace (a functional "
                         "relu in forward() must be changed by hand)")
    return _with_model(setup, twin)


def fix_activation_scale(setup, finding):
    from .model import _with_model, reinitialised_copy
    return _with_model(setup, reinitialised_copy(setup.model, setup.seed))


def fix_saturated(setup, finding):
    from .model import _with_model, reinitialised_copy
    return _with_model(setup, reinitialised_copy(setup.model, setup.seed))
