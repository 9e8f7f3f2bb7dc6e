"""Checks of the model before training: initialisation, output layer, capacity, eval mode.

All on ``ctx.fresh_model()`` copies: equal hidden weights (symmetric init), each weight
layer's std against He / Glorot / LeCun for its fans and activation, the initial output
against the targets (KL(prior || mean prediction) for classes), the final layer's range,
overfitting one tiny batch, and the user's ``evaluate`` watched for train mode. Also
fills ``ctx.predictions["layers"]`` (see minnet/debug/predict.py).
"""
from __future__ import annotations

import math

import numpy as np

from ..context import CLASSIFICATION, copy_model, optimizer_factory
from ..predict import (ELEMENTWISE_ACTIVATIONS, NORMALISATIONS, loss_kind, predict_layers,
                       trace_layers)
from ..report import Finding
from ..thresholds import define

INIT_SCALE_RATIO = define(
    "init_scale_ratio", 3.0, source="37R 28, HOLDEN 9",
    why="a weight std more than this factor above or below the nearest He/Glorot/LeCun value "
        "for the layer makes activations and gradients grow or shrink by that factor per layer")
INIT_SCALE_EXTREME = define(
    "init_scale_ratio_extreme", 10.0, source="37R 28",
    why="weights this many times too large blow up activations in one layer (error, not warning)")
SYMMETRY_TOLERANCE = define(
    "symmetric_weight_spread", 1e-6, source="HOLDEN 9",
    why="(max - min) of a layer's weights at most this fraction of their largest magnitude: "
        "all weights equal, so every unit computes the same thing and gets the same gradient")
OUTPUT_BIAS_OFFSET = define(
    "output_bias_offset_std", 1.0, source="RECIPE 2",
    why="initial mean prediction more than this many target stds from the target mean: the "
        "bias alone is over half the initial MSE and the first iterations only learn it")
OUTPUT_BIAS_KL = define(
    "output_bias_kl_nats", 0.25, source="RECIPE 2",
    why="KL(class frequencies || mean initial prediction) above this many nats: a bias at the log "
        "class frequencies would start the loss that much lower (the 'hockey stick')")
OUTPUT_BIAS_MIN_COUNT = define(
    "output_bias_min_expected_per_class", 5, source="RECIPE 2",
    why="below 5 training samples per class on average, the class frequencies are mostly "
        "sampling noise: balanced classes drawn N times give KL(frequencies || uniform) of "
        "about (C - 1) / (2N) nats, 0.3 for 15 samples of 10 classes, above the KL threshold "
        "by chance alone (Cochran's 'expected count at least 5' rule)")
UNREACHABLE_FRACTION = define(
    "output_unreachable_fraction", 0.05, source="HOLDEN 7",
    why="share of regression targets outside the final activation's range: the model can never "
        "predict them, so the loss has a floor")
OUTPUT_LOSS_FLOOR = define(
    "output_loss_floor_nats", 0.1, source="HOLDEN 7",
    why="lowest cross-entropy a bounded final activation allows for a one-hot target; above this "
        "the model can never be confident (max probability below ~90%)")
OVERFIT_BATCH = define(
    "overfit_batch_size", 16, source="RECIPE 2, 37R 24",
    why="samples in the one tiny batch a working model must be able to memorise (2-20)")
OVERFIT_STEPS = define(
    "overfit_steps", 300, source="RECIPE 2, SHAO 1",
    why="optimizer steps allowed per attempt to memorise the tiny batch")
OVERFIT_LOSS_FRACTION = define(
    "overfit_loss_fraction", 0.05, source="37R 24, RECIPE 2",
    why="memorised (non-class losses): loss at most this fraction of the loss of predicting the "
        "batch's mean target")
OVERFIT_PROGRESS = define(
    "overfit_progress_fraction", 0.25, source="RECIPE 2, 37R 24",
    why="a tiny-batch loss that fell to this fraction of the mean-target baseline (or lower) "
        "without reaching the memorisation mark is learning, just slowly (XOR-sized data, "
        "small learning rates): cannot_overfit is then only info, not an error")
EVAL_OUTPUT_TOLERANCE = define(
    "eval_output_tolerance", 1e-6, source="37R 32, TWEET",
    why="largest relative difference allowed between two evaluations of the same input")

# he: sqrt(2 / fan_in); glorot: sqrt(2 / (fan_in + fan_out)); lecun: sqrt(1 / fan_in)
SCHEMES_FOR = {"ReLU": ("he",), "LeakyReLU": ("he",), "ELU": ("he",), "ReLU6": ("he",),
               "GELU": ("he",), "SiLU": ("he",), "Softplus": ("he",),
               "Tanh": ("glorot", "lecun"), "Sigmoid": ("glorot", "lecun"),
               "Hardtanh": ("glorot", "lecun"), "SELU": ("lecun",), None: ("lecun", "glorot")}
RANGES = {"ReLU": (0.0, math.inf), "ReLU6": (0.0, 6.0), "Sigmoid": (0.0, 1.0),
          "Tanh": (-1.0, 1.0), "Hardtanh": (-1.0, 1.0), "Softplus": (0.0, math.inf)}


def scheme_std(scheme: str, fan_in: int, fan_out: int) -> float:
    if scheme == "he":
        return math.sqrt(2.0 / fan_in)
    if scheme == "glorot":
        return math.sqrt(2.0 / (fan_in + fan_out))
    return math.sqrt(1.0 / fan_in)


def _fans(weight: np.ndarray) -> tuple:
    receptive = int(np.prod(weight.shape[2:])) if weight.ndim > 2 else 1
    return weight.shape[1] * receptive, weight.shape[0] * receptive


# -- shared preflight evidence ------------------------------------------------------------------
def init_trace(ctx):
    """One traced forward/backward pass of a fresh copy on a training batch (cached)."""
    if "init_trace" not in ctx.cache:
        X, y = ctx.sample(max(2, min(int(ctx.batch_size or 32), len(ctx.X_train))))
        model = ctx.fresh_model()
        try:
            ctx.cache["init_trace"] = trace_layers(model, X, y, ctx.loss_fn, train_mode=True)
        except Exception:  # noqa: BLE001 - a model that fails on the batch: other checks say why
            ctx.cache["init_trace"] = trace_layers(model, X, train_mode=True)
        ctx.cache["init_batch"] = (X, y)
    return ctx.cache["init_trace"]


def predicted_vs_measured(ctx) -> list:
    """Fill ``ctx.predictions["layers"]``: per layer, the activation std and gradient RMS the
    initialisation should give next to what a fresh copy measures (no findings)."""
    trace = init_trace(ctx)
    _, y = ctx.cache["init_batch"]
    ctx.predictions["layers"] = predict_layers(trace, ctx.loss_fn, y)
    return []


# -- init.symmetric -----------------------------------------------------------------------------
def symmetric_layers(trace, tolerance: float) -> list:
    """``[(layer trace, spread)]`` for hidden weight layers whose weights are all equal."""
    found = []
    weight_layers = trace.weight_layers()
    for index in weight_layers[:-1]:   # the output layer may start at zero (units differ by target)
        weight = trace.layers[index].weight.astype(np.float64)
        largest = float(np.abs(weight).max()) if weight.size else 0.0
        spread = float(weight.max() - weight.min()) if weight.size else 0.0
        if weight.size > 1 and spread <= tolerance * max(largest, 1e-30):
            found.append((trace.layers[index], spread))
    return found


def symmetric_init(ctx) -> list:
    """Hidden layers whose weights are all equal: their units stay identical forever."""
    tolerance = ctx.thresholds[SYMMETRY_TOLERANCE]
    findings = []
    for layer, spread in symmetric_layers(init_trace(ctx), tolerance):
        weight = layer.weight
        value = float(weight.reshape(-1)[0])
        units = weight.shape[0]
        findings.append(Finding(
            "init.symmetric",
            f"every weight of {layer.label} is {value:g}: its {units} units compute the same "
            f"value and receive the same gradient, so they stay identical (one unit's worth of "
            f"capacity).",
            layer=layer.label,
            evidence={"weight_value": value, "weight_spread": spread, "units": int(units),
                      "weight_shape": list(weight.shape)},
            thresholds=[ctx.thresholds.describe(SYMMETRY_TOLERANCE)],
            fix=f"initialise {layer.label} randomly, e.g. nn.init.kaiming_uniform_(layer.weight, "
                f"nonlinearity='relu') or xavier_uniform_ for tanh; biases may stay zero."))
    return findings


# -- init.bad_scale -----------------------------------------------------------------------------
def scale_verdicts(trace) -> list:
    """Per weight layer: dict(layer, std, following, references {scheme: std}, nearest, ratio)."""
    rows = []
    weight_layers = trace.weight_layers()
    for position, index in enumerate(weight_layers):
        layer = trace.layers[index]
        weight = layer.weight.astype(np.float64)
        following = trace.following_activation(index)
        if following in NORMALISATIONS or weight.size < 2:
            continue   # a normalisation right after makes the weight scale irrelevant forward
        fan_in, fan_out = _fans(weight)
        schemes = SCHEMES_FOR.get(following, SCHEMES_FOR[None])
        references = {s: scheme_std(s, fan_in, fan_out) for s in schemes}
        std = float(weight.std())
        nearest = min(references, key=lambda s: abs(math.log(max(std, 1e-300) / references[s])))
        rows.append({"layer": layer, "std": std, "following": following, "fan_in": fan_in,
                     "fan_out": fan_out, "references": references, "nearest": nearest,
                     "ratio": std / references[nearest],
                     "is_output": position == len(weight_layers) - 1})
    return rows


_INIT_CALL = {"he": "nn.init.kaiming_normal_(layer.weight, nonlinearity='relu')",
              "glorot": "nn.init.xavier_normal_(layer.weight)",
              "lecun": "nn.init.lecun_normal_(layer.weight)"}


def bad_init_scale(ctx) -> list:
    """Weight std more than ~3x away from the He/Glorot/LeCun value for the following activation."""
    limit = ctx.thresholds[INIT_SCALE_RATIO]
    extreme = ctx.thresholds[INIT_SCALE_EXTREME]
    symmetric = {layer.label for layer, _ in symmetric_layers(
        init_trace(ctx), ctx.thresholds[SYMMETRY_TOLERANCE])}
    findings = []
    for row in scale_verdicts(init_trace(ctx)):
        layer, ratio = row["layer"], row["ratio"]
        if layer.label in symmetric or row["std"] == 0:
            continue   # init.symmetric says it better
        too_large, too_small = ratio > limit, ratio < 1 / limit
        if row["is_output"] and too_small:
            continue   # a small last layer is recommended (RECIPE 2: unsure first predictions)
        if not (too_large or too_small):
            continue
        scheme = SCHEMES_FOR.get(row["following"], SCHEMES_FOR[None])[0]
        reference = row["references"][scheme]
        activation = row["following"] or "no activation (linear)"
        severity = "error" if too_large and ratio >= extreme else None
        findings.append(Finding(
            "init.bad_scale",
            f"{layer.label} has weight std {row['std']:.3g}; {scheme.capitalize()} init for "
            f"fan_in {row['fan_in']}, fan_out {row['fan_out']} followed by {activation} gives "
            f"{reference:.3g} ({ratio:.2g}x the nearest standard value): activations "
            f"{'grow' if too_large else 'shrink'} by about that factor in this layer.",
            severity=severity, layer=layer.label,
            evidence={"weight_std": row["std"], "ratio_to_nearest": ratio,
                      "nearest_scheme": row["nearest"],
                      "reference_stds": dict(row["references"]), "fan_in": row["fan_in"],
                      "fan_out": row["fan_out"], "following_activation": activation},
            thresholds=[ctx.thresholds.describe(INIT_SCALE_RATIO),
                        ctx.thresholds.describe(INIT_SCALE_EXTREME)],
            fix=f"re-initialise {layer.label}: {_INIT_CALL[scheme]} (std {reference:.3g})."))
    return findings


# -- init.output_bias ---------------------------------------------------------------------------
def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _last_bias_text(trace) -> tuple:
    """(label, bias array or None) of the last weight layer when it produces the output."""
    weights = trace.weight_layers()
    if not weights or not trace.final_is_last_layer or weights[-1] != len(trace.layers) - 1:
        return None, None
    layer = trace.layers[weights[-1]]
    return layer.label, layer.bias


def output_bias(ctx) -> list:
    """The initial predictions' mean against the targets' mean / class frequencies."""
    trace = init_trace(ctx)
    if trace.output is None or not np.all(np.isfinite(trace.output)):
        return []
    model = ctx.fresh_model()
    n = min(len(ctx.X_train), 512)
    X, y = ctx.sample(n, seed=ctx.seed + 1)
    out = ctx.forward(model, X).astype(np.float64)
    if not np.all(np.isfinite(out)):
        return []
    kind = loss_kind(ctx.loss_fn)
    label, bias = _last_bias_text(trace)
    if kind in ("cross_entropy", "nll") and out.ndim == 2 and y.ndim == 1 and \
            y.dtype.kind in "iu":
        classes = out.shape[1]
        labels = ctx.y_train.astype(np.int64)
        if labels.min() < 0 or labels.max() >= classes:
            return []
        counts = np.bincount(labels, minlength=classes).astype(np.float64)
        # a class-weighted loss is minimised by the weighted frequencies, not the raw ones
        # (weights N / (C * counts) make the best constant prediction uniform)
        from .data import class_weights
        weights = class_weights(ctx.loss_fn, classes)
        if weights is not None and np.all(weights >= 0) and np.any(weights * counts > 0):
            counts = counts * weights * counts.sum() / np.sum(weights * counts)
        predicted = (np.exp(out) if kind == "nll" else _softmax(out)).mean(axis=0)
        return _classification_bias(ctx, counts, predicted, label, bias, kind)
    if kind in ("bce_logits", "bce"):
        targets = ctx.y_train.astype(np.float64).reshape(len(ctx.y_train), -1)
        if not np.all((targets >= 0) & (targets <= 1)):
            return []   # not probabilities: no prior to speak of (data.labels_invalid says so)
        prior_one = targets.mean(axis=0)
        probs = 1 / (1 + np.exp(-out)) if kind == "bce_logits" else out
        predicted_one = probs.reshape(len(probs), -1).mean(axis=0)
        if prior_one.shape != predicted_one.shape:
            return []
        worst = []
        for p, q in zip(prior_one, predicted_one):
            prior, predicted = np.array([1 - p, p]), np.array([1 - q, q])
            worst.append((_kl(prior, predicted), prior, predicted))
        _, prior, predicted = max(worst, key=lambda item: item[0])
        return _classification_bias(ctx, prior * len(targets), predicted, label, bias, kind)
    if ctx.task != CLASSIFICATION and kind in ("mse", "l1", None):
        return _regression_bias(ctx, out, label, bias)
    return []


def _kl(prior: np.ndarray, predicted: np.ndarray) -> float:
    mask = prior > 0
    return float(np.sum(prior[mask] * np.log(prior[mask] / np.maximum(predicted[mask], 1e-300))))


def smoothed_log_frequencies(counts: np.ndarray) -> np.ndarray:
    """log((count + 1/2) / (N + C/2)) per class: the Jeffreys (add-1/2) estimate, so a class
    absent from the training data gets a finite log frequency instead of log(0)."""
    counts = np.asarray(counts, dtype=np.float64)
    return np.log((counts + 0.5) / (counts.sum() + 0.5 * len(counts)))


def _classification_bias(ctx, counts, predicted, label, bias, kind) -> list:
    """``counts`` (C,): training samples per class (fractional for soft BCE targets)."""
    n = float(counts.sum())
    expected = n / len(counts)
    if expected < ctx.thresholds[OUTPUT_BIAS_MIN_COUNT]:
        return []  # the frequencies are noise: no bias worth suggesting from them
    prior = counts / n
    limit = ctx.thresholds[OUTPUT_BIAS_KL]
    kl = _kl(prior, predicted)
    # only where the classes are imbalanced enough that an unbiased (uniform) start is itself
    # costly: on balanced data a non-uniform mean prediction comes from the weights' scale
    # (loss.initial_unexpected), not from a bias left away from the prior
    kl_uniform = _kl(prior, np.full_like(prior, 1 / len(prior)))
    if kl <= limit or kl_uniform <= limit:
        return []
    log_prior = smoothed_log_frequencies(counts)
    if kind in ("bce_logits", "bce"):
        suggestion = np.array([log_prior[1] - log_prior[0]])
        smoothed = (counts[1] + 0.5) / (n + 1.0)
        text = (f"log(p / (1 - p)) = {suggestion[0]:.3g} with p = ({counts[1]:.4g} + 1/2) / "
                f"({n:.4g} + 1) = {smoothed:.3g}")
    else:
        suggestion = log_prior - log_prior.mean()
        text = "the log class frequencies " + np.array2string(suggestion, precision=2)
        if np.any(counts == 0):
            text += (f" (classes never seen in training, {np.flatnonzero(counts == 0).tolist()}, "
                     f"get log((0 + 1/2) / (N + C/2)) rather than log 0)")
    where = f"{label}.bias" if label else "the last layer's bias"
    return [Finding(
        "init.output_bias",
        f"the classes occur with frequencies {np.array2string(prior, precision=3)} but the "
        f"untrained model predicts {np.array2string(predicted, precision=3)} on average: "
        f"KL = {kl:.3f} nats of the initial loss is only the bias, which the first iterations "
        f"spend learning.",
        evidence={"kl_nats": kl, "kl_of_uniform_prediction": kl_uniform,
                  "class_frequencies": prior.tolist(), "class_counts": counts.tolist(),
                  "expected_per_class": expected,
                  "mean_initial_prediction": predicted.tolist(),
                  "last_bias": None if bias is None else bias.reshape(-1).tolist(),
                  "suggested_bias": suggestion.tolist()},
        thresholds=[ctx.thresholds.describe(OUTPUT_BIAS_KL),
                    ctx.thresholds.describe(OUTPUT_BIAS_MIN_COUNT)],
        fix=f"set {where} to {text} before training.")]


def _regression_bias(ctx, out, label, bias) -> list:
    targets = ctx.y_train.astype(np.float64)
    if targets.size == 0 or out.shape[0] == 0:
        return []
    targets = targets.reshape(len(targets), -1)
    out = out.reshape(len(out), -1)
    if targets.shape[1] != out.shape[1]:
        return []
    target_mean, target_std = targets.mean(axis=0), targets.std(axis=0)
    offset = np.abs(out.mean(axis=0) - target_mean) / np.where(target_std > 0, target_std, np.inf)
    worst = int(np.argmax(offset))
    limit = ctx.thresholds[OUTPUT_BIAS_OFFSET]
    if not offset[worst] > limit:
        return []
    share = offset[worst] ** 2 / (1 + offset[worst] ** 2)
    where = f"{label}.bias" if label else "the last layer's bias"
    return [Finding(
        "init.output_bias",
        f"the targets' mean is {target_mean[worst]:.4g} (std {target_std[worst]:.3g}) but the "
        f"untrained model predicts {out.mean(axis=0)[worst]:.4g} on average: "
        f"{offset[worst]:.2f} target stds off, about {share:.0%} of the initial MSE.",
        evidence={"offset_in_target_std": float(offset[worst]),
                  "target_mean": target_mean.tolist(), "target_std": target_std.tolist(),
                  "mean_initial_prediction": out.mean(axis=0).tolist(),
                  "last_bias": None if bias is None else bias.reshape(-1).tolist()},
        thresholds=[ctx.thresholds.describe(OUTPUT_BIAS_OFFSET)],
        fix=f"set {where} to the target mean {np.array2string(target_mean, precision=4)} "
            f"before training (or standardise the targets).")]


# -- output.wrong_activation --------------------------------------------------------------------
def final_activation(trace):
    """The final layer's trace when it is a bounded activation and produces the output."""
    if not trace.layers or not trace.final_is_last_layer:
        return None
    last = trace.layers[-1]
    return last if last.kind in RANGES else None


def wrong_output_activation(ctx) -> list:
    """A final activation whose range cannot reach the targets."""
    trace = init_trace(ctx)
    last = final_activation(trace)
    if last is None:
        return []
    low, high = RANGES[last.kind]
    kind = loss_kind(ctx.loss_fn)
    fix = (f"remove the final {last.kind} ({last.label}): a linear output can reach any target"
           + ("; cross_entropy wants unbounded logits." if kind == "cross_entropy" else "."))
    if kind == "cross_entropy" and trace.output is not None and trace.output.ndim == 2:
        classes = trace.output.shape[1]
        if not math.isfinite(high) or classes < 2:
            return []
        floor = -math.log(math.exp(high) / (math.exp(high) + (classes - 1) * math.exp(low)))
        limit = ctx.thresholds[OUTPUT_LOSS_FLOOR]
        if floor <= limit:
            return []
        return [Finding(
            "output.wrong_activation",
            f"the logits come out of {last.label}, so they lie in [{low:g}, {high:g}]: with "
            f"{classes} classes the model can never give a class more than "
            f"{math.exp(-floor):.0%} probability, and the loss can never go below {floor:.3f}.",
            layer=last.label,
            evidence={"output_range": [low, high], "classes": classes, "loss_floor": floor},
            thresholds=[ctx.thresholds.describe(OUTPUT_LOSS_FLOOR)], fix=fix)]
    if kind not in ("mse", "l1", None) or ctx.task == CLASSIFICATION:
        return []
    targets = ctx.y_train.astype(np.float64).reshape(-1)
    if targets.size == 0:
        return []
    outside = float(np.mean((targets < low) | (targets > high)))
    limit = ctx.thresholds[UNREACHABLE_FRACTION]
    if outside <= limit:
        return []
    clipped = np.clip(targets, low, high)
    variance = float(targets.var())
    floor = float(np.mean((targets - clipped) ** 2)) / variance if variance > 0 else math.nan
    return [Finding(
        "output.wrong_activation",
        f"the model's output comes out of {last.label}, whose range is [{low:g}, {high:g}], but "
        f"{outside:.0%} of the targets lie outside it (targets span [{targets.min():.3g}, "
        f"{targets.max():.3g}]): those can never be predicted; even a perfect model keeps an "
        f"MSE of {floor:.2f} x Var(y).",
        layer=last.label,
        evidence={"fraction_unreachable": outside, "output_range": [low, high],
                  "target_min": float(targets.min()), "target_max": float(targets.max()),
                  "mse_floor_over_variance": floor},
        thresholds=[ctx.thresholds.describe(UNREACHABLE_FRACTION)], fix=fix)]


# -- output.wrong_activation: a softmax whose rows cannot match the targets ----------------------
MULTI_LABEL_ROWS = 0.05   # share of target rows with several 1s that makes the data multi-label


def _multi_label_rows(y: np.ndarray) -> float:
    """Share of rows of a (N, C>1) 0/1 target with more than one 1 (0.0 for other targets)."""
    if y.ndim != 2 or y.shape[1] < 2 or y.dtype.kind != "f" or not y.size:
        return 0.0
    if not np.all((y == 0) | (y == 1)):
        return 0.0
    return float(np.mean(y.sum(axis=1) > 1))


def softmax_output_mismatch(ctx) -> list:
    """A softmax output measured against the targets it must match.

    Reasons per row, not per element: "1 lies inside [0, 1]" says nothing when a softmax over
    a single unit outputs exactly 1 for every sample, or when target rows hold several 1s that
    a distribution summing to 1 can never match.
    """
    from .loss import initial_sample, output_kind
    trace = init_trace(ctx)
    last = trace.layers[-1] if trace.layers and trace.final_is_last_layer else None
    _, y, output = initial_sample(ctx)
    if output.ndim != 2 or not np.all(np.isfinite(output)):
        return []
    kind = loss_kind(ctx.loss_fn)
    softmax_layer = last is not None and last.kind in ("Softmax", "LogSoftmax")
    where = last.label if last is not None else None
    if softmax_layer and output.shape[1] == 1:
        constant = float(np.ptp(output)) == 0.0
        return [Finding(
            "output.wrong_activation",
            f"{last.label} normalises over a single output unit, so it outputs "
            f"{float(output[0, 0]):g} for every sample (measured on {len(output)} samples: "
            f"{'all identical' if constant else 'spread ' + format(float(np.ptp(output)), '.3g')})."
            " The prediction cannot depend on the input and nothing upstream gets a gradient.",
            layer=where,
            evidence={"output_units": 1, "output_value": float(output[0, 0]),
                      "output_spread": float(np.ptp(output)), "samples": len(output)},
            fix="for two classes use one unit with a Sigmoid (or none, with "
                "BCEWithLogitsLoss), or two units with CrossEntropyLoss; a softmax needs at "
                "least two units.")]
    if softmax_layer and len(output) > 1 and output.shape[1] > 1:
        probabilities = np.exp(output) if last.kind == "LogSoftmax" else output
        columns = np.abs(probabilities.sum(axis=0) - 1).max()
        rows = np.abs(probabilities.sum(axis=1) - 1).max()
        if columns <= 1e-3 and rows > 1e-2:
            return [Finding(
                "output.wrong_activation",
                f"{last.label} normalises over the batch (dim 0), not over the classes: each "
                f"column of its output sums to 1 and the rows sum to between "
                f"{probabilities.sum(axis=1).min():.3g} and {probabilities.sum(axis=1).max():.3g} "
                f"(measured on {len(output)} samples). A row is no probability distribution, and "
                f"one sample's prediction changes with the other samples in its batch.",
                layer=last.label,
                evidence={"column_sum_max_error": float(columns),
                          "row_sum_min": float(probabilities.sum(axis=1).min()),
                          "row_sum_max": float(probabilities.sum(axis=1).max()),
                          "samples": len(output)},
                fix=f"normalise over the classes: nn.{last.kind}(dim=1) (or dim=-1).")]
    share = _multi_label_rows(np.asarray(y))
    if share <= MULTI_LABEL_ROWS:
        return []
    out_kind, _ = output_kind(output, 1e-3)
    normalised = out_kind in ("probabilities", "log-probabilities") or kind == "cross_entropy"
    if not normalised:
        return []
    labels_per_row = float(np.asarray(y).sum(axis=1).mean())
    through = (f"the output of {where}" if softmax_layer else
               "cross_entropy's softmax" if kind == "cross_entropy" else "the output")
    return [Finding(
        "output.wrong_activation",
        f"the targets are multi-label: {share:.0%} of rows have several classes on "
        f"({labels_per_row:.2f} per row on average), but {through} is a distribution over the "
        f"classes that sums to 1, so raising one label lowers the others and no row with two "
        f"labels can be matched.",
        layer=where if softmax_layer else None,
        evidence={"multi_label_row_fraction": share, "labels_per_row": labels_per_row,
                  "output_units": int(output.shape[1]), "output_kind": out_kind},
        fix="multi-label: use one logit per label with BCEWithLogitsLoss (or a Sigmoid per "
            "unit with BCELoss), not a softmax and categorical cross-entropy.")]


# -- model.train_mode_at_eval: randomness left in eval mode -------------------------------------
def random_in_eval_mode(ctx) -> list:
    """Two eval-mode forward passes of the same inputs must agree. A Dropout created inside
    forward() (never registered, so model.eval() does not reach it) or F.dropout(x) with its
    default training=True keeps dropping units after model.eval()."""
    # (train_mode_at_eval above covers the other half: registered modules left in training
    # mode by the user's evaluate(); this one runs the model in eval mode itself)
    from ...random import default_generator
    model = ctx.fresh_model()
    X, _ = ctx.sample(min(64, len(ctx.X_train)), seed=ctx.seed + 4)
    generator = default_generator()
    state = generator.bit_generator.state   # keep the user's global random stream untouched
    outputs, handles = _record_leaf_outputs(model)
    try:
        first = ctx.forward(model, X, train_mode=False).astype(np.float64)
        first_pass = {label: list(values) for label, values in outputs.items()}
        for values in outputs.values():
            values.clear()
        second = ctx.forward(model, X, train_mode=False).astype(np.float64)
    finally:
        generator.bit_generator.state = state
        for handle in handles:
            handle.remove()
    if first.shape != second.shape or not (np.all(np.isfinite(first)) and np.all(np.isfinite(second))):
        return []
    scale = max(float(np.abs(first).max()), 1e-12)
    difference = float(np.abs(first - second).max()) / scale
    if difference <= ctx.thresholds[EVAL_OUTPUT_TOLERANCE]:
        return []
    layer = _first_differing_layer(first_pass, outputs)
    where = (f" The outputs first differ at {layer}: the random step runs in forward() before "
             f"it (or inside it)." if layer else "")
    return [Finding(
        "model.train_mode_at_eval",
        f"after model.eval() the same {len(X)} inputs gave outputs differing by up to "
        f"{difference:.3g} (relative) between two forward passes: something random still runs "
        f"in evaluation. model.eval() only reaches registered submodules: a Dropout created "
        f"inside forward() or F.dropout(x) with its default training=True stays on.{where}",
        layer=layer,
        evidence={"relative_difference_between_eval_passes": difference,
                  "first_differing_layer": layer,
                  "registered_dropout_or_batchnorm": [
                      path for path, m in model.named_modules()
                      if type(m).__name__ in STOCHASTIC_IN_TRAINING]},
        thresholds=[ctx.thresholds.describe(EVAL_OUTPUT_TOLERANCE)],
        fix="create the Dropout once in __init__ (self.drop = nn.Dropout(p)) and call "
            "self.drop(x) in forward(), or pass training=self.training to F.dropout.")]


def _record_leaf_outputs(model) -> tuple:
    """Forward hooks on every registered leaf module, in call order: ``({label: [outputs]},
    handles)``; a module created inside forward() is not registered, so it is not here."""
    from .loss import layer_label
    outputs: dict = {}
    handles = []
    for path, module in model.named_modules():
        if any(True for _ in module.children()):
            continue
        label = layer_label(path, module)

        def keep(module, args, output, label=label):
            data = getattr(output, "_data", None)
            if isinstance(data, np.ndarray):
                outputs.setdefault(label, []).append(data.astype(np.float64))
        handles.append(module.register_forward_hook(keep))
    return outputs, handles


def _first_differing_layer(first: dict, second: dict):
    """The first registered layer (in the order it ran) whose output differs between two
    eval-mode passes of the same inputs, or None."""
    for label, values in first.items():
        again = second.get(label, [])
        for a, b in zip(values, again):
            if a.shape != b.shape or not np.allclose(a, b, rtol=1e-6, atol=1e-9):
                return label
    return None


# -- model.cannot_overfit -----------------------------------------------------------------------
def tiny_batch(ctx, size: int) -> tuple:
    """``size`` training samples with finite values (``ctx.finite_rows``); for classification,
    as many classes as possible (seeded)."""
    rng = np.random.default_rng(ctx.seed)
    rows = ctx.finite_rows()
    n = len(rows)
    size = max(2, min(size, n))
    if ctx.task == CLASSIFICATION and ctx.y_train.ndim == 1:
        order = rows[rng.permutation(n)]
        labels = ctx.y_train[order]
        _, first = np.unique(labels, return_index=True)   # one of each class first
        chosen = list(order[np.sort(first)][:size])
        rest = [i for i in order if i not in set(chosen)]
        chosen += rest[:size - len(chosen)]
        index = np.array(chosen)
    else:
        index = rows[rng.choice(n, size=size, replace=False)]
    return ctx.X_train[index], ctx.y_train[index]


def memorised(ctx, model, X, y, baseline: float) -> tuple:
    """(memorised?, loss, accuracy or None) of ``model`` on the tiny batch."""
    out = ctx.forward(model, X)
    loss = ctx.loss_value(out, y)
    if not math.isfinite(loss):
        return False, loss, None
    if out.ndim == 2 and out.shape[1] > 1 and y.ndim == 1 and y.dtype.kind in "iu":
        accuracy = float(np.mean(out.argmax(axis=1) == y))
        return accuracy == 1.0, loss, accuracy
    return loss <= ctx.thresholds[OVERFIT_LOSS_FRACTION] * baseline, loss, None


def _baseline_loss(ctx, model, X, y) -> float:
    """Loss of predicting the batch's mean target (the bar a memorising model must beat)."""
    out = ctx.forward(model, X)
    try:
        if y.dtype.kind == "f" and out.shape == y.shape:
            return ctx.loss_value(np.broadcast_to(y.mean(axis=0), y.shape).copy(), y)
    except Exception:  # noqa: BLE001
        pass
    return ctx.loss_value(out, y)


def overfit_attempt(ctx, X, y, steps: int, optimizer_factory_fn=None, use_user_step=True) -> dict:
    """Train a fresh copy on (X, y) full-batch for ``steps``; stops early once memorised."""
    model = ctx.fresh_model()
    baseline = _baseline_loss(ctx, model, X, y)
    optimizer = (optimizer_factory_fn or ctx.make_optimizer)(model)
    chunk = 25
    done = 0
    result = (False, math.nan, None)
    while done < steps:
        run = ctx.train(model, chunk, X=X, y=y, batch_size=len(X), shuffle=False,
                        optimizer=optimizer,
                        train_step="default" if use_user_step else None)
        done += chunk
        result = memorised(ctx, model, X, y, baseline)
        if result[0] or run.error is not None or run.stopped_at is not None:
            break
    return {"memorised": result[0], "loss": result[1], "accuracy": result[2], "steps": done,
            "baseline_loss": baseline}


def cannot_overfit(ctx) -> list:
    """Train fresh copies on one tiny batch: a working model and loss memorise it.

    Attempts, in order, each stopping as soon as the batch is memorised: (1) the user's
    optimizer and training step; (2) the standard step with the user's optimizer;
    (3) the standard step with Adam at lr 1e-2 and 1e-3. Only when every attempt fails is the
    model (or loss, or labels) unable to learn: an error. When only the user's training step
    fails, the step is at fault (warning). When only the user's optimizer settings fail, the
    learning-rate checks say why (no finding here).
    """
    from ...optim import Adam
    size = int(ctx.thresholds[OVERFIT_BATCH])
    steps = int(ctx.thresholds[OVERFIT_STEPS])
    X, y = tiny_batch(ctx, size)
    attempts = {"user": overfit_attempt(ctx, X, y, steps)}
    ctx.cache["overfit"] = attempts
    if attempts["user"]["memorised"]:
        return []
    if ctx.train_step is not None:
        attempts["standard step"] = overfit_attempt(ctx, X, y, steps, use_user_step=False)
    for lr in (1e-2, 1e-3):
        key = f"Adam lr={lr:g}"
        attempts[key] = overfit_attempt(ctx, X, y, steps,
                                        lambda model, lr=lr: Adam(model.parameters(), lr=lr),
                                        use_user_step=False)
        if attempts[key]["memorised"]:
            break
    summary = {key: {"loss": a["loss"], "accuracy": a["accuracy"], "steps": a["steps"]}
               for key, a in attempts.items()}
    thresholds = [ctx.thresholds.describe(name) for name in
                  (OVERFIT_BATCH, OVERFIT_STEPS, OVERFIT_LOSS_FRACTION)]
    if any(a["memorised"] for a in attempts.values()):
        if attempts.get("standard step", {}).get("memorised"):
            return [Finding(
                "model.cannot_overfit",
                f"with your train_step the model cannot memorise {len(X)} samples in {steps} "
                f"steps, but the standard zero_grad/forward/backward/step loop can: the bug is "
                f"in your training step.",
                severity="warning", evidence={"batch_size": len(X), "attempts": summary},
                thresholds=thresholds,
                fix="compare your train_step with optimizer.zero_grad(); loss = loss_fn("
                    "model(X), y); loss.backward(); optimizer.step().")]
        return []   # only the optimizer settings fail: the learning-rate checks explain it
    user = attempts["user"]
    # How far did the best attempt get? A loss that fell to a small fraction of the
    # mean-target baseline is learning the batch, only slowly (XOR-sized problems need
    # thousands of steps): that is not "cannot", so it is at most worth knowing.
    best = min((a for a in attempts.values() if math.isfinite(a["loss"])),
               key=lambda a: a["loss"], default=None)
    progress = (best["loss"] / best["baseline_loss"]
                if best is not None and best["baseline_loss"] > 0 else math.nan)
    severity = None
    slow_note = ""
    if math.isfinite(progress) and progress <= ctx.thresholds[OVERFIT_PROGRESS]:
        severity = "info"
        slow_note = (f" It is learning it, slowly: the best attempt brought the loss down to "
                     f"{100 * progress:.1f}% of the mean-target baseline {best['baseline_loss']:.4g}; "
                     "give it more steps before suspecting a bug.")
    reached = (f"accuracy {user['accuracy']:.0%}" if user["accuracy"] is not None
               else f"loss {user['loss']:.4g} (mean-target baseline {user['baseline_loss']:.4g})")
    return [Finding(
        "model.cannot_overfit",
        f"a fresh copy trained on one batch of {len(X)} samples cannot memorise it: best "
        f"{reached} after {steps} steps with your optimizer, and Adam does no better. A "
        f"working model and loss drive a tiny batch to ~zero loss.{slow_note}",
        severity=severity,
        evidence={"batch_size": len(X), "attempts": summary, "best_loss_over_baseline": progress,
                  "parameters": int(sum(p._data.size for p in ctx.fresh_model().parameters()))},
        thresholds=thresholds)]


# -- model.train_mode_at_eval -------------------------------------------------------------------
STOCHASTIC_IN_TRAINING = ("Dropout", "Dropout2d", "AlphaDropout", "BatchNorm1d", "BatchNorm2d")


def train_mode_at_eval(ctx) -> list:
    """Run the user's ``evaluate`` on a copy left in training mode (as it is after training)
    and watch ``module.training`` of Dropout/BatchNorm during its forward passes."""
    if ctx.evaluate is None:
        return []
    model = ctx.fresh_model()
    watched = [(path, m) for path, m in model.named_modules()
               if type(m).__name__ in STOCHASTIC_IN_TRAINING]
    if not watched:
        return []
    seen_training = {}
    handles = []
    for path, module in watched:
        def on_output(module, args, output, path=path):
            label = f"{path} ({type(module).__name__})"
            seen_training[label] = seen_training.get(label, False) or bool(module.training)
        handles.append(module.register_forward_hook(on_output))
    X, y = ctx.sample(min(64, len(ctx.X_train)), seed=ctx.seed + 2)
    model.train()
    try:
        with np.errstate(all="ignore"):
            first = np.asarray(_as_array(ctx.evaluate(model, X, y)), dtype=np.float64)
            model.train()   # as if training went on between two evaluations
            second = np.asarray(_as_array(ctx.evaluate(model, X, y)), dtype=np.float64)
    finally:
        for handle in handles:
            handle.remove()
    in_training = sorted(label for label, training in seen_training.items() if training)
    if not in_training:
        return []
    reference = ctx.forward(model, X, train_mode=False).astype(np.float64)
    scale = max(float(np.abs(reference).max()), 1e-12) if reference.size else 1.0
    between_calls = float(np.abs(first - second).max()) / scale if first.shape == second.shape \
        else math.nan
    versus_eval = float(np.abs(first - reference).max()) / scale \
        if first.shape == reference.shape else math.nan
    return [Finding(
        "model.train_mode_at_eval",
        f"your evaluate() runs {', '.join(in_training)} in training mode: the same "
        f"{len(X)} inputs gave outputs differing by up to {between_calls:.3g} (relative) between "
        f"two calls and by {versus_eval:.3g} from the eval-mode output. Dropout still drops "
        f"units and BatchNorm uses (and updates) batch statistics.",
        layer=in_training[0],
        evidence={"layers_in_training_mode": in_training,
                  "relative_difference_between_calls": between_calls,
                  "relative_difference_from_eval_mode": versus_eval},
        thresholds=[ctx.thresholds.describe(EVAL_OUTPUT_TOLERANCE)],
        fix="call model.eval() at the start of evaluate() (and model.train() before training "
            "resumes).")]


def _as_array(value):
    data = getattr(value, "_data", value)
    return data


# -- mechanical fixes ---------------------------------------------------------------------------
def reinitialised_copy(model, seed: int = 0):
    """A copy of ``model`` with every Linear/Conv weight re-initialised for the activation that
    follows it (He before ReLU-like, Glorot before tanh/sigmoid and at a linear output) and
    biases zeroed."""
    from ...nn import init
    twin = copy_model(model)
    rng = np.random.default_rng(seed)
    order = [m for _, m in twin.named_modules() if not any(True for _ in m.children())]
    for i, module in enumerate(order):
        weight = module._parameters.get("weight")
        if weight is None or weight._data.ndim < 2:
            continue
        following = None
        for later in order[i + 1:]:
            later_weight = later._parameters.get("weight")
            if later_weight is not None and later_weight._data.ndim >= 2:
                break
            if type(later).__name__ in ELEMENTWISE_ACTIVATIONS:
                following = type(later).__name__
                break
        if SCHEMES_FOR.get(following, ("glorot",))[0] == "he":
            init.kaiming_normal_(weight, nonlinearity="relu", generator=rng)
        else:
            init.xavier_normal_(weight, generator=rng)
        bias = module._parameters.get("bias")
        if bias is not None:
            init.zeros_(bias)
    return twin


def _with_model(setup, model):
    optimizer = optimizer_factory(setup.optimizer, setup.model)(model) \
        if setup.optimizer is not None else None
    return setup.replace(model=model, optimizer=optimizer)


def fix_init_scale(setup, finding):
    return _with_model(setup, reinitialised_copy(setup.model, setup.seed))


def fix_symmetric(setup, finding):
    return _with_model(setup, reinitialised_copy(setup.model, setup.seed))


def fix_output_bias(setup, finding):
    suggestion = finding.evidence.get("suggested_bias")
    if suggestion is None:
        suggestion = finding.evidence.get("target_mean")
    twin = copy_model(setup.model)
    last = [m for _, m in twin.named_modules()
            if m._parameters.get("weight") is not None and m._parameters["weight"]._data.ndim >= 2]
    if not last or last[-1]._parameters.get("bias") is None:
        raise ValueError("fix init.output_bias: the last weight layer has no bias to set")
    bias = last[-1]._parameters["bias"]
    bias._data[...] = np.asarray(suggestion, dtype=bias._data.dtype).reshape(bias._data.shape)
    return _with_model(setup, twin)


def fix_output_activation(setup, finding):
    from ...nn.flatten import Identity
    twin = copy_model(setup.model)
    path = (finding.layer or "").split(" (")[0]
    parent_path, _, name = path.rpartition(".")
    parent = dict(twin.named_modules()).get(parent_path) if parent_path else twin
    if parent is None or name not in parent._modules:
        raise ValueError(f"fix output.wrong_activation: cannot find the module {path!r} to "
                         f"replace (a functional activation in forward() must be removed by hand)")
    parent._modules[name] = Identity()
    return _with_model(setup, twin)


def fix_eval_mode(setup, finding):
    user_evaluate = setup.evaluate

    def evaluate_in_eval_mode(model, X, y):
        was_training = model.training
        model.eval()
        try:
            return user_evaluate(model, X, y)
        finally:
            model.train(was_training)

    return setup.replace(evaluate=evaluate_in_eval_mode)
