"""Preflight checks of the loss, on a fresh copy of the model before any training.

Each asks one question a practitioner asks before training (37R 17-25, SHAO 2,
RECIPE 2): is the initial loss what an unsure model gets, does the model hand
probabilities to a loss that wants logits, do prediction and target shapes match,
is the loss summed rather than averaged, are a composite loss's terms balanced?
Mechanical fixes for the what-if reruns are at the bottom of this file.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from ...tensor import Tensor
from ..context import copy_model, optimizer_factory
from ..report import Finding
from ..thresholds import define

INITIAL_FACTOR = define(
    "initial_loss_factor", 3.0, source="37R 17, SHAO 2, RECIPE 2",
    why="a fresh model should be unsure: its loss should be near the loss of predicting the "
        "label prior (ln C for C balanced classes, var(y) for MSE); more than this factor away "
        "means the initial predictions are confidently wrong (or suspiciously right)")
PROBABILITY_TOLERANCE = define(
    "probability_row_sum_tolerance", 1e-3, source="37R 19, TWEET",
    why="outputs whose rows all sum to 1 within this tolerance (or whose log-sum-exp is 0 "
        "within it) are probabilities (log-probabilities), not logits: a softmax was applied "
        "already")
LOGITS_LOSS_RATIO = define(
    "logits_loss_ratio", 10.0, source="37R 19, TWEET",
    why="a loss meant for probabilities is lowest when the outputs equal the targets; when "
        "confident logits (the targets' log-odds, +-6.9) give a loss this many times lower, the "
        "loss reads its input as logits and applies a sigmoid itself (BCEWithLogitsLoss gives "
        "~500x; a label-smoothed one ~1.5x, so it is not flagged)")
REDUCTION_RATIO = define(
    "reduction_batch_ratio", 1.5, source="37R 18, SHAO 2",
    why="the loss of a batch repeated twice must equal the loss of the batch (a mean); a ratio "
        "near 2 means the loss is summed over samples, so its gradient (and the effective "
        "learning rate) grows with the batch size")
TERM_RATIO = define(
    "loss_term_ratio", 100.0, source="37R 20, SHAO 2",
    why="when one term of a composite loss is this many times larger than another (in value "
        "or in the size of its gradient) the smaller term has practically no say in training")

INITIAL_SAMPLE = 512      # samples for the initial loss: enough for a stable mean
SHAPE_SAMPLE = 7          # a prime batch size, so it cannot coincide with a feature or class count


# --------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------
def layer_label(path: str, module) -> str:
    """``"2 (Softmax)"``: a module's label as the Monitor names layers."""
    return f"{path or 'model'} ({type(module).__name__})"


def last_leaf(model):
    """``(path, module)`` of the model's last leaf module in registration order (or None)."""
    leaves = [(path, module) for path, module in model.named_modules()
              if not list(module.children())]
    return leaves[-1] if leaves else (None, None)


def last_weighted_leaf(model):
    """``(path, module)`` of the last leaf module that has a ``weight`` parameter."""
    found = (None, None)
    for path, module in model.named_modules():
        if not list(module.children()) and getattr(module, "weight", None) is not None:
            found = (path, module)
    return found


def initial_sample(ctx) -> tuple:
    """``(X, y, output)`` of a fresh model on a seeded training sample (computed once)."""
    key = "loss.initial_sample"
    if key not in ctx.cache:
        X, y = ctx.sample(INITIAL_SAMPLE)
        ctx.cache[key] = (X, y, ctx.forward(ctx.fresh_model(), X))
    return ctx.cache[key]


def _loss_and_error(ctx, output, y) -> tuple:
    """``(loss as a float or None, the error message when the loss function rejects the input)``."""
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return ctx.loss_value(output, y), None
    except Exception as error:  # noqa: BLE001 - a probe the loss rejects is itself evidence
        return None, f"{type(error).__name__}: {error}"


def _loss_or_none(ctx, output, y):
    """The loss as a float, or None when the loss function rejects the input."""
    return _loss_and_error(ctx, output, y)[0]


def _is_class_index_target(output: np.ndarray, y: np.ndarray) -> bool:
    """Integer class indices (N,) against scores (N, C): the cross-entropy layout."""
    return (y.dtype.kind in "iu" and y.ndim == output.ndim - 1 and output.ndim >= 2
            and output.shape[0] == y.shape[0])


def constant_predictions(output: np.ndarray, y: np.ndarray) -> list:
    """Candidate outputs that predict the label prior for every sample, whatever the loss expects.

    Class indices: ``log p`` (p = class frequencies) as logits or log-probabilities, or ``p``
    itself when the model outputs probabilities. Float targets: the target mean (per output
    column when shapes match) and its logit (for binary losses on logits). The loss's minimum
    over these is the loss of the best input-independent prediction.
    """
    if _is_class_index_target(output, y):
        # the prior in the representation the model already outputs: probabilities for a
        # softmax output, log-probabilities (= logits up to a constant) otherwise
        kind, _ = output_kind(output, 1e-3) if output.shape[1] > 1 else ("scores", None)
        n_classes = output.shape[1]
        counts = np.bincount(y.ravel().clip(0, n_classes - 1), minlength=n_classes)
        prior = np.clip(counts / counts.sum(), 1e-12, 1.0)
        shape = [1] * output.ndim
        shape[1] = n_classes
        prior_as_output = prior if kind == "probabilities" else np.log(prior)
        return [np.broadcast_to(prior_as_output.reshape(shape), output.shape).astype(output.dtype)]
    y_float = y.astype(np.float64)
    if y.shape == output.shape and y.ndim >= 2:
        mean = y_float.mean(axis=0, keepdims=True)
    else:
        mean = np.asarray(y_float.mean())
    candidates = [np.broadcast_to(mean, output.shape).astype(output.dtype)]
    if y_float.size and y_float.min() >= 0 and y_float.max() <= 1:
        p = np.clip(mean, 1e-6, 1 - 1e-6)
        candidates.append(np.broadcast_to(np.log(p / (1 - p)), output.shape).astype(output.dtype))
    return candidates


def expected_initial_loss(ctx, output: np.ndarray, y: np.ndarray):
    """``(expected, formula)``: the loss of the best constant prediction of the label prior."""
    values = [_loss_or_none(ctx, candidate, y) for candidate in constant_predictions(output, y)]
    values = [v for v in values if v is not None and math.isfinite(v)]
    expected = min(values) if values else None
    if _is_class_index_target(output, y):
        formula = "H(p) = -sum_c p_c ln p_c, the loss of predicting the class frequencies p " \
                  "(= ln C for C balanced classes)"
    else:
        formula = _float_target_formula(expected, output, y)
    return expected, formula


def _float_target_formula(expected, output: np.ndarray, y: np.ndarray) -> str:
    """Words for the best constant prediction's loss, after the formula it matches.

    ``var(y)`` is what a mean squared error gives for predicting the mean; the binary entropy
    ``H(p)`` (p = the positive-class frequency) is what a binary cross-entropy gives.
    """
    y_float = y.astype(np.float64)
    per_column = y.shape == output.shape and y.ndim >= 2
    mean = y_float.mean(axis=0, keepdims=True) if per_column else y_float.mean()
    if expected is not None and y_float.size:
        variance = float(((y_float - mean) ** 2).mean())
        if math.isclose(expected, variance, rel_tol=1e-3, abs_tol=1e-9):
            return "var(y) (the mean squared error of predicting the mean of y for every sample)"
        if y_float.min() >= 0 and y_float.max() <= 1:
            p = np.clip(mean, 1e-12, 1 - 1e-12)
            entropy = float(-(y_float * np.log(p) + (1 - y_float) * np.log(1 - p)).mean())
            if math.isclose(expected, entropy, rel_tol=1e-3, abs_tol=1e-9):
                return ("H(p) = -p ln p - (1-p) ln(1-p) for the positive-class frequency p, the "
                        "binary cross-entropy of predicting p for every sample (= ln 2 = 0.693 "
                        "for balanced classes)")
    return "the loss of predicting the mean of y for every sample (the best constant prediction)"


# --------------------------------------------------------------------------
# loss.initial_unexpected
# --------------------------------------------------------------------------
def initial_loss(ctx) -> list:
    """Compare a fresh model's loss with the loss of predicting the label prior."""
    X, y, output = initial_sample(ctx)
    measured = _loss_or_none(ctx, output, y)
    expected, formula = expected_initial_loss(ctx, output, y)
    if measured is None or expected is None or not math.isfinite(measured):
        return []   # a loss that fails or is non-finite at init is reported by other checks
    zero_output = _loss_or_none(ctx, np.zeros_like(output), y)
    ctx.predictions["loss"] = {"expected": expected, "measured": measured,
                               "why": formula.split(",")[0]}
    factor = ctx.thresholds[INITIAL_FACTOR]
    floor = 1e-8  # a target with no spread makes the expected loss 0: nothing to compare
    if expected < floor:
        return []
    ratio = measured / expected
    if 1.0 / factor <= ratio <= factor:
        return []
    evidence = {"measured_initial_loss": measured, "expected_initial_loss": expected,
                "ratio": ratio, "loss_of_zero_output": zero_output, "samples": len(X)}
    if _is_class_index_target(output, y):
        evidence["n_classes"] = int(output.shape[1])
        evidence["ln_C"] = math.log(output.shape[1])
    path, last = last_weighted_leaf(ctx.fresh_model())
    layer = layer_label(path, last) if last is not None else None
    if ratio > factor:
        output_std = float(np.std(output))
        evidence["output_std"] = output_std
        message = (f"The loss at initialisation is {measured:.4g}, {ratio:.1f}x the "
                   f"{expected:.4g} expected from {formula}. The first predictions are "
                   f"confidently wrong (output std {output_std:.3g}), so the first steps are "
                   f"spent undoing the initialisation (the 'hockey stick').")
        fix = ("Make the initial predictions unsure: scale the last layer's weights down "
               f"(e.g. multiply {layer or 'the output layer'}'s weight by 0.1, or use Glorot/He "
               "init) and set its bias to the prior (log class frequencies, or the target "
               "mean for regression).")
        if zero_output is not None and abs(zero_output - measured) < 0.25 * measured:
            fix = ("An all-zero output already gives about this loss, so the output is not the "
                   "problem; the prior is: set the last layer's bias to the log class frequencies "
                   "(classification) or the target mean (regression), or standardise the targets.")
    else:
        message = (f"The loss at initialisation is {measured:.4g}, only 1/{1 / ratio:.1f} of the "
                   f"{expected:.4g} expected from {formula}. An untrained model should not "
                   f"beat the label prior: check the labels are not leaking into the inputs.")
        fix = "Check that the inputs do not contain the labels (leakage) and the loss is right."
    return [Finding("loss.initial_unexpected", message, layer=layer if ratio > factor else None,
                    evidence=evidence, thresholds=[ctx.thresholds.describe(INITIAL_FACTOR)],
                    fix=fix)]


# --------------------------------------------------------------------------
# loss.wrong_input
# --------------------------------------------------------------------------
def output_kind(output: np.ndarray, tolerance: float) -> tuple:
    """``(kind, stats)``: "probabilities", "log-probabilities" or "scores" along axis 1."""
    scores = output.astype(np.float64)
    row_sums = scores.sum(axis=1)
    peak = scores.max(axis=1, keepdims=True)
    logsumexp = (peak + np.log(np.exp(scores - peak).sum(axis=1, keepdims=True)))[:, 0]
    stats = {"output_min": float(scores.min()), "output_max": float(scores.max()),
             "row_sum_min": float(row_sums.min()), "row_sum_max": float(row_sums.max()),
             "logsumexp_min": float(logsumexp.min()), "logsumexp_max": float(logsumexp.max())}
    if (scores.min() >= -tolerance and scores.max() <= 1 + tolerance
            and np.all(np.abs(row_sums - 1) <= tolerance)):
        return "probabilities", stats
    if scores.max() <= tolerance and np.all(np.abs(logsumexp) <= tolerance):
        return "log-probabilities", stats
    return "scores", stats


def loss_normalises_input(ctx, output: np.ndarray, y: np.ndarray):
    """True when the loss is unchanged by adding a constant to every score (it applies its own
    (log-)softmax, like cross_entropy); False when it changes (nll_loss); None if unknown."""
    base = _loss_or_none(ctx, output, y)
    shifted = _loss_or_none(ctx, output + 3.0, y)
    if base is None or shifted is None or not (math.isfinite(base) and math.isfinite(shifted)):
        return None, base, shifted
    return abs(shifted - base) <= 1e-6 * max(1.0, abs(base)), base, shifted


def loss_input(ctx) -> list:
    """Outputs of the wrong kind for the loss: probabilities (or log-probabilities) fed to a
    loss that applies (log-)softmax or sigmoid itself, or scores fed to one that needs
    probabilities."""
    X, y, output = initial_sample(ctx)
    if _is_binary_target(output, y):
        return binary_loss_input(ctx, X, y, output)
    if not _is_class_index_target(output, y) or output.shape[1] < 2 or len(output) < 2:
        return []
    tolerance = ctx.thresholds[PROBABILITY_TOLERANCE]
    kind, stats = output_kind(output, tolerance)
    if kind == "scores":
        return []
    normalises, base, shifted = loss_normalises_input(ctx, output, y)
    stats.update(loss=base, loss_after_adding_3=shifted)
    path, last = last_leaf(ctx.fresh_model())
    layer = layer_label(path, last) if last is not None else None
    if normalises:
        classes = output.shape[1]
        # scores in [0, 1] (probabilities) or [-inf, 0] (log-probabilities): the best the loss
        # can see is 1 (or 0) for the right class and 0 (or -inf) for the others
        floor = (math.log(1 + (classes - 1) / math.e) if kind == "probabilities" else 0.0)
        stats["loss_floor"] = floor
        message = (f"The model's outputs are already {kind} (every row "
                   + ("sums to 1 and lies in [0, 1]" if kind == "probabilities" else
                      "is <= 0 with log-sum-exp 0")
                   + f"), but the loss applies log-softmax itself (adding 3 to every score "
                     f"leaves it at {base:.4g}). Softmax is applied twice: the loss can only "
                     f"move within a narrow range and the gradients shrink"
                   + (f"; even a perfect prediction scores {floor:.3g} (ln(1 + (C-1)/e) for "
                      f"C = {classes}), never 0." if kind == "probabilities" else "."))
        fix = (f"Remove the final {type(last).__name__ if last is not None else 'softmax'} "
               "layer and give cross_entropy the raw scores (logits); apply softmax only when "
               "you need probabilities for reporting.")
    elif normalises is False and kind == "probabilities" and takes_log_itself(ctx, output, y):
        return []   # e.g. softmax then -log(p[y]).mean() written by hand: a correct log-loss
    elif normalises is False and kind == "probabilities":
        message = ("The model's outputs are probabilities (rows sum to 1), but the loss reads "
                   "them as log-probabilities (nll_loss expects log_softmax outputs): the loss "
                   "is -p instead of -log p.")
        fix = "Use LogSoftmax as the last layer with nll_loss, or drop it and use cross_entropy."
    else:
        return []
    mistake = "softmax_twice" if normalises else "probabilities_as_log_probabilities"
    return [Finding("loss.wrong_input", message, layer=layer,
                    evidence=dict(stats, kind=kind, mistake=mistake),
                    thresholds=[ctx.thresholds.describe(PROBABILITY_TOLERANCE)],
                    fix=fix)]


def takes_log_itself(ctx, output: np.ndarray, y: np.ndarray) -> bool:
    """Does the loss take the log of the probabilities it is given? Then uniform probabilities
    1/C cost ln C (a log-loss on probabilities, e.g. -log(p[y]) written by hand after a
    softmax: right). nll_loss fed probabilities gives -1/C instead (the mistake)."""
    classes = output.shape[1]
    uniform = np.full_like(output, 1.0 / classes)
    value = _loss_or_none(ctx, uniform, y)
    return value is not None and math.isfinite(value) and \
        abs(value - math.log(classes)) <= 0.05 * math.log(classes)


# -- binary losses: one probability (or logit) per target in [0, 1] --------------------------
LOGIT_CLIP = 1e-3   # targets clipped to [1e-3, 1 - 1e-3]: their log-odds are +-6.9


def _is_binary_target(output: np.ndarray, y: np.ndarray) -> bool:
    """Float targets in [0, 1] of the prediction's shape: the binary cross-entropy layout."""
    if y.shape != output.shape or len(y) < 2 or y.dtype.kind not in "fiub":
        return False
    y_float = y.astype(np.float64)
    return bool(np.isfinite(y_float).all() and y_float.min() >= 0 and y_float.max() <= 1)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return (0.5 * (1 + np.tanh(0.5 * x.astype(np.float64)))).astype(x.dtype)


def outputs_bounded(ctx, X: np.ndarray) -> tuple:
    """``(bounded, why)``: does the model squash its outputs into [0, 1] whatever the input?

    A final Sigmoid/Softmax layer says so; otherwise inputs scaled by +-10 must still give
    outputs in [0, 1] (a model emitting logits leaves that range at once).
    """
    model = ctx.fresh_model()
    path, last = last_leaf(model)
    if last is not None and type(last).__name__ in ("Sigmoid", "Softmax"):
        return True, f"the last layer is {layer_label(path, last)}"
    if X.dtype.kind != "f":
        return False, None
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            probes = [ctx.forward(model, scale * X) for scale in (10.0, -10.0)]
    except Exception:  # noqa: BLE001 - a model that rejects the probe tells us nothing
        return False, None
    if all(np.isfinite(p).all() and p.min() >= 0 and p.max() <= 1 for p in probes):
        return True, "they stay in [0, 1] even for inputs scaled by +-10"
    return False, None


def probability_loss_given_scores(ctx, output: np.ndarray, y: np.ndarray, layer, stats) -> list:
    """Unbounded scores fed to a loss written for probabilities (e.g. -sum(y * log(p)) with
    no softmax before it): such a loss is 0 at the targets and *negative* for outputs above
    1, so it rewards growing the outputs without bound instead of fitting the targets."""
    at_targets = _loss_or_none(ctx, y.astype(output.dtype), y)
    beyond = _loss_or_none(ctx, (10.0 * y).astype(output.dtype), y)
    if at_targets is None or beyond is None or not (math.isfinite(at_targets)
                                                    and math.isfinite(beyond)):
        return []
    if abs(at_targets) > 1e-3 or beyond > -0.1:
        return []   # not a loss on probabilities (MSE on one-hot targets is >= 0 everywhere)
    stats.update(kind="scores", mistake="softmax_missing", loss_at_targets=at_targets,
                 loss_at_10x_targets=beyond)
    message = (f"The model's outputs are unbounded scores (in [{stats['output_min']:.3g}, "
               f"{stats['output_max']:.3g}]), but the loss is written for probabilities: it is "
               f"{at_targets:.3g} at outputs equal to the targets and {beyond:.3g} at ten times "
               f"them, so it keeps falling as the outputs grow past 1. Training chases ever larger "
               f"outputs instead of the targets: the softmax (or sigmoid) is missing.")
    fix = ("Add the normalisation the loss expects (nn.Softmax(dim=1) for one-hot classes, "
           "nn.Sigmoid() per label), or better keep the scores and use nn.CrossEntropyLoss / "
           "nn.BCEWithLogitsLoss, which apply it themselves, stably.")
    return [Finding("loss.wrong_input", message, layer=layer, evidence=stats, fix=fix)]


def binary_loss_input(ctx, X: np.ndarray, y: np.ndarray, output: np.ndarray) -> list:
    """Sigmoid twice (probabilities into a loss on logits) or never (logits into a loss on
    probabilities), for targets in [0, 1] of the prediction's shape."""
    path, last = last_leaf(ctx.fresh_model())
    layer = layer_label(path, last) if last is not None else None
    low, high = float(output.min()), float(output.max())
    stats = {"output_min": low, "output_max": high, "samples": len(output)}
    if low < 0 or high > 1:
        # scores: wrong only for a loss that cannot take them but takes their sigmoid
        value, error = _loss_and_error(ctx, output, y)
        if value is not None and math.isfinite(value):
            return probability_loss_given_scores(ctx, output, y, layer, stats)
        after_sigmoid = _loss_or_none(ctx, _sigmoid(output), y)
        if after_sigmoid is None or not math.isfinite(after_sigmoid):
            return []
        stats.update(kind="scores", mistake="sigmoid_missing", loss=value, loss_error=error,
                     loss_after_sigmoid=after_sigmoid)
        outcome = (f"raises '{error.split('. Hint')[0][:200]}'" if error else f"gives {value}")
        message = (f"The model's outputs range over [{low:.3g}, {high:.3g}], outside [0, 1], but "
                   f"the loss needs probabilities: on these outputs it {outcome}, while on "
                   f"sigmoid(outputs) it gives {after_sigmoid:.4g}. The sigmoid is missing, so "
                   "training fails (or the log of a negative number turns the loss into NaN).")
        fix = ("Keep the raw scores and use the loss that applies the sigmoid itself, stably: "
               "nn.BCEWithLogitsLoss() / F.binary_cross_entropy_with_logits. (Adding a final "
               "nn.Sigmoid() also works, but is less stable for confident predictions.)")
        return [Finding("loss.wrong_input", message, layer=layer, evidence=stats, fix=fix)]
    bounded, why_bounded = outputs_bounded(ctx, X)
    if not bounded:
        return []   # logits that happen to lie in [0, 1] at initialisation
    dtype = output.dtype
    targets = y.astype(dtype)
    clipped = np.clip(y.astype(np.float64), LOGIT_CLIP, 1 - LOGIT_CLIP)
    at_targets = _loss_or_none(ctx, targets, y)
    at_logits = _loss_or_none(ctx, np.log(clipped / (1 - clipped)).astype(dtype), y)
    if at_targets is None or at_logits is None or not (math.isfinite(at_targets)
                                                       and math.isfinite(at_logits)):
        return []
    limit = ctx.thresholds[LOGITS_LOSS_RATIO]
    ratio = at_targets / at_logits if at_logits > 0 else math.inf
    if at_targets <= 0 or ratio < limit:
        return []   # the loss is lowest at the targets: it is meant for probabilities
    squashed_low, squashed_high = float(_sigmoid(np.asarray(low))), float(_sigmoid(np.asarray(high)))
    stats.update(kind="probabilities", mistake="sigmoid_twice", bounded_because=why_bounded,
                 loss=_loss_or_none(ctx, output, y), loss_at_targets=at_targets,
                 loss_at_target_logits=at_logits, ratio=ratio,
                 probability_range_seen_by_loss=[squashed_low, squashed_high])
    message = (f"The model's outputs are probabilities (all in [{low:.3g}, {high:.3g}]; "
               f"{why_bounded}), but the loss reads them as logits and applies a sigmoid again: "
               f"outputs equal to the targets, the best a [0, 1] output can do, give a loss of "
               f"{at_targets:.4g}, while confident logits give {at_logits:.3g} ({ratio:.3g}x "
               f"lower). The probabilities the loss sees, sigmoid(output), stay within "
               f"[0.5, 0.731]: the model can never predict the negative class, and a negative "
               f"sample's loss cannot fall below ln 2 = 0.693.")
    fix = (f"Remove the final {type(last).__name__ if last is not None else 'sigmoid'} and give "
           "the loss the raw scores (logits); apply a sigmoid only to report "
           "probabilities. Or keep the Sigmoid and use nn.BCELoss, which expects probabilities.")
    return [Finding("loss.wrong_input", message, layer=layer, evidence=stats,
                    thresholds=[ctx.thresholds.describe(LOGITS_LOSS_RATIO)], fix=fix)]


# --------------------------------------------------------------------------
# loss.broadcast_shape
# --------------------------------------------------------------------------
def _loss_is_per_sample(ctx, output: np.ndarray, y: np.ndarray):
    """True when the batch loss is the mean (or sum) of the per-sample losses."""
    whole = _loss_or_none(ctx, output, y)
    singles = [_loss_or_none(ctx, output[i:i + 1], y[i:i + 1]) for i in range(len(output))]
    if whole is None or any(s is None for s in singles):
        return None, whole, None
    singles = np.asarray(singles)
    scale = max(1e-12, abs(whole))
    separable = (abs(whole - singles.mean()) <= 1e-4 * scale
                 or abs(whole - singles.sum()) <= 1e-4 * scale)
    return separable, whole, float(singles.mean())


def prediction_shape(ctx) -> list:
    """Prediction and target shapes that differ but broadcast (e.g. (N, 1) vs (N,))."""
    X, y = ctx.sample(SHAPE_SAMPLE, seed=ctx.seed + 1)
    output = ctx.forward(ctx.fresh_model(), X)
    if _is_class_index_target(output, y) or output.shape == y.shape:
        return []
    try:
        combined = np.broadcast_shapes(output.shape, y.shape)
    except ValueError:
        return []   # a loss on these shapes raises a clear error of its own
    separable, whole, per_sample = _loss_is_per_sample(ctx, output, y)
    if separable:
        return []   # the loss lines the shapes up itself (e.g. squeezes): nothing goes wrong
    grows = int(np.prod(combined)) > max(output.size, y.size)
    n = len(X)
    evidence = {"prediction_shape": list(output.shape), "target_shape": list(y.shape),
                "broadcast_shape": list(combined), "batch": n, "loss": whole,
                "mean_per_sample_loss": per_sample}
    message = (f"The model predicts shape {tuple(output.shape)} but the targets have shape "
               f"{tuple(y.shape)}; an elementwise loss broadcasts them to {tuple(combined)}")
    if grows:
        message += (", comparing every prediction with every target: the loss is "
                    f"{whole:.4g} instead of the per-sample {per_sample:.4g}, and the model is "
                    "pushed towards the mean of all targets.")
    else:
        message += "."
    fix = ("Make them the same shape: y = y.reshape(-1, 1) for one output per sample (or "
           "pred.squeeze(1) inside the loss).")
    if output.ndim == y.ndim + 1 and output.shape[-1] == 1:
        fix = f"Reshape the targets to {tuple(output.shape)}: y.reshape(-1, 1)."
    return [Finding("loss.broadcast_shape", message,
                    severity="error" if grows or separable is None else "warning",
                    evidence=evidence, fix=fix)]


# --------------------------------------------------------------------------
# loss.reduction_scale
# --------------------------------------------------------------------------
def batch_scaling(ctx) -> tuple:
    """``(ratio, loss_b, loss_2b, b)``: loss of a batch repeated twice over the loss of the batch.

    Repeating a batch leaves every per-sample loss and their mean unchanged, so the
    ratio is exactly 1 for a mean and 2 for a sum, independent of the model or noise.
    """
    key = "loss.batch_scaling"
    if key not in ctx.cache:
        X, y, output = initial_sample(ctx)
        b = max(1, min(int(ctx.batch_size or 32), len(X)))
        output_b, y_b = output[:b], y[:b]
        loss_b = _loss_or_none(ctx, output_b, y_b)
        loss_2b = _loss_or_none(ctx, np.concatenate([output_b, output_b]),
                                np.concatenate([y_b, y_b]))
        ratio = None
        if loss_b is not None and loss_2b is not None and abs(loss_b) > 1e-12:
            ratio = loss_2b / loss_b
        ctx.cache[key] = (ratio, loss_b, loss_2b, b)
    return ctx.cache[key]


def reduction(ctx) -> list:
    """The loss grows with the batch size: summed over samples instead of averaged."""
    ratio, loss_b, loss_2b, b = batch_scaling(ctx)
    if ratio is None or not math.isfinite(ratio):
        return []
    limit = ctx.thresholds[REDUCTION_RATIO]
    if ratio <= limit and ratio >= 1 / limit:
        return []
    message = (f"The loss of a batch of {b} is {loss_b:.4g}; the same batch repeated twice "
               f"({2 * b} samples, identical per-sample losses) gives {loss_2b:.4g}, "
               f"{ratio:.2f}x as much. ")
    if ratio > 1:
        message += ("The loss is summed over samples, so its gradient, and with SGD the size "
                    f"of every step, is {b}x what the same learning rate gives with a mean.")
    else:
        message += "The loss shrinks as the batch grows: it is divided by more than the batch size."
    return [Finding("loss.reduction_scale", message,
                    evidence={"loss_batch": loss_b, "loss_batch_repeated": loss_2b,
                              "ratio": ratio, "batch": b, "implied_exponent": math.log2(ratio)},
                    thresholds=[ctx.thresholds.describe(REDUCTION_RATIO)],
                    fix="Average over the batch: reduction='mean' (the default), or divide a "
                        "hand-written sum by the batch size.")]


# --------------------------------------------------------------------------
# loss.terms_unbalanced
# --------------------------------------------------------------------------
def graph_leaves(tensor: Tensor) -> list:
    """The leaf tensors that require grad and that ``tensor``'s autograd graph reaches."""
    leaves, seen, stack = [], set(), [tensor]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.is_leaf:
            if node.requires_grad:
                leaves.append(node)
        else:
            stack.extend(node._parents)
    return leaves


def _backward_term(term: Tensor, params: list) -> dict:
    """Backpropagate one term alone; the gradient norm it gives ``params`` and, separately,
    the leaves outside ``params`` it reaches (whose ``.grad`` is put back as it was)."""
    own = {id(p) for p in params}
    outside = [leaf for leaf in graph_leaves(term) if id(leaf) not in own]
    saved = [leaf.grad for leaf in outside]
    for leaf in outside:
        leaf.grad = None
    try:
        term.backward()
        squares = [float((p.grad._data.astype(np.float64) ** 2).sum())
                   for p in params if p.grad is not None]
        outside_squares = [float((leaf.grad._data.astype(np.float64) ** 2).sum())
                           for leaf in outside if leaf.grad is not None]
    finally:
        for leaf, grad in zip(outside, saved):   # never leave a trace on someone else's tensors
            leaf.grad = grad
    return {"grad_norm": math.sqrt(sum(squares)) if squares else 0.0,
            "reaches_model": any(p.grad is not None for p in params),
            "outside_tensors": len(outside),
            "outside_grad_norm": math.sqrt(sum(outside_squares)) if outside_squares else 0.0}


def term_scales(ctx, X: np.ndarray, y: np.ndarray) -> dict:
    """Per term of a dict loss: its value and the norm of its gradient on the parameters.

    Each term is backpropagated alone through a fresh model, so the gradient norms
    say how hard each term pulls on the weights (what the optimizer actually sees).
    A term computed from parameters that are not the fresh model's (a closure over the
    caller's model) gives the model no gradient; its pull on those outside parameters is
    recorded as ``outside_grad_norm``.
    """
    model = ctx.fresh_model()
    model.eval()  # deterministic (no dropout noise); the scale of each term is what matters
    params = [p for p in model.parameters() if p.requires_grad]
    scales = {}
    try:
        with np.errstate(all="ignore"):
            loss = ctx.loss_fn(model(Tensor(X)), Tensor(y))
            if not isinstance(loss, dict):
                return {}
            for name in list(loss):
                # rebuild the graph per term: a backward frees nothing here, but it keeps terms apart
                for p in params:
                    p.grad = None
                term = ctx.loss_fn(model(Tensor(X)), Tensor(y))[name]
                scale = {"value": float(term.item()), "grad_norm": float("nan"),
                         "requires_grad": bool(isinstance(term, Tensor) and term.requires_grad)}
                if scale["requires_grad"]:
                    scale.update(_backward_term(term, params))
                scales[name] = scale
    except Exception:  # noqa: BLE001 - a loss that fails on these outputs is another check's
        return {}
    finally:
        for p in params:
            p.grad = None
    return scales


def outside_terms(scales: dict) -> list:
    """Names of terms that require grad but reach only parameters outside the model."""
    return [name for name, scale in scales.items()
            if scale.get("requires_grad") and not scale.get("reaches_model")
            and scale.get("outside_tensors", 0) > 0]


def _spread(values: dict) -> tuple:
    """``(ratio, largest name, smallest name)`` over positive finite values."""
    usable = {k: abs(v) for k, v in values.items() if math.isfinite(v) and abs(v) > 0}
    if len(usable) < 2:
        return None, None, None
    largest = max(usable, key=usable.get)
    smallest = min(usable, key=usable.get)
    return usable[largest] / usable[smallest], largest, smallest


def term_balance(ctx) -> list:
    """Terms of a composite loss (loss_fn returning a dict) that differ by orders of magnitude."""
    X, y = ctx.sample(max(2, min(int(ctx.batch_size or 32), len(ctx.X_train))), seed=ctx.seed + 2)
    scales = term_scales(ctx, X, y)
    if len(scales) < 2:
        return []
    outside = outside_terms(scales)
    # a term on outside parameters pulls on THEM (the caller's model, in the caller's training)
    pulls = {k: (s["outside_grad_norm"] if k in outside else s["grad_norm"])
             for k, s in scales.items()}
    value_ratio, big_v, small_v = _spread({k: s["value"] for k, s in scales.items()})
    grad_ratio, big_g, small_g = _spread(pulls)
    limit = ctx.thresholds[TERM_RATIO]
    over_value = value_ratio is not None and value_ratio > limit
    over_grad = grad_ratio is not None and grad_ratio > limit
    if not (over_value or over_grad or outside):
        return []
    evidence = {"terms": {k: s["value"] for k, s in scales.items()},
                "term_grad_norms": pulls,
                "value_ratio": value_ratio, "grad_ratio": grad_ratio}
    parts, fix_parts = [], []
    if outside:
        evidence.update(terms_outside_model=outside,
                        term_grad_norms_on_model={k: s["grad_norm"] for k, s in scales.items()},
                        outside_tensors={k: scales[k]["outside_tensors"] for k in outside})
        names = ", ".join(f"'{k}'" for k in outside)
        parts.append(
            f"The loss term{'s' if len(outside) > 1 else ''} {names} "
            + ("require grad but, backpropagated alone, give" if len(outside) > 1 else
               "requires grad but, backpropagated alone, gives")
            + " the diagnosed model's parameters no gradient at all (norm 0): "
            + ", ".join(f"'{k}' reaches {scales[k]['outside_tensors']} parameter tensors outside "
                        f"the model (gradient norm {scales[k]['outside_grad_norm']:.3g} there)"
                        for k in outside)
            + ". The loss function computes it from another model object, most likely a "
              "closure over your model's parameters (model.parameters() inside loss_fn), while "
              "the diagnosis trains a copy: to the copy the term is a constant, so the short "
              "run and every finding about it leave its effect out.")
        fix_parts.append(
            "Compute the term from the output or from the model being trained, not from a "
            "captured model object: e.g. use the optimizer's weight_decay for an L2 penalty, "
            "or write the loss as loss_fn(output, target) over the output only; until then "
            "read the run's findings as training without that term.")
    if over_value or over_grad:
        big, small, ratio, what = ((big_g, small_g, grad_ratio, "gradient")
                                   if over_grad else (big_v, small_v, value_ratio, "value"))
        weight = scales[small]["value"] and abs(scales[big]["value"] / scales[small]["value"])
        where = (" (gradient norms of outside terms measured on the parameters they reach)"
                 if outside else "")
        parts.insert(0,
                     f"The loss terms are out of balance at initialisation: '{big}' has a {what} "
                     f"{ratio:.3g}x that of '{small}' (values "
                     + ", ".join(f"{k}={s['value']:.3g}" for k, s in scales.items())
                     + "; gradient norms "
                     + ", ".join(f"{k}={pulls[k]:.3g}" for k in scales)
                     + f"{where}). Training follows '{big}' and practically ignores '{small}'.")
        fix_parts.insert(0, f"Weight the terms so they are comparable: e.g. multiply '{small}' "
                            f"by ~{weight:.3g} (or '{big}' by ~{1 / weight:.3g}) and tune the "
                            "weight from there." if weight else
                         "Rescale the terms so each contributes comparably.")
    return [Finding("loss.terms_unbalanced", " ".join(parts), evidence=evidence,
                    thresholds=[ctx.thresholds.describe(TERM_RATIO)],
                    fix=" ".join(fix_parts))]


# --------------------------------------------------------------------------
# mechanical fixes (what-if reruns): each returns a repaired COPY of the setup
# --------------------------------------------------------------------------
def _model_and_optimizer(setup, model):
    """A new optimizer like ``setup.optimizer`` (same settings) over ``model``'s parameters.

    Parameters are matched by position, so ``model`` must have the same parameters in the
    same order as ``setup.model`` (true for every fix below).
    """
    return optimizer_factory(setup.optimizer, setup.model)(model)


def remove_final_softmax(setup, finding):
    """The model without its final Softmax/LogSoftmax/Sigmoid layer (a Sequential only)."""
    from ...nn import LogSoftmax, Sequential, Sigmoid, Softmax
    model = copy_model(setup.model)
    if not isinstance(model, Sequential) or not isinstance(model[len(model) - 1],
                                                           (Softmax, LogSoftmax, Sigmoid)):
        raise ValueError("remove_final_softmax: the model is not a Sequential ending in "
                         "Softmax/LogSoftmax/Sigmoid; remove it from its forward() by hand")
    trimmed = Sequential(*[model[i] for i in range(len(model) - 1)])
    return setup.replace(model=trimmed, optimizer=_model_and_optimizer(setup, trimmed))


def append_sigmoid(setup, finding):
    """The model followed by a Sigmoid, for a loss that needs probabilities."""
    from ...nn import Sequential, Sigmoid
    model = Sequential(copy_model(setup.model), Sigmoid())   # same parameters, same order
    return setup.replace(model=model, optimizer=_model_and_optimizer(setup, model))


def repair_loss_input(setup, finding):
    if finding is not None and finding.evidence.get("mistake") == "sigmoid_missing":
        return append_sigmoid(setup, finding)
    return remove_final_softmax(setup, finding)


def reshape_targets(setup, finding):
    from ..context import data_arrays
    X, y, _ = data_arrays(setup.train_data, "reshape_targets")
    shape = finding.evidence["prediction_shape"]
    fixed = y.reshape((-1,) + tuple(shape[1:]))
    val = setup.val_data
    if val is not None:
        X_val, y_val, _ = data_arrays(val, "reshape_targets")
        val = (X_val, y_val.reshape((-1,) + tuple(shape[1:])))
    model = copy_model(setup.model)
    return setup.replace(model=model, optimizer=_model_and_optimizer(setup, model),
                         train_data=(X, fixed), val_data=val)


def mean_reduction(setup, finding):
    exponent = finding.evidence.get("implied_exponent", 1.0)
    summed_loss = setup.loss_fn

    def averaged_loss(output, target):
        # divide by N**exponent: exponent 1 turns a sum over samples into their mean
        scale = float(len(output)) ** exponent
        loss = summed_loss(output, target)
        if isinstance(loss, dict):
            return {name: term / scale for name, term in loss.items()}
        return loss / scale

    model = copy_model(setup.model)
    return setup.replace(model=model, optimizer=_model_and_optimizer(setup, model),
                         loss_fn=averaged_loss)


def reweight_terms(setup, finding):
    values = {k: abs(v) for k, v in finding.evidence["terms"].items()
              if v is not None and math.isfinite(v) and v != 0}
    if len(values) < 2:
        raise ValueError("reweight_terms: fewer than two non-zero terms to balance")
    common = math.exp(np.mean(np.log(list(values.values()))))  # geometric mean: keeps the scale
    weights = {k: common / v for k, v in values.items()}
    unweighted = setup.loss_fn

    def reweighted_loss(output, target):
        terms = unweighted(output, target)
        return {name: term * weights.get(name, 1.0) for name, term in terms.items()}

    model = copy_model(setup.model)
    return setup.replace(model=model, optimizer=_model_and_optimizer(setup, model),
                         loss_fn=reweighted_loss)


def calm_output_layer(setup, finding):
    from ..context import data_arrays
    model = copy_model(setup.model)
    path, layer = last_weighted_leaf(model)
    if layer is None:
        raise ValueError("calm_output_layer: the model has no layer with a weight")
    layer.weight._data = layer.weight._data * 0.1
    bias = getattr(layer, "bias", None)
    if bias is not None:
        _, y, _ = data_arrays(setup.train_data, "calm_output_layer")
        width = bias._data.shape[0]
        if y.dtype.kind in "iu" and y.ndim == 1 and width > 1:
            counts = np.bincount(y, minlength=width)[:width]
            prior = np.log(np.clip(counts / max(1, counts.sum()), 1e-6, 1.0))
            bias._data = (prior - prior.mean()).astype(bias._data.dtype)
        else:
            mean = y.reshape(len(y), -1).astype(np.float64).mean(axis=0)
            bias._data = np.broadcast_to(mean if mean.size == width else mean.mean(),
                                        bias._data.shape).astype(bias._data.dtype).copy()
    return setup.replace(model=model, optimizer=_model_and_optimizer(setup, model))


__all__ = ["initial_loss", "loss_input", "prediction_shape", "reduction", "term_balance",
           "expected_initial_loss", "output_kind", "outputs_bounded", "batch_scaling",
           "term_scales",
           "layer_label", "last_leaf", "last_weighted_leaf"]


# --------------------------------------------------------------------------
# shared by other checks: the chance-level loss and "is this model already trained?"
# --------------------------------------------------------------------------
def chance_loss(ctx):
    """The loss of the best input-independent prediction (the label prior, or the target mean)
    on the preflight sample, or None when there are no data (a Monitor in the user's loop).

    Other checks use it as the scale a loss is judged on: a rise of 0.02 is noise for a model
    whose untrained loss is 0.69, and everything for one whose untrained loss is 0.03.
    """
    if getattr(ctx, "X_train", None) is None or ctx.loss_fn is None:
        return None
    key = "loss.chance"
    if key not in ctx.cache:
        value = None
        try:
            _, y, output = initial_sample(ctx)
            value, _ = expected_initial_loss(ctx, output, y)
        except Exception:  # noqa: BLE001 - a loss that fails here is another check's finding
            value = None
        ctx.cache[key] = value if value is not None and math.isfinite(value) else None
    return ctx.cache[key]


def already_trained(ctx) -> bool:
    """True when the model handed to diagnose already beats the label prior by more than
    ``initial_loss_factor``: it has been trained (diagnosing a trained model is a normal use),
    or the inputs leak the labels. Checks about the *initialisation* then describe trained
    weights, and a low first loss is not a surprise."""
    key = "loss.already_trained"
    if key not in ctx.cache:
        trained = False
        chance = chance_loss(ctx)
        try:
            X, y, output = initial_sample(ctx)
            measured = _loss_or_none(ctx, output, y)
        except Exception:  # noqa: BLE001
            measured = None
        if chance is not None and measured is not None and math.isfinite(measured) and chance > 0:
            trained = measured < chance / ctx.thresholds[INITIAL_FACTOR]
        ctx.cache[key] = trained
    return ctx.cache[key]
