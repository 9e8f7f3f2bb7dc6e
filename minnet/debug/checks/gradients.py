"""Checks of the gradients: non-finite, exploding, vanishing, missing, stale, incorrect.

They read the Monitor's per-parameter NaN/Inf counts (the failing step is then
replayed under ``minnet.detect_anomaly()`` to name the op), the global norm and each
weight's gradient RMS (norm / sqrt(numel), so layers of different sizes compare),
parameters that never get a gradient, gradients found at the start of a step (nobody
zeroed them), and a float64 gradcheck of each leaf module. Magnitudes come from
weights (ndim >= 2) only: biases start at 0 and say little about the flow.
"""
from __future__ import annotations

import math

import numpy as np

from ..report import Finding
from ..thresholds import define
from .loss_steps import logged_nonfinite, steps_before_divergence

GRAD_NORM_LIMIT = define(
    "grad_norm_limit", 1e3, source="37R 35, SHAO 4",
    why="a global gradient norm above this (median over the run) makes each SGD step "
        "thousands of times the learning rate: training jumps around or overflows")
GRAD_GROWTH = define(
    "grad_growth_across_layers", 10.0, source="37R 35",
    why="gradient RMS of the first weight more than this many times the last weight's: the "
        "gradient grows as it flows back towards the input (exploding)")
GRAD_VANISH = define(
    "grad_vanishing_ratio", 1e-4, source="37R 35, SHAO 3",
    why="gradient RMS of the first weight below this fraction of the last weight's: the "
        "first layers barely learn (vanishing)")
VANISH_ERROR_MARGIN = 100.0  # ratio this many times below grad_vanishing_ratio: an error
VANISH_MIN_STEPS = 10        # fewer steps before a blow-up say nothing about the flow
GRAD_MISSING_FRACTION = define(
    "grad_missing_fraction", 0.9, source="37R 23",
    why="a parameter in the optimizer without a gradient on at least this share of the "
        "recorded steps never trains")
STALE_FRACTION = define(
    "stale_grad_fraction", 0.5, source="TWEET",
    why="gradients left over from the previous step found on at least this share of the "
        "steps: optimizer.zero_grad() is missing")
STALE_PROBE_STEPS = 5  # replayed steps when the optimizer holds only part of the model
GRADCHECK_RTOL = define(
    "gradcheck_rtol", 1e-3, source="CS231N",
    why="an entry fails when |analytic - numeric| > atol + rtol * |numeric| (float64 "
        "central differences agree to ~1e-7 relative when the backward is right)")
GRADCHECK_ATOL = define(
    "gradcheck_atol", 1e-5, source="CS231N",
    why="absolute tolerance of the gradcheck, for entries whose gradient is near zero")


# -- shared helpers --------------------------------------------------------------------------
def _finite_median(values) -> float:
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    return float(np.median(values)) if values.size else float("nan")


def flowing_median(values) -> float:
    """Median of the non-zero finite values times the share of finite values that are
    non-zero: how large a gradient is when it flows, times how often it flows.

    A saturated layer's gradient is exactly 0 on some steps and of normal size on the
    others. The plain median of such a two-valued series is whichever value holds just over
    half of the steps -- 0 on one seed, the normal size on the next; this moves smoothly
    with that share, and a few blown-up steps do not carry it as they would a mean."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if not values.size:
        return float("nan")
    flowing = values[values != 0]
    if not flowing.size:
        return 0.0
    return float(np.median(flowing)) * flowing.size / values.size


def weight_grad_rms(monitor, rows=None) -> list:
    """``[(param name, layer, grad RMS over the run, numel)]`` for every weight.

    Ordered input -> output by the order of the layers in the first forward pass;
    RMS = grad norm / sqrt(numel), so a 64x128 and a 128x10 weight compare fairly. Over the
    run: ``flowing_median`` of the steps (not the plain median, which flipped between 0 and
    a normal size with the seed when half of the steps had no gradient; not the mean, which
    one blown-up step of a diverging run carries). ``rows``: a boolean mask over the
    recorded steps to read (all of them when None).
    """
    model = getattr(monitor, "model", None)
    sizes = {name: p._data.size for name, p in model.named_parameters()} if model else {}
    shapes = {name: p._data.ndim for name, p in model.named_parameters()} if model else {}
    order = {layer: i for i, layer in enumerate(monitor.layers)}
    table = []
    for name in monitor.param_names:
        if shapes.get(name, 2) < 2:
            continue
        norms = monitor.param(name, "grad_norm")
        missing = monitor.param(name, "grad_missing")
        if rows is not None:
            norms, missing = norms[rows], missing[rows]
        recorded = np.isfinite(missing)
        # .grad None on most recorded steps: grad.missing's business. An all-zero gradient
        # (norm 0, which grad_missing also counts) stays: it is vanishing at its extreme.
        absent = recorded & (missing > 0) & np.isnan(norms)
        if recorded.any() and absent.sum() >= 0.5 * recorded.sum():
            continue
        numel = sizes.get(name) or 1
        table.append((name, monitor.layer_of_param.get(name), flowing_median(norms) /
                     math.sqrt(numel), numel))
    table.sort(key=lambda row: order.get(row[1], len(order)))
    return [row for row in table if np.isfinite(row[2])]


# -- grad.nonfinite ----------------------------------------------------------------------------
def _loss_failed_at(ctx):
    """The step where the loss became non-finite or the step raised, else None.

    That step's gradients say nothing of their own: backward() of a NaN loss fills every
    gradient with NaN, of an inf one it does not (cross-entropy's gradient stays finite),
    and a step that raised has no gradient at all. Which of these a blow-up to ~1e38 ends
    in depends on which op overflows first, i.e. on the last bits (the Numba kernels gave
    grad.nonfinite on lr_too_high, the NumPy reference did not; a crash at step 1 read
    as a NaN global norm gave it on one seed of labels_out_of_range). loss.nonfinite and
    run.crashed report that step."""
    run = getattr(ctx, "run", None)
    if run is not None:
        return run.stopped_at
    monitor = ctx.monitor
    if "loss" in getattr(monitor, "scalar_names", ()):
        return logged_nonfinite(np.asarray(monitor.scalar("loss"), dtype=np.float64))
    return None


def _first_nonfinite_step(monitor, before=None):
    """(step, [param names]) of the first recorded step (before step ``before``, if given)
    with a NaN/Inf gradient, else None."""
    steps = monitor.steps
    for row, step in enumerate(steps):
        if before is not None and step >= before:
            break
        bad = [name for name in monitor.param_names
               if monitor.param(name, "grad_nonfinite")[row] > 0]
        if bad:
            return int(step), bad
    if "grad_norm_total" not in monitor.scalar_names:
        return None
    totals = monitor.scalar("grad_norm_total")
    # the global norm is taken on recorded steps only (NaN elsewhere: not measured)
    measured = [(int(step), totals[step]) for step in steps if step < len(totals)
                and (before is None or step < before)]
    for i, (step, value) in enumerate(measured):
        if np.isinf(value) or (np.isnan(value) and i > 0 and
                               all(np.isfinite(v) for _, v in measured[:i])):
            return step, []
    return None


def monitor_layer_name(module_path):
    """``"model.3 (Softplus)"`` (op records) -> ``"3 (Softplus)"`` (how the Monitor names layers)."""
    from ...nn.module import ROOT_NAME
    if module_path and module_path.startswith(ROOT_NAME + "."):
        return module_path[len(ROOT_NAME) + 1:]
    return module_path


def replay_under_anomaly(ctx, failing_step: int):
    """Replay training on a fresh copy up to ``failing_step`` with anomaly mode on for that step.

    Returns the ``AnomalyError`` raised (op, module, phase, source, stats) or None.
    """
    from ...anomaly import AnomalyError, detect_anomaly
    from ..context import standard_train_step
    user_step = ctx.train_step
    calls = {"n": 0}

    def step_with_anomaly_at_failure(model, loss_fn, optimizer, X, y):
        index = calls["n"]
        calls["n"] += 1
        if user_step is not None:
            run = lambda: user_step(model, loss_fn, optimizer, X, y)  # noqa: E731
        else:
            run = lambda: standard_train_step(model, loss_fn, optimizer, X, y,  # noqa: E731
                                              ctx.clip_grad_norm)
        if index < failing_step:
            return run()
        with detect_anomaly():
            return run()

    model = ctx.fresh_model()
    replay = ctx.train(model, steps=failing_step + 1, train_step=step_with_anomaly_at_failure)
    return replay.error if isinstance(replay.error, AnomalyError) else None


def nonfinite_gradients(ctx) -> list:
    """NaN/Inf in a gradient; replay the step under anomaly mode to name the op that made it."""
    monitor = ctx.monitor
    if monitor is None:
        return []
    first = _first_nonfinite_step(monitor, before=_loss_failed_at(ctx))
    if first is None:
        return []
    step, params = first
    evidence = {"first_step": step, "parameters_with_nonfinite_grad": params}
    if params:
        row = list(monitor.steps).index(step)
        evidence["nonfinite_counts"] = [float(monitor.param(p, "grad_nonfinite")[row])
                                        for p in params]
    layer = monitor.layer_of_param.get(params[0]) if params else None
    anomaly = None
    if ctx.loss_fn is not None and ctx.X_train is not None and ctx._initial_model is not None:
        try:
            anomaly = replay_under_anomaly(ctx, step)
        except Exception:  # noqa: BLE001 - the replay is extra evidence, not a requirement
            anomaly = None
    if anomaly is not None:
        evidence.update({"op": anomaly.op, "op_module": anomaly.module,
                         "phase": anomaly.phase, "source_line": str(anomaly.source)
                         if anomaly.source else None})
        evidence.update({f"op_{k}": v for k, v in anomaly.stats.items()
                         if isinstance(v, (int, float, np.number))})
        layer = monitor_layer_name(anomaly.module) or layer
        where = f" in {anomaly.module}" if anomaly.module else ""
        line = f" (created at {anomaly.source})" if anomaly.source else ""
        message = (f"At step {step} a gradient became NaN/Inf ({', '.join(params) or 'global norm'}). "
                   f"Replaying that step under minnet.detect_anomaly(): the first non-finite "
                   f"value came from op '{anomaly.op}'{where} in the {anomaly.phase} pass{line}: "
                   f"{anomaly.detail}")
        fix = (f"{anomaly.hint} Look at op '{anomaly.op}'{where}: compute it in a stable form "
               f"(clamp the argument of exp/log, use logsumexp / log_softmax, keep the unused "
               f"branch of a where() finite), then lower the learning rate if it still blows up.")
    else:
        message = (f"At step {step} the gradient of {', '.join(params) or 'the model'} held NaN/Inf "
                   f"values. Run the step under `with minnet.detect_anomaly():` to find the op.")
        fix = None
    return [Finding("grad.nonfinite", message, layer=layer, evidence=evidence, step=step, fix=fix)]


# -- grad.exploding / grad.vanishing -------------------------------------------------------------
def weighted_layer_grad_rms(monitor) -> list:
    """``[(layer, median RMS of dL/d(output))]`` for layers that own a weight, input -> output.

    The gradient arriving at each layer's output: in a net that explodes it grows
    from the last layer towards the first. (Weight gradients x^T delta hide this when the
    activations grow forward at the same rate, so they are not used here.)
    """
    weighted = [monitor.layer_of_param.get(name) for name in monitor.param_names
                if name.endswith("weight")]
    rows = []
    for layer in monitor.layers:
        if layer in weighted:
            rms = _finite_median(monitor.activation(layer, "grad_rms"))
            if np.isfinite(rms) and rms > 0:
                rows.append((layer, rms))
    return rows


def exploding_gradients(ctx) -> list:
    """Global gradient norm above a limit, or dL/d(output) growing >10x from the last layer
    to the first."""
    monitor = ctx.monitor
    if monitor is None:
        return []
    limit = ctx.thresholds[GRAD_NORM_LIMIT]
    growth_limit = ctx.thresholds[GRAD_GROWTH]
    totals = (monitor.scalar("grad_norm_total") if "grad_norm_total" in monitor.scalar_names
              else np.array([]))
    median_total = _finite_median(totals)
    rows = weighted_layer_grad_rms(monitor)
    growth = rows[0][1] / rows[-1][1] if len(rows) >= 2 else float("nan")
    too_large = np.isfinite(median_total) and median_total > limit
    growing = np.isfinite(growth) and growth > growth_limit
    if not (too_large or growing):
        return []
    evidence = {"median_global_grad_norm": median_total,
                "max_global_grad_norm": float(np.nanmax(totals)) if np.isfinite(totals).any()
                else float("nan"),
                "first_to_last_output_grad_rms_ratio": growth,
                "output_grad_rms_per_layer": {layer: rms for layer, rms in rows}}
    thresholds = [ctx.thresholds.describe(GRAD_NORM_LIMIT),
                  ctx.thresholds.describe(GRAD_GROWTH)]
    parts = []
    if too_large:
        parts.append(f"the global gradient norm has median {median_total:.3g} over the run "
                     f"(limit {limit:g})")
    if growing:
        parts.append(f"the gradient at the output of the first layer {rows[0][0]} (RMS "
                     f"{rows[0][1]:.3g}) is {growth:.3g}x the one at the last layer "
                     f"{rows[-1][0]} ({rows[-1][1]:.3g}): it grows as it flows back towards "
                     f"the input (limit {growth_limit:g}x)")
    message = "Exploding gradients: " + "; ".join(parts) + "."
    fix = ("Initialise each layer for its activation (nn.init.kaiming_normal_ before ReLU, "
           "xavier_normal_ before tanh) so gradients keep their scale through the layers; "
           "clip gradients (nn.utils.clip_grad_norm_(model.parameters(), 1.0)) as a guard"
           + ("" if not too_large else "; if the loss is summed, average it instead") + ".")
    return [Finding("grad.exploding", message, layer=rows[0][0] if growing else None,
                    evidence=evidence, thresholds=thresholds, fix=fix)]


def vanishing_gradients(ctx) -> list:
    """Gradient RMS of the first weight below 1e-4 of the last weight's (or ~0)."""
    monitor = ctx.monitor
    if monitor is None:
        return []
    ratio_limit = ctx.thresholds[GRAD_VANISH]
    # Gradients after the loss blew up describe a broken net, not the flow through a working
    # one (sum_reduction, loss at 1e36: 'vanishing' 620x below the threshold on three seeds,
    # 'mildly' on two); read the steps before it, as update.ratio does.
    before = steps_before_divergence(monitor)
    if not before.all() and before.sum() < VANISH_MIN_STEPS:
        return []
    rows = weight_grad_rms(monitor, before)
    if len(rows) < 2 or not rows[-1][2] > 0:
        return []
    first_name, first_layer, first_rms, _ = rows[0]
    ratio = first_rms / rows[-1][2]
    if not ratio < ratio_limit:
        return []
    # the output grad RMS of each layer shows where along the way the gradient dies
    layer_grad_rms = {layer: _finite_median(monitor.activation(layer, "grad_rms"))
                      for layer in monitor.layers}
    evidence = {"first_to_last_grad_rms_ratio": ratio, "first_weight": first_name,
                "first_grad_rms": first_rms, "last_weight": rows[-1][0],
                "last_grad_rms": rows[-1][2],
                "grad_rms_per_weight": {name: rms for name, _, rms, _ in rows},
                "layer_output_grad_rms": layer_grad_rms}
    first_norms = monitor.param(first_name, "grad_norm")[before]
    first_norms = first_norms[np.isfinite(first_norms)]
    evidence["first_zero_grad_step_fraction"] = (float(np.mean(first_norms == 0))
                                                 if first_norms.size else float("nan"))
    kinds = set(getattr(monitor, "layer_types", {}).values())
    squashing = sorted(kinds & {"Sigmoid", "Tanh"})
    why = (f" The net uses {', '.join(squashing)}: each such layer multiplies the gradient by "
           f"its slope (at most 0.25 for Sigmoid), so {len(rows)} layers shrink it "
           f"geometrically." if squashing else "")
    message = (f"Vanishing gradients: the first weight ({first_name}) gets gradients with RMS "
               f"{first_rms:.3g}, {ratio:.2g} of the last weight's ({rows[-1][0]}, "
               f"{rows[-1][2]:.3g}); threshold {ratio_limit:g}. The first layers barely learn."
               + why)
    fix = ("Use ReLU-family activations with He init (nn.init.kaiming_normal_) in the hidden "
           "layers" + (f" instead of {', '.join(squashing)}" if squashing else "") +
           ", add normalisation (BatchNorm1d) or residual connections, or use fewer layers.")
    # 100x past the threshold the first layer's steps are ~1e-6 of the last's: it is frozen
    # for any practical number of steps, not merely slow
    extreme = ratio < ratio_limit / VANISH_ERROR_MARGIN
    evidence["error_below_ratio"] = ratio_limit / VANISH_ERROR_MARGIN
    if ratio == 0:
        message += " Its gradient was exactly zero on every step: the first layer is frozen."
    elif extreme:
        message += (f" That is {ratio_limit / ratio:.3g}x below the threshold: the first layer "
                    f"is effectively frozen.")
    if 0 < evidence["first_zero_grad_step_fraction"] < 1:
        message += (f" On {evidence['first_zero_grad_step_fraction']:.0%} of the steps its "
                    f"gradient was exactly zero (the RMS above counts them: the median "
                    f"when it flows times the share of steps it flows).")
    return [Finding("grad.vanishing", message, layer=first_layer, evidence=evidence,
                    severity="error" if extreme else None,
                    thresholds=[ctx.thresholds.describe(GRAD_VANISH)], fix=fix)]


# -- grad.missing --------------------------------------------------------------------------------
def _optimizer_param_ids(optimizer) -> set:
    if optimizer is None:
        return set()
    return {id(p) for group in optimizer.param_groups for p in group["params"]}


def missing_gradients(ctx) -> list:
    """Parameters the optimizer holds that never get a gradient, and trainable ones it
    does not hold.

    Deliberately frozen parameters (requires_grad=False and NOT given to the
    optimizer) are fine. Frozen parameters the optimizer holds, and trainable ones
    whose .grad stays None (detached branch, unused layer), are errors. Parameters
    with requires_grad=True that the optimizer does not hold get gradients but never
    move (the optimizer was built from part of the model): a warning, since freezing
    them might be meant (then say so with requires_grad_(False)).
    """
    monitor = ctx.monitor
    model = ctx.model if ctx.model is not None else getattr(monitor, "model", None)
    if monitor is None or model is None:
        return []
    optimizer = ctx.optimizer if ctx.optimizer is not None else getattr(monitor, "optimizer", None)
    held = _optimizer_param_ids(optimizer)
    if not held or monitor.n_steps == 0:
        return []
    limit = ctx.thresholds[GRAD_MISSING_FRACTION]
    findings = []
    outside = [(name, param) for name, param in model.named_parameters()
               if id(param) not in held and param.requires_grad]
    if outside:
        findings.append(_not_in_optimizer(ctx, monitor, model, outside))
    for name, param in model.named_parameters():
        if id(param) not in held:
            continue  # not trained by the optimizer: frozen on purpose (or see above)
        layer = monitor.layer_of_param.get(name)
        if not param.requires_grad:
            findings.append(Finding(
                "grad.missing",
                f"Parameter {name} has requires_grad=False but the optimizer holds it: it "
                f"never gets a gradient, so it never trains. Frozen by mistake?",
                layer=layer, evidence={"parameter": name, "requires_grad": False,
                                       "in_optimizer": True, "numel": int(param._data.size)},
                fix=f"If {name} should train: param.requires_grad_(True) (or "
                    f"model.requires_grad_(True)). If it is meant to be frozen, leave it out "
                    f"of the optimizer: SGD([p for p in model.parameters() if p.requires_grad]).",
                thresholds=[ctx.thresholds.describe(GRAD_MISSING_FRACTION)]))
            continue
        missing = monitor.param(name, "grad_missing") if name in monitor.param_names else None
        if missing is None or not np.isfinite(missing).any():
            continue
        fraction = float(np.nanmean(missing))
        # an all-zero gradient (dead units upstream) is a vanishing/dead-ReLU matter, not this
        zero_array = param.grad is not None and not np.any(param.grad._data)
        if fraction >= limit and not zero_array:
            findings.append(Finding(
                "grad.missing",
                f"Parameter {name} is in the optimizer and requires grad, but had no gradient "
                f"on {fraction:.0%} of the recorded steps: the loss does not depend on it "
                f"(a detach()/.data/no_grad cut in forward, or a layer defined but never used).",
                layer=layer, evidence={"parameter": name, "missing_fraction": fraction,
                                       "requires_grad": True, "in_optimizer": True},
                thresholds=[ctx.thresholds.describe(GRAD_MISSING_FRACTION)],
                fix=f"Make sure forward() uses the module owning {name} and that no detach(), "
                    f".data or no_grad() cuts the path from it to the loss; delete it if unused."))
    return findings


def _not_in_optimizer(ctx, monitor, model, outside) -> Finding:
    """One warning for the trainable parameters (requires_grad=True) the optimizer lacks."""
    names = [name for name, _ in outside]
    total = sum(1 for _ in model.parameters())
    numel = int(sum(param._data.size for _, param in outside))
    layers = sorted({monitor.layer_of_param.get(name) for name in names} - {None},
                    key=lambda layer: list(monitor.layers).index(layer)
                    if layer in monitor.layers else 0)
    # Tensors the user's optimizer holds that are not in the model (left out of the copy).
    # Shapes that match the missing parameters one for one are the mark of a layer replaced
    # after the optimizer was built: its updates go to the old, unused tensors.
    foreign = list(getattr(ctx.make_optimizer, "foreign", None) or [])
    replaced = bool(foreign) and sorted(foreign) == sorted(tuple(p.shape) for _, p in outside)
    if replaced:
        cause = (f"The optimizer holds {len(foreign)} other tensors of exactly these shapes "
                 f"that are not in the model: the layer was replaced (or re-created) after "
                 f"the optimizer was built, and the optimizer updates the old, unused copy.")
        fix = ("Create the optimizer after the model is complete, or rebuild it after "
               "replacing a layer: optimizer = optim.SGD(model.parameters(), ...).")
    else:
        cause = "The optimizer was built from part of the model."
        if foreign:
            cause += (f" It also holds {len(foreign)} tensors that are not in the model "
                      f"(shapes {', '.join(str(shape) for shape in foreign[:4])}).")
        fix = ("Build the optimizer from every trainable parameter: "
               "optim.SGD(model.parameters(), ...). If these layers are meant to stay fixed, "
               "freeze them explicitly: layer.requires_grad_(False) (no wasted gradients).")
    evidence = {"parameters_not_in_optimizer": names, "numel": numel,
                "requires_grad": True, "in_optimizer": False}
    if foreign:
        evidence["optimizer_tensors_not_in_model"] = len(foreign)
        evidence["shapes_match_missing"] = replaced
    return Finding(
        "grad.missing",
        f"{len(names)} of {total} parameters ({', '.join(names)}; {numel} numbers) require "
        f"grad but the optimizer does not hold them: they receive gradients and never change, "
        f"so {', '.join(layers) or 'those layers'} keep their initial random weights. {cause}",
        severity="warning", layer=layers[0] if layers else None, evidence=evidence,
        thresholds=[ctx.thresholds.describe(GRAD_MISSING_FRACTION)], fix=fix)


# -- grad.accumulating ----------------------------------------------------------------------------
def stale_norms_of_held(ctx, steps: int = STALE_PROBE_STEPS) -> np.ndarray:
    """Norm of the gradients found on the optimizer's parameters when each step's backward
    first reaches one of them, in a short replay on a fresh copy (the user's loop), as the
    Monitor measures it. ``optimizer.zero_grad()`` clears only those, so only those say
    whether it was called (before backward: after the forward pass is fine too)."""
    model = ctx.fresh_model()
    optimizer = ctx.make_optimizer(model)
    held = [p for group in optimizer.param_groups for p in group["params"]]
    norms = {}
    step = {"index": 0}

    def at_first_gradient(grad):
        if step["index"] not in norms:  # the first parameter gradient of the step
            norms[step["index"]] = math.sqrt(sum(
                float(np.sum(np.square(p.grad._data, dtype=np.float64)))
                for p in held if p.grad is not None))
        return None

    def count_steps(optimizer, args, kwargs):
        step["index"] += 1

    handles = [p.register_hook(at_first_gradient) for p in held if p.requires_grad]
    handles.append(optimizer.register_step_post_hook(count_steps))
    try:
        ctx.train(model, steps=steps, optimizer=optimizer)
    finally:
        for handle in handles:
            handle.remove()
    return np.asarray([norms[i] for i in sorted(norms)], dtype=np.float64)


def _holds_every_trainable(ctx, monitor) -> bool:
    model = ctx.model if ctx.model is not None else getattr(monitor, "model", None)
    optimizer = ctx.optimizer if ctx.optimizer is not None else getattr(monitor, "optimizer", None)
    if model is None or optimizer is None:
        return True
    held = _optimizer_param_ids(optimizer)
    return all(id(p) in held for p in model.parameters() if p.requires_grad)


def accumulating_gradients(ctx) -> list:
    """Gradients left on the parameters from the previous step: zero_grad() is missing.

    The Monitor's ``stale_grad_norm`` covers every parameter of the model. When the
    optimizer holds only some of them, the others keep their gradients whatever the loop
    does, so the statistic is re-measured on the optimizer's parameters by replaying a few
    steps (or, with a Monitor alone, not judged).
    """
    monitor = ctx.monitor
    if monitor is None or "stale_grad_norm" not in monitor.scalar_names:
        return []
    if _holds_every_trainable(ctx, monitor):
        stale = monitor.scalar("stale_grad_norm")[1:]  # step 0 has no previous step
        measured_on = "every parameter"
    elif getattr(ctx, "X_train", None) is not None and ctx._initial_model is not None:
        stale = stale_norms_of_held(ctx)[1:]
        measured_on = "the optimizer's parameters (replay)"
    else:
        return []   # a Monitor alone cannot separate the optimizer's parameters' gradients
    stale = stale[np.isfinite(stale)]
    if stale.size == 0:
        return []
    limit = ctx.thresholds[STALE_FRACTION]
    fraction = float(np.mean(stale > 0))
    if fraction < limit:
        return []
    totals = (monitor.scalar("grad_norm_total") if "grad_norm_total" in monitor.scalar_names
              else np.array([np.nan]))
    finite = totals[np.isfinite(totals)]
    evidence = {"stale_step_fraction": fraction, "median_stale_grad_norm": float(np.median(stale)),
                "measured_on": measured_on,
                "first_global_grad_norm": float(finite[0]) if finite.size else float("nan"),
                "last_global_grad_norm": float(finite[-1]) if finite.size else float("nan")}
    message = (f"Gradients are not zeroed between steps: on {fraction:.0%} of the steps the "
               f"parameters still held the previous step's gradient (median norm "
               f"{evidence['median_stale_grad_norm']:.3g}) when the next backward() began, so "
               f"backward() added to it and every update used the sum of all past gradients.")
    return [Finding("grad.accumulating", message, evidence=evidence,
                    thresholds=[ctx.thresholds.describe(STALE_FRACTION)],
                    fix="Call optimizer.zero_grad() at the start of every step, before "
                        "loss.backward() (or after optimizer.step()).")]


# -- grad.incorrect ----------------------------------------------------------------------------------
def _leaf_inputs(model, X: np.ndarray) -> list:
    """``[(label, module, input arrays)]`` for every leaf module, from one eval-mode forward."""
    from ...tensor import Tensor, no_grad
    captured = []
    handles = []
    for path, module in model.named_modules():
        if any(True for _ in module.children()):
            continue
        label = f"{path or 'model'} ({type(module).__name__})"

        def hook(module, args, output, label=label):
            arrays = [a._data.copy() if isinstance(a, Tensor) else a for a in args]
            captured.append((label, module, arrays))
        handles.append(module.register_forward_hook(hook))
    model.eval()
    try:
        with no_grad(), np.errstate(all="ignore"):
            model(Tensor(X))
    finally:
        for handle in handles:
            handle.remove()
    seen, unique = set(), []
    for label, module, arrays in captured:
        if id(module) not in seen:
            seen.add(id(module))
            unique.append((label, module, arrays))
    return unique


def gradcheck_module(module, arrays: list, atol: float, rtol: float, seed: int = 0):
    """gradcheck ``module`` (eval mode, float64) at the captured ``arrays``; the result."""
    import warnings

    from ...gradcheck import GradcheckWarning, gradcheck
    from ...tensor import Tensor
    inputs = tuple(Tensor(np.asarray(a, dtype=np.float64), requires_grad=True)
                   if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in arrays)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GradcheckWarning)
        return gradcheck(module, inputs, atol=atol, rtol=rtol, n_samples=24, seed=seed)


GRADCHECK_SCALE_LIMIT = 1e3   # inputs with an RMS beyond this (or below 1/this) are rescaled


def unit_scale(array):
    """A float input with an RMS far from 1 rescaled to RMS 1 for gradcheck.

    Finite differences lose all precision at extreme scales: with inputs around 3e9 a
    float64 step of 1e-6 changes the output by less than its rounding error, so a correct
    Linear/ReLU "fails". Whether a backward is right does not depend on the input's scale,
    so the check runs where finite differences are accurate (unnormalised inputs are
    data.not_normalized's finding, not a wrong backward).
    """
    if not isinstance(array, np.ndarray) or array.dtype.kind != "f" or not array.size:
        return array
    rms = float(np.sqrt(np.mean(np.square(array.astype(np.float64)))))
    if not np.isfinite(rms) or rms == 0 or 1 / GRADCHECK_SCALE_LIMIT <= rms <= GRADCHECK_SCALE_LIMIT:
        return array
    return (array / rms).astype(array.dtype)


def incorrect_gradients(ctx) -> list:
    """gradcheck every leaf module (eval mode, float64) on a few training samples."""
    if ctx.X_train is None or ctx._initial_model is None:
        return []
    model = ctx.fresh_model()
    X, _ = ctx.sample(4)
    try:
        leaves = _leaf_inputs(model, X)
    except Exception:  # noqa: BLE001 - a forward that fails is other checks' business
        return []
    atol, rtol = ctx.thresholds[GRADCHECK_ATOL], ctx.thresholds[GRADCHECK_RTOL]
    findings = []
    for label, module, arrays in leaves:
        has_float_input = any(isinstance(a, np.ndarray) and a.dtype.kind == "f" for a in arrays)
        if not has_float_input:
            continue
        arrays = [unit_scale(a) for a in arrays]
        try:
            result = gradcheck_module(module, arrays, atol, rtol, seed=ctx.seed)
        except Exception:  # noqa: BLE001 - not checkable (integer outputs, ...): skip
            continue
        if result.passed:
            continue
        failed = result.failed
        worst = max(failed, key=lambda c: c.max_rel_error)
        diagnosis = worst.diagnosis
        evidence = {"failed_inputs": [c.name for c in failed],
                    "max_rel_error": float(worst.max_rel_error),
                    "mismatched_entries": int(worst.n_mismatch),
                    "checked_entries": int(worst.n_checked)}
        if diagnosis is not None:
            evidence["likely_bug"] = diagnosis.kind
        if worst.worst:
            entry = worst.worst[0]
            evidence.update({"worst_index": list(entry.index), "worst_analytic": entry.analytic,
                             "worst_numeric": entry.numeric})
        said = f" Likely bug: {diagnosis.message}" if diagnosis is not None else ""
        message = (f"Layer {label}: its backward disagrees with finite differences for "
                   f"{', '.join(c.name for c in failed)} (max relative error "
                   f"{worst.max_rel_error:.3g}, {worst.n_mismatch} of {worst.n_checked} checked "
                   f"entries off; float64 gradcheck on {len(X)} samples).{said}")
        fix = (f"Fix the backward of {type(module).__name__}"
               + (f": {diagnosis.hint}" if diagnosis is not None else "")
               + " Re-check with minnet.gradcheck(layer.double().eval(), x) until it passes.")
        findings.append(Finding("grad.incorrect", message, layer=label, evidence=evidence,
                                thresholds=[ctx.thresholds.describe(GRADCHECK_RTOL),
                                            ctx.thresholds.describe(GRADCHECK_ATOL)],
                                fix=fix))
    return findings


# -- mechanical fixes (tried by Report.verify_fixes on copies) ------------------------------------
def repaired_copy(setup, **optimizer_changes):
    """``(model copy, optimizer copy)`` of ``setup`` with ``optimizer_changes`` set in every group."""
    from ..context import copy_model, optimizer_factory
    model = copy_model(setup.model)
    optimizer = optimizer_factory(setup.optimizer, setup.model)(model)
    for group in optimizer.param_groups:
        group.update(optimizer_changes)
    return model, optimizer




def clip_gradients(setup, finding):
    model, optimizer = repaired_copy(setup)
    return setup.replace(model=model, optimizer=optimizer, clip_grad_norm=1.0)


# grad.vanishing has no mechanical fix: the cure (other activations, normalisation, residual
# connections) changes the architecture, and He init alone does not rescue a deep sigmoid net
# (verify_fixes measured no change on the vanishing_gradients scenario).


def restore_zero_grad(setup, finding):
    model, optimizer = repaired_copy(setup)
    return setup.replace(model=model, optimizer=optimizer, train_step=None)


def unfreeze(setup, finding):
    model, optimizer = repaired_copy(setup)
    model.requires_grad_(True)
    return setup.replace(model=model, optimizer=optimizer)
