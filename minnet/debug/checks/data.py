"""Data checks: what is wrong with the arrays before any model sees them.

Most read only the arrays (phase "data"); the label range against the output width
and the zero-input baseline need the model and run in the preflight, on fresh
copies. "Features" are columns of (N, F) data and channels of (N, C, H, W) images:
a convolution shares weights over positions, so its statistics are per channel.
Each mechanical fix is registered with ``@mechanical_fix`` next to its check.
"""
from __future__ import annotations

import math

import numpy as np

from ..context import CLASSIFICATION, REGRESSION, copy_model, data_arrays, optimizer_factory
from ..report import Finding
from ..thresholds import define

# -- thresholds ---------------------------------------------------------------------------------
NONFINITE = define(
    "nonfinite_data_count", 0, source="37R 37, HOLDEN 1",
    why="a single NaN or Inf in a batch makes that batch's loss and every gradient NaN")
INPUT_MEAN = define(
    "input_mean_abs_max", 3.0, source="37R 12, HOLDEN 1",
    why="a feature whose mean is more than 3 from 0 shifts every first-layer pre-activation; "
        "initialisations assume inputs of mean 0 and std 1")
INPUT_STD_MAX = define(
    "input_std_max", 10.0, source="37R 12, HOLDEN 3",
    why="a feature with std above 10 makes first-layer outputs 10x larger than the init "
        "expects (saturated tanh/sigmoid, huge logits, exploding updates)")
INPUT_STD_MIN = define(
    "input_std_min", 0.1, source="37R 12, HOLDEN 3",
    why="a feature with std below 0.1 barely moves the first layer: its weights need to "
        "grow 10x before it counts, so it learns slowly")
NEAR_CONSTANT = define(
    "near_constant_mode_fraction", 0.8, source="HOLDEN 1",
    why="a feature whose most common value covers at least this share of the samples (an image's "
        "border pixel, a rare count) has a small std because it is rare, not because it is "
        "mis-scaled: rescaling it would only blow up its few other values")
UNIT_RANGE = define(
    "input_unit_range", 1.0, source="37R 12",
    why="inputs already scaled into [-1, 1] (e.g. pixels / 255 in [0, 1]) are standard "
        "preprocessing: a narrow feature there is only worth an info, not a warning")
INPUT_EXTREME = define(
    "input_scale_extreme", 10.0, source="37R 12, HOLDEN 1",
    why="a feature mean or std this many times beyond its threshold (|mean| > 30, std > 100, e.g. "
        "0..255 pixels): first-layer pre-activations in the tens, every tanh/sigmoid saturated and "
        "huge logits from step 0 (error, not warning)")
CONSTANT = define(
    "constant_feature_relative_std", 1e-6, source="HOLDEN 1",
    why="std at most 1e-6 of max(1, |mean|) is within float32 rounding (eps 1.2e-7) of "
        "a constant: the feature carries no information and standardising it divides by ~0")
CONSTANT_MIN_ROWS = define(
    "constant_feature_min_rows", 50, source="HOLDEN 1",
    why="with fewer values per feature than this, a column can be constant by chance: one "
        "that is nonzero in 5% of samples is constant in 15 rows with probability "
        "0.95^15 = 46%, in 50 rows 8%, so below 50 rows a constant column is only an info")
TARGET_STD_MAX = define(
    "target_std_max", 10.0, source="HOLDEN 1, RECIPE 2",
    why="regression targets with std above 10 give an MSE 100x larger than unit-scale "
        "targets, and gradients and updates to match")
TARGET_STD_MIN = define(
    "target_std_min", 0.01, source="HOLDEN 1, RECIPE 2",
    why="regression targets with std below 0.01 give an MSE below 1e-4 from the start: "
        "the loss looks converged while the model has learnt nothing")
TARGET_MEAN = define(
    "target_mean_over_std", 3.0, source="HOLDEN 1, RECIPE 2",
    why="targets whose mean is more than 3 std (and more than 1) away from 0: the output "
        "bias must first travel that far, the 'hockey stick' start of the loss curve")
SINGLE_CLASS_BATCHES = define(
    "single_class_batch_fraction", 0.5, source="37R 7, 10",
    why="when most batches hold one class, each step pulls the model towards that class "
        "and the next batch pulls it back")
BATCH_DISTANCE = define(
    "batch_label_distance", 0.5, source="37R 7, 10",
    why="when a batch's class mix is more than 0.5 (total variation) away from the whole "
        "set's, batches are slices of a sorted set even if each holds a few classes")
BATCH_VARIANCE = define(
    "batch_target_variance_ratio", 0.1, source="37R 7, 10",
    why="regression batches whose target variance is under 10% of the whole set's are "
        "slices of a sorted set (a shuffled batch keeps ~100%)")
SPLIT_CHANCE = define(
    "split_class_absent_chance", 0.001, source="37R 7, 10",
    why="the chance that a random split leaves every sample of a class on one side "
        "(hypergeometric, times the number of classes); below 1 in 1000 the split was not "
        "random but cut from data ordered by class")
IMBALANCE = define(
    "class_imbalance_ratio", 10.0, source="37R 8",
    why="with the majority class 10x the minority, always predicting the majority is "
        "already >90% accurate and the minority's gradient is drowned out")
LEAK_SHIFT = define(
    "leakage_statistics_shift", 1e-3, source="37R 15",
    why="preprocessing statistics more than 1e-3 training std away from the training "
        "split's own were fitted on other data (float rounding stays below 1e-5)")
LEAK_DUPLICATES = define(
    "leakage_duplicate_fraction", 0.01, source="37R 15",
    why="more than 1% of the held-out samples also appear in the training set (and twice "
        "as often as duplicates occur within the training set itself)")
INPUT_NOISE_Z = define(
    "input_dependence_noise_z", 2.0, source="statistics: a paired difference ~2 standard "
    "errors from 0 (one-sided ~98%)",
    why="the held-out gains of the real-input over the zero-input model (loss and accuracy) "
        "are means over a few dozen to a few hundred samples: a gain counts as help only when "
        "it also exceeds this many standard errors of the paired per-sample differences, and "
        "'no help' is claimed only when the gain stays this many standard errors below half "
        "the training gain (on 125 held-out samples an accuracy difference of 0.04 is one "
        "standard error: noise)")
INPUT_GAIN = define(
    "input_dependence_min_gain", 0.02, source="37R 2, 5, RECIPE 2",
    why="a model trained on the real inputs should beat the same model trained on zeroed "
        "inputs on held-out data by more than 2% of the loss (and on accuracy)")
MIN_PER_CLASS = define(
    "min_samples_per_class", 10, source="37R 9",
    why="fewer than ~10 samples per class (or per input feature, for regression) is the "
        "classic 'events per variable' rule of thumb for too little data to learn from")
BATCH_FRACTION = define(
    "batch_fraction_max", 0.5, source="37R 11, HOLDEN 5",
    why="a batch holding half the data set or more leaves fewer than 2 updates per epoch "
        "and almost no gradient noise (worse generalisation)")

# how many optimizer steps the zero-input baseline trains each model for (at most)
BASELINE_STEPS = 150


# -- shared helpers -------------------------------------------------------------------------------
def feature_matrix(X: np.ndarray) -> np.ndarray:
    """X as (rows, features) float64: (N,) -> (N, 1); (N, F) as is; (N, C, ...) -> (N*..., C).

    For images the features are the channels, pooled over positions.
    """
    X = np.asarray(X)
    if X.ndim == 1:
        return X.reshape(-1, 1).astype(np.float64)
    if X.ndim == 2:
        return X.astype(np.float64)
    channels_last = np.moveaxis(X, 1, -1)
    return channels_last.reshape(-1, X.shape[1]).astype(np.float64)


def feature_stats(X: np.ndarray) -> tuple:
    """Per-feature ``(mean, std)`` (population std) of the finite entries, float64."""
    F = feature_matrix(X)
    with np.errstate(all="ignore"):
        finite = np.where(np.isfinite(F), F, np.nan)
        return np.nanmean(finite, axis=0), np.nanstd(finite, axis=0)


def constant_mask(mean: np.ndarray, std: np.ndarray, relative: float) -> np.ndarray:
    """Features whose std is at most ``relative`` x max(1, |mean|)."""
    return std <= relative * np.maximum(1.0, np.abs(mean))


def _is_class_loss(loss_fn) -> bool:
    name = (getattr(loss_fn, "__name__", "") or type(loss_fn).__name__).lower()
    return any(key in name for key in ("crossentropy", "cross_entropy", "nll")) and not _is_binary_loss(loss_fn)


def _is_binary_loss(loss_fn) -> bool:
    name = (getattr(loss_fn, "__name__", "") or type(loss_fn).__name__).lower()
    return "bce" in name or "binary" in name


def _loss_name(loss_fn) -> str:
    return getattr(loss_fn, "__name__", "") or type(loss_fn).__name__


def class_labels(y: np.ndarray):
    """Integer class indices (N,) if ``y`` holds them (int 1-D, or 0/1 floats); else None."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or y.size == 0:
        return None
    if y.dtype.kind in "iub":
        return y.astype(np.int64)
    if y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all((y == 0) | (y == 1)):
        return y.astype(np.int64)  # binary targets for a BCE loss
    return None


def _ignore_index(loss_fn):
    return getattr(loss_fn, "ignore_index", None)


def _columns_text(columns, limit: int = 8) -> str:
    shown = ", ".join(str(int(c)) for c in columns[:limit])
    return shown + (f", ... ({len(columns)} in all)" if len(columns) > limit else "")


def _feature_word(X) -> str:
    return "channel" if np.ndim(X) >= 3 else "feature"


def _threshold_records(ctx, *names) -> list:
    return [ctx.thresholds.describe(name) for name in names]


def _standardize(X: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(X - mean) / std with per-feature statistics of ``reference`` (constant ones only centred)."""
    reference = np.asarray(reference, dtype=np.float64)
    axes = (0,) if reference.ndim <= 2 else (0,) + tuple(range(2, reference.ndim))
    mean = reference.mean(axis=axes, keepdims=True)[0]
    std = reference.std(axis=axes, keepdims=True)[0]
    std = np.where(std <= 1e-12 * np.maximum(1.0, np.abs(mean)), 1.0, std)
    dtype = np.asarray(X).dtype if np.asarray(X).dtype.kind == "f" else np.float32
    return ((np.asarray(X, dtype=np.float64) - mean) / std).astype(dtype)


def _setup_arrays(setup) -> tuple:
    """``(X, y, X_val, y_val, batch_size, shuffle)`` of a Setup (a DataLoader's options win)."""
    X, y, options = data_arrays(setup.train_data, "what-if")
    X_val = y_val = None
    if setup.val_data is not None:
        X_val, y_val, _ = data_arrays(setup.val_data, "what-if")
    return (X, y, X_val, y_val, options.get("batch_size", setup.batch_size),
            options.get("shuffle", setup.shuffle))


def _fresh_copy(setup, **changes):
    """A repaired copy of ``setup`` with its own model and optimizer copies."""
    model = copy_model(setup.model)
    optimizer = optimizer_factory(setup.optimizer, setup.model)(model) if setup.optimizer else None
    return setup.replace(model=model, optimizer=optimizer, **changes)


# -- data.nonfinite ---------------------------------------------------------------------------------
def nonfinite_data(ctx) -> list:
    """NaN or Inf anywhere in the inputs or targets (train and validation)."""
    limit = ctx.thresholds[NONFINITE]
    findings = []
    for name, array in (("X_train", ctx.X_train), ("y_train", ctx.y_train),
                        ("X_val", ctx.X_val), ("y_val", ctx.y_val)):
        if array is None or np.asarray(array).dtype.kind not in "fc":
            continue
        array = np.asarray(array)
        bad = ~np.isfinite(array)
        count = int(bad.sum())
        if count <= limit:
            continue
        rows = np.nonzero(bad.reshape(len(array), -1).any(axis=1))[0]
        evidence = {"array": name, "nonfinite_count": count, "nan_count": int(np.isnan(array).sum()),
                    "inf_count": int(np.isinf(array).sum()), "total_entries": int(array.size),
                    "rows_affected": int(rows.size), "first_rows": rows[:10].tolist()}
        where = ""
        if array.ndim >= 2:
            columns = np.nonzero(feature_matrix(bad).any(axis=0))[0]
            evidence["columns_affected"] = columns[:20].tolist()
            where = f" in {_feature_word(array)}(s) {_columns_text(columns)}"
        all_nan_columns = []
        if array.ndim == 2:
            all_nan_columns = np.nonzero(bad.all(axis=0))[0].tolist()
        hint = (f" Column(s) {all_nan_columns} are non-finite in every row: typical of 0/0 from "
                f"standardising a constant feature." if all_nan_columns else "")
        findings.append(Finding(
            "data.nonfinite",
            f"{name} holds {count} NaN/Inf value(s){where}, in {rows.size} of {len(array)} rows "
            f"(first rows {rows[:5].tolist()}). Any batch containing one gets a NaN loss and "
            f"NaN gradients, which then spread to every weight.{hint}",
            evidence=evidence, thresholds=_threshold_records(ctx, NONFINITE),
            fix=(f"Drop the {rows.size} affected rows or impute the missing values (e.g. the "
                 f"training column mean) before training; if they come from your "
                 f"preprocessing, find the division by zero or log of 0 there.")))
    return findings


# -- data.not_normalized ----------------------------------------------------------------------------
def _looks_like_pixels(X: np.ndarray) -> bool:
    """Values in [0, 255] reaching above 16, that are whole numbers, image-shaped (N, C, H, W) or on
    a grid of at most 256 levels: 8-bit intensities (also after a rescale such as x * 255 / 16)."""
    if X.dtype.kind not in "iuf" or X.size == 0 or not np.all(np.isfinite(X)):
        return False
    low, high = float(X.min()), float(X.max())
    if not (low >= 0 and 16 <= high <= 255):
        return False
    if X.ndim >= 3 or bool(np.all(X == np.round(X))):
        return True
    flat = X.reshape(-1)
    return np.unique(flat[:: max(1, flat.size // 100_000)]).size <= 256


def _indicator_columns(X: np.ndarray) -> np.ndarray:
    """Per feature: True where every value is 0 or 1 (only for (N, F) data)."""
    if X.ndim != 2:
        return np.zeros(feature_matrix(X[:1]).shape[1], dtype=bool)
    return np.all((X == 0) | (X == 1), axis=0)


def mode_fractions(X: np.ndarray, columns) -> np.ndarray:
    """Per feature in ``columns``: the share of samples holding its most common value
    (1.0 for a constant column; ~1/N for a continuous one)."""
    F = feature_matrix(X)
    fractions = np.zeros(len(columns))
    for k, column in enumerate(columns):
        values = np.sort(F[:, column][np.isfinite(F[:, column])])
        if values.size == 0:
            continue
        starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1], True])
        fractions[k] = np.diff(starts).max() / values.size
    return fractions


def inputs_not_normalized(ctx) -> list:
    """Per-feature mean and std of the training inputs, against 0 and 1."""
    X = np.asarray(ctx.X_train)
    if X.dtype.kind not in "iuf" or X.size == 0:
        return []
    mean, std = feature_stats(X)
    constant = constant_mask(mean, std, ctx.thresholds[CONSTANT])
    mean_max, std_max, std_min = (ctx.thresholds[INPUT_MEAN],
                                  ctx.thresholds[INPUT_STD_MAX], ctx.thresholds[INPUT_STD_MIN])
    # 0/1 indicator columns (one-hot categories) are conventionally left as they are: a rare
    # category has a small std by nature, not by a scaling mistake
    indicator = _indicator_columns(X)
    with np.errstate(invalid="ignore"):
        off_mean = np.abs(mean) > mean_max
        too_wide = std > std_max
        too_narrow = (std < std_min) & ~constant & ~indicator  # constant: data.constant_feature
    # the same holds for near-constant columns (mostly one value: border pixels, rare counts)
    candidates = np.flatnonzero(too_narrow)
    modes = mode_fractions(X, candidates)
    near_constant = candidates[modes >= ctx.thresholds[NEAR_CONSTANT]]
    too_narrow[near_constant] = False
    bad = np.nonzero(off_mean | too_wide | too_narrow)[0]
    if bad.size == 0:
        return []
    word = _feature_word(X)
    worst_mean = int(np.nanargmax(np.abs(mean)))
    live_std = np.where(constant, np.nan, std)
    pixels = _looks_like_pixels(X)
    finite = X[np.isfinite(X)] if X.dtype.kind == "f" else X
    largest = float(np.max(np.abs(finite))) if finite.size else float("nan")
    unit_range = largest <= ctx.thresholds[UNIT_RANGE]
    parts = []
    if off_mean.any():
        parts.append(f"{int(off_mean.sum())} with |mean| > {mean_max:g} (largest {abs(mean[worst_mean]):.3g}, "
                     f"{word} {worst_mean})")
    if too_wide.any():
        widest = int(np.nanargmax(std))
        parts.append(f"{int(too_wide.sum())} with std > {std_max:g} (largest {std[widest]:.3g}, "
                     f"{word} {widest})")
    if too_narrow.any():
        narrowest = int(np.nanargmin(np.where(too_narrow, std, np.nan)))
        parts.append(f"{int(too_narrow.sum())} with std < {std_min:g} (smallest "
                     f"{std[narrowest]:.3g}, {word} {narrowest})")
    message = (f"{bad.size} of {len(mean)} input {word}s are far from mean 0 / std 1: "
               + "; ".join(parts) + ".")
    if pixels:
        whole = bool(np.all(X == np.round(X)))
        message += (f" The inputs are {'whole numbers' if whole else 'values'} in "
                    f"[0, {X.max():g}]: pixel intensities on the 8-bit scale.")
        divide = (f"X / {X.max():g}, or / 255 for 8-bit images" if float(X.max()) != 255
                  else "X / 255")
        fix = (f"Scale the pixels to [0, 1] ({divide}), or "
               f"better standardise with training statistics: s = minnet.data.Standardizer()"
               f".fit(X_train); X_train, X_val = s.transform(X_train), s.transform(X_val).")
    else:
        fix = ("Standardise each feature with training statistics: s = minnet.data.Standardizer()"
               ".fit(X_train); X_train, X_val = s.transform(X_train), s.transform(X_val).")
    # how far beyond the thresholds: at 10x (|mean| > 30 or std > 100, raw 0..255 pixels) the
    # first-layer pre-activations are in the tens and every tanh saturates at step 0
    scale = max(np.nanmax(np.abs(mean)) / mean_max, np.nanmax(std) / std_max)
    severity = "error" if scale >= ctx.thresholds[INPUT_EXTREME] else None
    if unit_range and not (off_mean.any() or too_wide.any()):
        # only narrow features, in data already scaled into [-1, 1]: standard preprocessing
        severity = "info"
        message += (f" All inputs already lie within [-{ctx.thresholds['input_unit_range']:g}, "
                    f"{ctx.thresholds['input_unit_range']:g}], so this is a remark: those "
                    f"features learn more slowly, nothing more.")
    return [Finding(
        "data.not_normalized", message + " Initialisations assume unit-scale inputs.",
        severity=severity,
        evidence={"features": int(len(mean)), "features_off": int(bad.size),
                  "max_abs_mean": float(np.nanmax(np.abs(mean))), "max_std": float(np.nanmax(std)),
                  "min_std_nonconstant": float(np.nanmin(live_std)) if np.isfinite(live_std).any() else float("nan"),
                  "scale_beyond_threshold": float(scale), "max_abs_input": largest,
                  "near_constant_features": near_constant[:20].tolist(),
                  "offending_features": bad[:20].tolist(), "looks_like_pixels": bool(pixels),
                  "mean_per_feature": mean[:64].tolist(), "std_per_feature": std[:64].tolist()},
        thresholds=_threshold_records(ctx, INPUT_MEAN, INPUT_STD_MAX, INPUT_STD_MIN,
                                      NEAR_CONSTANT, UNIT_RANGE,
                                      INPUT_EXTREME),
        fix=fix)]


def val_inputs_unlike_train(ctx) -> list:
    """Validation inputs on another scale than the training inputs: preprocessing applied to
    one split and not the other (raw test instances fed to a model trained on standardised
    ones), measured in training units with the data.not_normalized thresholds.

    A feature is off when its validation mean is more than input_mean_abs_max training stds
    from the training mean, or its validation std more than input_std_max times (or less
    than input_std_min times) the training std. A preprocessing mismatch moves every feature;
    a genuine shift between periods moves a few: reported when at least half the
    (non-constant) features are off.
    """
    if ctx.X_val is None or np.ndim(ctx.X_train) < 2 or len(ctx.X_val) < 2 or \
            np.shape(ctx.X_train)[1:] != np.shape(ctx.X_val)[1:]:
        return []
    X, X_val = np.asarray(ctx.X_train), np.asarray(ctx.X_val)
    if X.dtype.kind not in "iuf" or X_val.dtype.kind not in "iuf":
        return []
    mean, std = feature_stats(X)
    val_mean, val_std = feature_stats(X_val)
    live = ~constant_mask(mean, std, ctx.thresholds[CONSTANT]) & np.isfinite(val_mean) \
        & np.isfinite(val_std)
    if live.sum() == 0:
        return []
    with np.errstate(all="ignore"):
        shift = np.abs(val_mean - mean) / std
        ratio = val_std / std
    off = live & ((shift > ctx.thresholds[INPUT_MEAN]) | (ratio > ctx.thresholds[INPUT_STD_MAX])
                  | (ratio < ctx.thresholds[INPUT_STD_MIN]))
    if off.sum() < 0.5 * live.sum():
        return []
    word = _feature_word(X)
    worst = int(np.nanargmax(np.where(live, shift, np.nan)))
    train_normalised = not any(f.severity != "info" for f in inputs_not_normalized(ctx))
    how = ("The training inputs are normalised and the validation inputs are not: the "
           "preprocessing was applied to one split only." if train_normalised else
           "The two splits were not preprocessed the same way.")
    return [Finding(
        "data.not_normalized",
        f"The validation inputs are on another scale than the training inputs: {int(off.sum())} "
        f"of {int(live.sum())} {word}s are off (validation mean up to {shift[worst]:.3g} training "
        f"stds from the training mean, {word} {worst}: {val_mean[worst]:.4g} against "
        f"{mean[worst]:.4g}). {how} The model is scored on inputs unlike any it trained on, so "
        f"the validation results say nothing about it.",
        severity="error",
        evidence={"applies_to": "validation inputs", "features": int(live.sum()),
                  "features_off": int(off.sum()),
                  "max_val_mean_shift_in_train_std": float(np.nanmax(np.where(live, shift, np.nan))),
                  "val_std_over_train_std_range": [float(np.nanmin(ratio[live])),
                                                   float(np.nanmax(ratio[live]))],
                  "train_inputs_normalised": bool(train_normalised),
                  "offending_features": np.flatnonzero(off)[:20].tolist()},
        thresholds=_threshold_records(ctx, INPUT_MEAN, INPUT_STD_MAX, INPUT_STD_MIN),
        fix="Apply the same preprocessing, fitted on the training split, to every input the "
            "model sees: s = Standardizer().fit(X_train_raw); X_val = s.transform(X_val_raw) "
            "(and the same for test and new instances).")]


def val_standardised_on_its_own(ctx) -> list:
    """Each split standardised exactly with its own statistics: the validation (test) inputs
    were scaled with their own mean and std instead of the training split's.

    A split transformed with the training statistics is exactly mean 0 / std 1 only by
    chance (to float32 rounding: never in practice); both splits exactly standardised means
    each was fitted on itself.
    """
    if ctx.X_val is None or np.ndim(ctx.X_train) < 2 or len(ctx.X_val) < 3 or \
            np.shape(ctx.X_train)[1:] != np.shape(ctx.X_val)[1:]:
        return []
    X = np.asarray(ctx.X_train, np.float64).reshape(len(ctx.X_train), -1)
    X_val = np.asarray(ctx.X_val, np.float64).reshape(len(ctx.X_val), -1)
    if X.shape == X_val.shape and np.array_equal(X, X_val):
        return []   # validating on the training set itself: not this mistake
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(X_val))) or \
            not (_exactly_standardised(X) and _exactly_standardised(X_val)):
        return []
    return [Finding(
        "data.leakage",
        f"The training inputs and the {len(X_val)} validation inputs are each exactly mean 0 / "
        f"std 1: each split was standardised with its own statistics. The model learnt on the "
        f"training scale; the validation inputs are shifted and stretched by their own mean and "
        f"std instead (a validation set from another period or source loses exactly the "
        f"difference the model should see), and a single new instance cannot be standardised "
        f"this way at all.",
        severity="warning",
        evidence={"applies_to": "validation inputs", "method": "both splits exactly standardised",
                  "fitted_on": "each split on itself"},
        thresholds=[],
        fix="Fit the standardisation on the training split and apply that one to every split: "
            "s = Standardizer().fit(X_train_raw); X_train, X_val = s.transform(X_train_raw), "
            "s.transform(X_val_raw).")]


def standardise_inputs(setup, finding):
    X, y, X_val, y_val, batch_size, shuffle = _setup_arrays(setup)
    changes = {"train_data": (_standardize(X, X), y), "batch_size": batch_size, "shuffle": shuffle}
    if X_val is not None:
        changes["val_data"] = (_standardize(X_val, X), y_val)
    return _fresh_copy(setup, **changes)


# -- data.constant_feature --------------------------------------------------------------------------
def constant_features(ctx) -> list:
    """Features with (near) zero variance in the training inputs (or the raw data, if given)."""
    relative = ctx.thresholds[CONSTANT]
    findings = []
    sources = [("X_train", ctx.X_train)]
    raw = ctx.preprocessing.get("raw_train") if ctx.preprocessing else None
    if raw is not None:
        sources.append(("preprocessing['raw_train']", raw))
    for name, X in sources:
        X = np.asarray(X)
        if X.dtype.kind not in "iuf" or X.ndim < 2 or len(X) < 2:
            continue
        mean, std = feature_stats(X)
        constant = np.nonzero(constant_mask(mean, std, relative))[0]
        if constant.size == 0:
            continue
        word = _feature_word(X)
        values = mean[constant]
        exact_zero = bool(np.all(std[constant] == 0) and np.all(values == 0))
        message = (f"{constant.size} of {len(mean)} {word}s of {name} are constant "
                   f"({word}s {_columns_text(constant)}; values {np.round(values[:5], 4).tolist()}). "
                   f"They carry no information, and standardising them divides by a std of ~0 "
                   f"(NaN or huge values) unless guarded.")
        # all-zero columns (e.g. always-black border pixels) are harmless once fed as they are
        severity = "info" if exact_zero and name == "X_train" else None
        if exact_zero and name == "X_train":
            message += " Being exactly 0, they do not hurt training as fed; dropping them saves weights."
        # in a handful of rows, a rarely-varying column is constant by chance: nothing to fix
        rows = feature_matrix(X).shape[0]
        few_rows = rows < ctx.thresholds[CONSTANT_MIN_ROWS]
        if few_rows:
            severity = "info"
            message += (f" With only {rows} values per {word}, a {word} that varies in a few "
                        f"percent of samples is often constant by chance: this may not hold "
                        f"for more data, so check before dropping.")
        findings.append(Finding(
            "data.constant_feature", message, severity=severity,
            evidence={"array": name, "constant_features": constant[:50].tolist(),
                      "count": int(constant.size), "features": int(len(mean)),
                      "values": values[:50].tolist(), "stds": std[constant][:50].tolist(),
                      "max_relative_std": float(np.max(std[constant] / np.maximum(1.0, np.abs(values)))),
                      "rows": int(rows)},
            thresholds=_threshold_records(ctx, CONSTANT,
                                          CONSTANT_MIN_ROWS),
            fix=(f"Drop {word}s {_columns_text(constant)} (X = np.delete(X, cols, axis=1) for "
                 f"train and validation alike) and shrink the first layer to match; or "
                 f"standardise with a guard against std 0 (minnet.data.Standardizer does this).")))
    return findings


def _first_linear(model):
    """The first leaf module with parameters, if it is a Linear (its name and the module)."""
    from ...nn import Linear
    for name, module in model.named_modules():
        if next(iter(module.children()), None) is None and list(module.parameters(recurse=False)):
            return (name, module) if isinstance(module, Linear) else (None, None)
    return None, None


def drop_constant_features(setup, finding):
    X, y, X_val, y_val, batch_size, shuffle = _setup_arrays(setup)
    if X.ndim != 2:
        raise ValueError("drop_constant_features: only (N, F) inputs can lose columns")
    mean, std = feature_stats(X)
    keep = ~constant_mask(mean, std, CONSTANT.value)
    repaired = _fresh_copy(setup)
    _, layer = _first_linear(repaired.model)
    if layer is None or layer.in_features != X.shape[1]:
        raise ValueError("drop_constant_features: the model's first layer is not a Linear taking "
                         "the features, so dropping columns would break its input shape")
    from ...nn import Parameter
    layer.weight = Parameter(np.ascontiguousarray(layer.weight._data[:, keep]))
    layer.in_features = int(keep.sum())
    optimizer = (optimizer_factory(setup.optimizer, setup.model)(repaired.model)
                 if setup.optimizer is not None else None)
    changes = {"train_data": (X[:, keep], y), "batch_size": batch_size, "shuffle": shuffle,
               "optimizer": optimizer}
    if X_val is not None:
        changes["val_data"] = (X_val[:, keep], y_val)
    return repaired.replace(**changes)


# -- data.target_scale ------------------------------------------------------------------------------
def target_scale(ctx) -> list:
    """Regression targets: per-output std and mean against unit scale."""
    y = np.asarray(ctx.y_train)
    if ctx.task != REGRESSION or y.dtype.kind not in "iuf" or y.size < 2:
        return []
    if class_labels(y) is not None and (y.dtype.kind == "f" or _is_binary_loss(ctx.loss_fn)):
        return []  # 0/1 targets of a binary loss are labels, not a scale
    mean, std = feature_stats(y.reshape(len(y), -1))
    std_max, std_min, ratio = (ctx.thresholds[TARGET_STD_MAX], ctx.thresholds[TARGET_STD_MIN],
                               ctx.thresholds[TARGET_MEAN])
    initial = _initial_output_mean(ctx, len(mean))
    with np.errstate(all="ignore"):
        too_wide, too_narrow = std > std_max, std < std_min
        off_mean = (np.abs(mean) > ratio * std) & (np.abs(mean) > 1.0)
        if initial is not None:  # an output bias already set at the target mean handles the offset
            off_mean &= np.abs(mean - initial) > ratio * std
    bad = np.nonzero(too_wide | too_narrow | off_mean)[0]
    if bad.size == 0:
        return []
    j = int(bad[0])
    problems = []
    if too_wide[j]:
        problems.append(f"std {std[j]:.4g} > {std_max:g}")
    if too_narrow[j]:
        problems.append(f"std {std[j]:.4g} < {std_min:g}")
    if off_mean[j]:
        problems.append(f"mean {mean[j]:.4g} is {abs(mean[j]) / max(std[j], 1e-300):.3g} std from 0")
    output = f" (output column {j})" if len(mean) > 1 else ""
    return [Finding(
        "data.target_scale",
        f"The regression targets{output} are far from unit scale: {', '.join(problems)}. "
        f"A freshly initialised net outputs values near 0 with std ~1, so the first steps "
        f"are spent (and the loss is dominated by) moving the output scale and offset.",
        evidence={"target_mean": mean.tolist(), "target_std": std.tolist(),
                  "initial_output_mean": None if initial is None else initial.tolist(),
                  "mean_over_std": (np.abs(mean) / np.maximum(std, 1e-300)).tolist(),
                  "offending_outputs": bad.tolist()},
        thresholds=_threshold_records(ctx, TARGET_STD_MAX, TARGET_STD_MIN, TARGET_MEAN),
        fix=(f"Standardise the targets with training statistics: y_mean, y_std = "
             f"{mean[j]:.4g}, {std[j]:.4g}; train on (y - y_mean) / y_std and predict with "
             f"output * y_std + y_mean."))]


def _initial_output_mean(ctx, outputs: int):
    """Mean of the untrained model's outputs on a few training samples, per output; or None."""
    if ctx._initial_model is None:
        return None
    try:
        X_few, _ = ctx.sample(64)
        output = ctx.forward(ctx.fresh_model(), X_few)
    except Exception:  # noqa: BLE001 - a model that cannot run is another check's finding
        return None
    output = output.reshape(len(output), -1)
    if output.shape[1] != outputs or not np.all(np.isfinite(output)):
        return None
    return output.astype(np.float64).mean(axis=0)


def standardise_targets(setup, finding):
    X, y, X_val, y_val, batch_size, shuffle = _setup_arrays(setup)
    y2 = np.asarray(y).reshape(len(y), -1)
    changes = {"train_data": (X, _standardize(y2, y2).reshape(np.shape(y))),
               "batch_size": batch_size, "shuffle": shuffle}
    if X_val is not None:
        changes["val_data"] = (X_val, _standardize(np.asarray(y_val).reshape(len(y_val), -1),
                                                   y2).reshape(np.shape(y_val)))
    return _fresh_copy(setup, **changes)


# -- data.not_shuffled ------------------------------------------------------------------------------
def batches_in_order(n: int, batch_size: int) -> list:
    """Index ranges of the full batches an unshuffled loop visits (as the shared loop does)."""
    batch_size = max(1, min(int(batch_size), n))
    return [np.arange(start, start + batch_size) for start in range(0, n - batch_size + 1, batch_size)]


def single_class_fraction(labels: np.ndarray, batch_size: int) -> float:
    """Fraction of in-order batches whose labels are all the same class."""
    batches = batches_in_order(len(labels), batch_size)
    single = [np.all(labels[b] == labels[b][0]) for b in batches]
    return float(np.mean(single)) if single else 0.0


def expected_single_class_fraction(labels: np.ndarray, batch_size: int) -> float:
    """The same fraction for shuffled batches: sum over classes of p_c ** batch_size."""
    p = np.bincount(labels - labels.min()) / len(labels)
    return float(np.sum(p ** min(batch_size, len(labels))))


def batch_label_distance(labels: np.ndarray, batch_size: int, order=None) -> float:
    """Mean total-variation distance between each batch's class mix and the whole set's."""
    labels = labels if order is None else labels[order]
    classes = labels.max() + 1
    overall = np.bincount(labels, minlength=classes) / len(labels)
    distances = [0.5 * np.abs(np.bincount(labels[b], minlength=classes) / len(b) - overall).sum()
                 for b in batches_in_order(len(labels), batch_size)]
    return float(np.mean(distances)) if distances else 0.0


def not_shuffled(ctx) -> list:
    """Without shuffling, do the batches the optimizer sees hold one class (or a sorted slice)?"""
    if ctx.shuffle or ctx.y_train is None or len(ctx.y_train) < 2:
        return []
    n, batch = len(ctx.y_train), min(int(ctx.batch_size), len(ctx.y_train))
    if batch >= n:
        return []  # one full batch: the order cannot matter
    labels = class_labels(ctx.y_train) if ctx.task == CLASSIFICATION or _is_binary_loss(ctx.loss_fn) else None
    if labels is not None:
        limit = ctx.thresholds[SINGLE_CLASS_BATCHES]
        measured = single_class_fraction(labels, batch)
        expected = expected_single_class_fraction(labels, batch)
        distance = batch_label_distance(labels, batch)
        shuffled_distance = batch_label_distance(
            labels, batch, np.random.default_rng(ctx.seed).permutation(n))
        # imbalanced data can make single-class batches common even when shuffled
        single = measured > limit and measured > 2 * expected
        skewed = (distance > ctx.thresholds[BATCH_DISTANCE]
                  and distance > 2 * shuffled_distance)
        if not (single or skewed):
            return []
        runs = int(np.count_nonzero(np.diff(labels)) + 1)
        return [Finding(
            "data.not_shuffled",
            f"Training is not shuffled and the labels are grouped: {measured:.0%} of the "
            f"{len(batches_in_order(n, batch))} batches of {batch} hold a single class (shuffled, "
            f"{expected:.1%} would), and a batch's class mix is {distance:.2f} (total variation) "
            f"away from the whole set's (shuffled: {shuffled_distance:.2f}). The labels come in "
            f"{runs} runs. Each step fits the current classes and the next undoes it: the loss "
            f"swings and the model ends biased to the last classes seen.",
            evidence={"single_class_batch_fraction": measured,
                      "expected_if_shuffled": expected, "batch_label_distance": distance,
                      "batch_label_distance_if_shuffled": shuffled_distance, "label_runs": runs,
                      "batch_size": batch, "n_samples": n},
            thresholds=_threshold_records(ctx, SINGLE_CLASS_BATCHES,
                                          BATCH_DISTANCE),
            fix="Shuffle every epoch: DataLoader(dataset, batch_size, shuffle=True, seed=0) (or "
                "diagnose(..., shuffle=True)); a single permutation of X and y together also helps.")]
    y = np.asarray(ctx.y_train, dtype=np.float64).reshape(n, -1)
    if batch < 2 or not np.all(np.isfinite(y)) or y.var(axis=0).sum() == 0:
        return []   # a batch of one sample has no spread to compare, sorted or not
    total = y.var(axis=0).sum()
    within = np.mean([y[b].var(axis=0).sum() for b in batches_in_order(n, batch)])
    # a shuffled batch of b samples keeps (b - 1) / b of the variance on average: compare with that
    ratio = float(within / (total * (batch - 1) / batch))
    if ratio >= ctx.thresholds[BATCH_VARIANCE]:
        return []
    return [Finding(
        "data.not_shuffled",
        f"Training is not shuffled and the targets are ordered: a batch's target variance is "
        f"{ratio:.1%} of the whole set's (a shuffled batch keeps ~100%). Every step sees a "
        f"narrow slice of the targets, so the model chases one slice after another.",
        evidence={"batch_target_variance_ratio": ratio, "batch_size": batch, "n_samples": n},
        thresholds=_threshold_records(ctx, BATCH_VARIANCE),
        fix="Shuffle every epoch: DataLoader(dataset, batch_size, shuffle=True, seed=0).")]


def _log_choose(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def chance_all_on_one_side(class_count: int, n: int, n_side: int) -> float:
    """Chance that a random split of ``n`` samples, ``n_side`` of them drawn for one side,
    draws none of a class's ``class_count`` samples (hypergeometric P(X = 0))."""
    if class_count > n - n_side:
        return 0.0
    return math.exp(_log_choose(n - class_count, n_side) - _log_choose(n, n_side))


def split_not_shuffled(ctx) -> list:
    """Do the training and validation labels hold different classes, as a split cut from
    data sorted by class does (Keras' validation_split takes the last samples, unshuffled)?

    For each class absent from one side, the chance that a random split of the pooled
    labels puts none of that class there (hypergeometric), times the number of classes
    (so many classes do not make a chance miss likely); below SPLIT_CHANCE the split was
    not random.
    """
    if ctx.y_val is None or not (ctx.task == CLASSIFICATION or _is_binary_loss(ctx.loss_fn)):
        return []
    train, val = class_labels(ctx.y_train), class_labels(ctx.y_val)
    if train is None or val is None or not len(val) or not len(train) \
            or train.min() < 0 or val.min() < 0:
        return []
    classes = int(max(train.max(), val.max())) + 1
    train_counts = np.bincount(train, minlength=classes)
    val_counts = np.bincount(val, minlength=classes)
    total, n = train_counts + val_counts, len(train) + len(val)
    present = int(np.count_nonzero(total))
    limit = ctx.thresholds[SPLIT_CHANCE]
    chances = {}
    for c in np.flatnonzero(total):
        side = len(val) if val_counts[c] == 0 else len(train) if train_counts[c] == 0 else None
        if side is not None:
            chances[int(c)] = present * chance_all_on_one_side(int(total[c]), n, side)
    flagged = {c: p for c, p in chances.items() if p < limit}
    if not flagged:
        return []
    absent_from_val = [c for c in flagged if val_counts[c] == 0]
    absent_from_train = [c for c in flagged if train_counts[c] == 0]
    val_present = np.flatnonzero(val_counts)
    one_class = val_present.size == 1 and np.count_nonzero(train_counts) > 1
    parts = []
    if absent_from_val:
        parts.append(f"class(es) {', '.join(map(str, absent_from_val))} never appear in the "
                     f"{len(val)} validation samples although training holds "
                     f"{', '.join(str(int(train_counts[c])) for c in absent_from_val)} of them")
    if absent_from_train:
        parts.append(f"class(es) {', '.join(map(str, absent_from_train))} appear in validation "
                     f"({', '.join(str(int(val_counts[c])) for c in absent_from_train)} samples) "
                     f"but never in training")
    consequence = (f"The validation set holds only class {val_present[0]}: its accuracy "
                   f"measures that one class and says nothing about the model."
                   if one_class else
                   "Validation scores measure a different class mix than the model trains on.")
    worst = min(flagged.values())
    return [Finding(
        "data.not_shuffled",
        f"The training / validation split was not random: {'; '.join(parts)}. A random split "
        f"does that with a chance of {worst:.1e}; cutting a split from data sorted by class "
        f"does it every time (e.g. the last 10% of unshuffled arrays). {consequence}",
        severity="error" if one_class else "warning",
        evidence={"train_class_counts": train_counts.tolist(),
                  "val_class_counts": val_counts.tolist(),
                  "classes_absent_from_val": absent_from_val,
                  "classes_absent_from_train": absent_from_train,
                  "chance_if_random_split": worst, "val_single_class": bool(one_class)},
        thresholds=_threshold_records(ctx, SPLIT_CHANCE),
        fix="Shuffle X and y together (one permutation) before splitting, e.g. "
            "minnet.data.train_test_split(X, y, test_size=0.2, seed=0), instead of taking the "
            "last rows of ordered arrays as validation.")]


def shuffle_every_epoch(setup, finding):
    X, y, X_val, y_val, batch_size, _ = _setup_arrays(setup)
    if "train_class_counts" in finding.evidence and X_val is not None:
        # the split itself was cut from ordered data: pool, permute once, split at the same size
        X_all, y_all = np.concatenate([X, X_val]), np.concatenate([y, y_val])
        order = np.random.default_rng(setup.seed).permutation(len(y_all))
        X_all, y_all = X_all[order], y_all[order]
        cut = len(y)
        return _fresh_copy(setup, train_data=(X_all[:cut], y_all[:cut]),
                           val_data=(X_all[cut:], y_all[cut:]), batch_size=batch_size,
                           shuffle=True)
    return _fresh_copy(setup, train_data=(X, y), batch_size=batch_size, shuffle=True)


# -- data.class_imbalance ---------------------------------------------------------------------------
def class_weights(loss_fn, classes: int):
    """The per-class weights of a weighted class loss (CrossEntropyLoss(weight=...)), as an
    array of ``classes`` floats, or None when the loss has none (or of another length)."""
    weight = getattr(loss_fn, "weight", None)
    if weight is None or not _is_class_loss(loss_fn):
        return None
    values = np.asarray(getattr(weight, "_data", weight), dtype=np.float64).reshape(-1)
    return values if values.size == classes and np.all(np.isfinite(values)) else None


def class_imbalance(ctx) -> list:
    """Ratio of the largest to the smallest class among the training labels.

    When the loss already weights the classes (CrossEntropyLoss(weight=...)) so that their
    weighted shares are within the threshold, the imbalance is handled: info, not advice
    to do what the program already does."""
    if not (ctx.task == CLASSIFICATION or _is_binary_loss(ctx.loss_fn)):
        return []
    labels = class_labels(ctx.y_train)
    if labels is None or labels.min() < 0:
        return []
    counts = np.bincount(labels)
    present = np.nonzero(counts)[0]
    if present.size < 2:
        return []
    majority, minority = present[np.argmax(counts[present])], present[np.argmin(counts[present])]
    ratio = counts[majority] / counts[minority]
    if ratio <= ctx.thresholds[IMBALANCE]:
        return []
    share = counts[majority] / len(labels)
    evidence = {"class_counts": counts.tolist(), "majority_class": int(majority),
                "minority_class": int(minority), "ratio": float(ratio),
                "majority_share": float(share)}
    message = (f"Class {majority} has {counts[majority]} training samples and class {minority} "
               f"only {counts[minority]}: a ratio of {ratio:.1f}. Always predicting class "
               f"{majority} is already {share:.1%} accurate, so accuracy hides a model that "
               f"ignores the rare class.")
    fix = ("Weight the loss by inverse class frequency (cross_entropy(weight=...), e.g. "
           "weight = N / (C * counts)), or resample so each batch sees the rare classes; "
           "report per-class recall, not accuracy.")
    severity = None
    weights = class_weights(ctx.loss_fn, len(counts))
    if weights is not None:
        weighted = counts[present] * weights[present]
        weighted_ratio = float(weighted.max() / weighted.min()) if weighted.min() > 0 else np.inf
        evidence["weighted_ratio"] = weighted_ratio
        if weighted_ratio <= ctx.thresholds[IMBALANCE]:
            severity = "info"
            message += (f" The loss already weights the classes: weighted by it, the largest to "
                        f"smallest class ratio is {weighted_ratio:.2g}, so each class pulls on "
                        f"the gradient comparably.")
            fix = "Keep the class weights; report per-class recall (or balanced accuracy), not accuracy."
    return [Finding("data.class_imbalance", message, severity=severity, evidence=evidence,
                    thresholds=_threshold_records(ctx, IMBALANCE), fix=fix)]


# -- data.labels_invalid ----------------------------------------------------------------------------
def _is_one_hot(y: np.ndarray) -> bool:
    return (y.ndim == 2 and y.shape[1] > 1 and bool(np.all((y == 0) | (y == 1)))
            and bool(np.all(y.sum(axis=1) == 1)))


def _label_problems(y: np.ndarray, loss_fn, name: str) -> list:
    """``(what, evidence, fix)`` for each way ``y`` cannot be targets of ``loss_fn``."""
    y = np.asarray(y)
    problems = []
    loss = _loss_name(loss_fn)
    if _is_binary_loss(loss_fn):
        if y.dtype.kind in "iuf" and y.size and np.all(np.isfinite(y)) and (y.min() < 0 or y.max() > 1):
            outside = int(np.count_nonzero((y < 0) | (y > 1)))
            values = np.unique(y)
            # whole numbers 0..K-1 with K > 2: class indices of a K-class problem fed to a
            # binary loss (one sigmoid unit for ten digits), not binary labels mis-coded
            classes = (values.size > 2 and values.size <= 1000 and y.min() >= 0
                       and bool(np.all(values == np.round(values))))
            what = (f"{name} has {outside} value(s) outside [0, 1] (min {y.min():g}, max "
                    f"{y.max():g}) for the binary loss {loss}")
            evidence = {"outside_count": outside, "min": float(y.min()), "max": float(y.max()),
                        "distinct_values": int(values.size)}
            if classes:
                what += (f": {values.size} distinct whole numbers, the class indices of a "
                         f"{values.size}-class problem")
                fix = (f"A {values.size}-class problem needs {values.size} outputs: end the model "
                       f"with nn.Linear(..., {values.size}) (logits, no sigmoid) and train with "
                       f"nn.CrossEntropyLoss() on the integer labels.")
            else:
                fix = "Binary targets must be 0/1 (or probabilities); map the labels to {0, 1}."
            problems.append((what, evidence, fix))
        return problems
    if not _is_class_loss(loss_fn):
        return problems
    if y.ndim == 2 and _is_one_hot(y) and (y.dtype.kind in "iub" or "nll" in loss.lower()):
        problems.append((f"{name} is one-hot encoded, shape {y.shape}, but {loss} expects class "
                         f"indices of shape ({len(y)},)",
                         {"target_shape": list(y.shape), "target_dtype": str(y.dtype)},
                         "Pass class indices: y = y.argmax(axis=1)."))
        return problems
    if y.ndim == 1 and y.dtype.kind == "f":
        integral = bool(np.all(np.isfinite(y)) and np.all(y == np.round(y)))
        problems.append((f"{name} holds floats ({y.dtype}) but {loss} expects integer class "
                         f"indices" + ("" if integral else " (and some are not even whole numbers)"),
                         {"target_dtype": str(y.dtype), "whole_numbers": integral},
                         "Convert the labels: y = y.astype(np.int64)" if integral else
                         "Class losses need integer class indices; for a continuous target use MSELoss."))
        return problems
    if y.dtype.kind in "iu" and y.ndim >= 1 and y.size:
        ignore = _ignore_index(loss_fn)
        counted = y[y != ignore] if ignore is not None else y
        negative = int(np.count_nonzero(counted < 0))
        if negative:
            problems.append((f"{name} has {negative} negative class index(es) (min {counted.min()})",
                             {"negative_count": negative, "min_label": int(counted.min())},
                             "Class indices must be in [0, C): map the labels to 0..C-1."))
    return problems


def labels_invalid(ctx) -> list:
    """Targets a class (or binary) loss cannot take: floats, one-hot, negative, outside [0, 1]."""
    findings = []
    for name, y in (("y_train", ctx.y_train), ("y_val", ctx.y_val)):
        if y is None:
            continue
        for what, evidence, fix in _label_problems(np.asarray(y), ctx.loss_fn, name):
            findings.append(Finding(
                "data.labels_invalid", what + ". Training either fails or learns the wrong thing.",
                evidence=dict(evidence, array=name), fix=fix))
    return findings


def labels_beyond_output(ctx) -> list:
    """Class indices against the width of the model's output (one forward on a fresh copy)."""
    if not _is_class_loss(ctx.loss_fn):
        return []
    y_all = [np.asarray(y) for y in (ctx.y_train, ctx.y_val) if y is not None]
    if not all(y.dtype.kind in "iu" and y.ndim == 1 for y in y_all):
        return []
    X_few, _ = ctx.sample(4)
    try:
        output = ctx.forward(ctx.fresh_model(), X_few)
    except Exception:  # noqa: BLE001 - a model that cannot run is another check's finding
        return []
    if output.ndim < 2:
        return []
    width = output.shape[1]
    findings = []
    for name, y in (("y_train", ctx.y_train), ("y_val", ctx.y_val)):
        if y is None:
            continue
        y = np.asarray(y)
        beyond = int(np.count_nonzero(y >= width))
        if not beyond:
            continue
        one_based = bool(y.min() == 1 and y.max() == width)
        findings.append(Finding(
            "data.labels_invalid",
            f"{name} holds class indices up to {y.max()} but the model outputs {width} scores "
            f"(classes 0..{width - 1}): {beyond} label(s) point past the last output."
            + (" The labels run 1..C: they look 1-based." if one_based else ""),
            evidence={"array": name, "output_width": int(width), "max_label": int(y.max()),
                      "min_label": int(y.min()), "labels_beyond_output": beyond,
                      "looks_one_based": one_based},
            fix=("Make the labels 0-based: y = y - 1." if one_based else
                 f"Make the last layer {int(y.max()) + 1} wide, or map the labels to 0..{width - 1}.")))
    return findings


def class_indices_to_a_regression_loss(ctx) -> list:
    """Integer class indices (N,) given to a loss that compares values (MSE, L1) against an
    output with one score per class (N, C): the index-vs-one-hot mismatch."""
    from ...debug.predict import loss_kind
    if loss_kind(ctx.loss_fn) not in ("mse", "l1"):
        return []
    y = np.asarray(ctx.y_train)
    if y.dtype.kind not in "iu" or y.ndim != 1:
        return []
    X_few, _ = ctx.sample(4)
    try:
        output = ctx.forward(ctx.fresh_model(), X_few)
    except Exception:  # noqa: BLE001 - a model that cannot run is another check's finding
        return []
    if output.ndim != 2 or output.shape[1] < 2:
        return []
    classes = int(output.shape[1])
    return [Finding(
        "data.labels_invalid",
        f"y_train holds integer class indices of shape {y.shape} (values {int(y.min())}.."
        f"{int(y.max())}), but the loss compares values and the model outputs {classes} scores "
        f"per sample: shape {y.shape} against (N, {classes}) either fails or broadcasts into "
        f"a meaningless comparison. Class indices belong to a class loss; a value loss needs "
        f"one-hot targets of the output's shape.",
        evidence={"array": "y_train", "target_shape": list(y.shape), "output_width": classes,
                  "loss": type(ctx.loss_fn).__name__},
        fix="Use nn.CrossEntropyLoss() with these class indices (the usual choice), or give "
            f"the value loss one-hot targets: minnet.data.one_hot(y, {classes}).")]


# -- data.leakage ----------------------------------------------------------------------------------
def _scaler_statistics(scaler):
    """``(mean, std)`` of a fitted Standardizer-like object (mean_ with std_ or scale_), or None."""
    mean = getattr(scaler, "mean_", None)
    std = getattr(scaler, "std_", getattr(scaler, "scale_", None))
    if mean is None or std is None:
        return None
    return np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)


def _raw_statistics(raw: np.ndarray) -> tuple:
    raw = np.asarray(raw, dtype=np.float64)
    return raw.mean(axis=0), raw.std(axis=0)


def statistics_shift(mean, std, ref_mean, ref_std) -> float:
    """Largest distance between two sets of per-feature statistics, in units of ``ref_std``.

    max over features of max(|mean - ref_mean| / ref_std, |std / ref_std - 1|); features
    constant in the reference are left out.
    """
    ref_mean, ref_std = np.asarray(ref_mean), np.asarray(ref_std)
    live = ref_std > 1e-12 * np.maximum(1.0, np.abs(ref_mean))
    if not live.any():
        return 0.0
    with np.errstate(all="ignore"):
        shift = np.abs(np.asarray(mean) - ref_mean)[live] / ref_std[live]
        spread = np.abs(np.asarray(std)[live] / ref_std[live] - 1.0)
    return float(max(np.max(shift), np.max(spread)))


def _reference_shifts(mean_, std_, raw_train, raw_val) -> dict:
    """How far the statistics used are from each split's own: {reference: shift}.

    References: "train" (the correct one), "val" (the validation split alone) and
    "train+val" (both together); the last two only when validation data is known.
    """
    shifts = {"train": statistics_shift(mean_, std_, *_raw_statistics(raw_train))}
    if raw_val is not None and len(raw_val):
        shifts["val"] = statistics_shift(mean_, std_, *_raw_statistics(raw_val))
        shifts["train+val"] = statistics_shift(
            mean_, std_, *_raw_statistics(np.concatenate([raw_train, raw_val])))
    return shifts


def _standardizer_leak(ctx):
    """Compare the fitted standardizer's statistics with the train, val and train+val ones."""
    scaler = ctx.preprocessing.get("standardizer") if ctx.preprocessing else None
    stats = _scaler_statistics(scaler) if scaler is not None else None
    if stats is None:
        return None
    mean_, std_ = stats
    raw_train = ctx.preprocessing.get("raw_train")
    raw_val = ctx.preprocessing.get("raw_val")
    if raw_train is None:  # undo the scaler on what the model sees
        raw_train = np.asarray(ctx.X_train, dtype=np.float64) * std_ + mean_
        if ctx.X_val is not None:
            raw_val = np.asarray(ctx.X_val, dtype=np.float64) * std_ + mean_
    if np.shape(raw_train)[1:] != np.shape(mean_):
        return None
    if raw_val is not None and np.shape(raw_val)[1:] != np.shape(mean_):
        raw_val = None
    return {"method": "preprocessing['standardizer']",
            "shifts": _reference_shifts(mean_, std_, np.asarray(raw_train, np.float64),
                                        None if raw_val is None else np.asarray(raw_val, np.float64))}


def _exactly_standardised(X: np.ndarray, exact: float = 1e-5) -> bool:
    """Every non-constant feature of X has mean 0 and std 1 to within float32 rounding."""
    mean, std = X.mean(axis=0), X.std(axis=0)
    live = std > 1e-6
    return bool(live.any() and np.max(np.abs(mean[live])) < exact
                and np.max(np.abs(std[live] - 1)) < exact)


def _array_leak(ctx):
    """Without a standardizer: the arrays were standardised exactly, but with whose statistics?

    If train+val together (or val alone) have mean 0 / std 1 to float32 rounding while the
    training split alone does not, the statistics were (0, 1) in these units and came from
    that other data.
    """
    if ctx.X_val is None or np.ndim(ctx.X_train) < 2 or \
            np.shape(ctx.X_train)[1:] != np.shape(ctx.X_val)[1:]:
        return None
    # per input value (a pixel of an image counts as a feature here, as a Standardizer would)
    X = np.asarray(ctx.X_train, np.float64).reshape(len(ctx.X_train), -1)
    X_val = np.asarray(ctx.X_val, np.float64).reshape(len(ctx.X_val), -1)
    if len(X_val) < 2 or \
            not (np.all(np.isfinite(X)) and np.all(np.isfinite(X_val))):
        return None
    if _exactly_standardised(X) or not (_exactly_standardised(np.concatenate([X, X_val]))
                                        or _exactly_standardised(X_val)):
        return None
    # the statistics used were (0, 1) in these units: compare them with each split's own
    features = X.shape[1]
    return {"method": "arrays standardised exactly, but not the training split",
            "shifts": _reference_shifts(np.zeros(features), np.ones(features), X, X_val)}


# how a leak is worded, after the reference the statistics match best
_LEAK_SOURCES = {
    "val": ("on the VALIDATION split alone",
            "The training inputs were scaled with the validation set's statistics: the "
            "validation set shaped what the model trains on, so validation scores are "
            "optimistic."),
    "train+val": ("on the training AND validation data together",
                  "The validation set influenced the training inputs' scaling, so validation "
                  "scores are optimistic."),
    None: ("on data other than the training split (not the validation split, nor train+val: "
           "e.g. the whole data set before splitting, including a test split, or another data "
           "set)",
           "Statistics from outside the training split leak information the model should not "
           "have (or, from another data set, mis-scale its inputs)."),
}


def leak_source(shifts: dict, limit: float):
    """The reference ("val", "train+val") the statistics match to within ``limit``, else None."""
    matches = [(shift, name) for name, shift in shifts.items()
               if name != "train" and shift <= limit]
    return min(matches)[1] if matches else None


def _statistics_leak_finding(ctx, leak: dict):
    limit = ctx.thresholds[LEAK_SHIFT]
    shifts = leak["shifts"]
    if not shifts["train"] > limit:
        return None
    source = leak_source(shifts, limit)
    where, consequence = _LEAK_SOURCES[source]
    others = ", ".join(f"{shifts[name]:.3g} from {name}'s" for name in ("val", "train+val")
                       if name in shifts)
    nearest = min((name for name in shifts if name != "train"), key=shifts.get, default=None)
    evidence = {"method": leak["method"], "shift_from_train_stats": shifts["train"],
                "shift_from_val_stats": shifts.get("val"),
                "shift_from_train_plus_val_stats": shifts.get("train+val"),
                "fitted_on": source or "unknown", "nearest_reference": nearest}
    return Finding(
        "data.leakage",
        f"The input standardisation was fitted {where}: its statistics are "
        f"{shifts['train']:.3g} training std from the training split's own"
        + (f" ({others})" if others else " (no validation data given to compare with)")
        + f". {consequence}",
        evidence=evidence, thresholds=_threshold_records(ctx, LEAK_SHIFT),
        fix="Split first, then fit on the training split only: s = Standardizer().fit("
            "X_train_raw); X_train, X_val = s.transform(X_train_raw), s.transform(X_val_raw).")


def _row_keys(X: np.ndarray) -> list:
    X = np.ascontiguousarray(np.asarray(X).reshape(len(X), -1))
    return [row.tobytes() for row in X]


def duplicate_fractions(X_train: np.ndarray, X_val: np.ndarray) -> tuple:
    """(fraction of val rows also in train, fraction of train rows repeated within train)."""
    train_keys = _row_keys(X_train)
    counts = {}
    for key in train_keys:
        counts[key] = counts.get(key, 0) + 1
    shared = sum(key in counts for key in _row_keys(X_val)) / max(1, len(X_val))
    within = sum(c for c in counts.values() if c > 1) / max(1, len(train_keys))
    return float(shared), float(within)


def leakage(ctx) -> list:
    """Preprocessing statistics fitted beyond the training split; samples shared with val."""
    findings = []
    leak = _standardizer_leak(ctx) or _array_leak(ctx)
    finding = _statistics_leak_finding(ctx, leak) if leak is not None else None
    if finding is not None:
        findings.append(finding)
    if ctx.X_val is not None and len(ctx.X_val) and np.shape(ctx.X_train)[1:] == np.shape(ctx.X_val)[1:]:
        shared, within = duplicate_fractions(ctx.X_train, ctx.X_val)
        if shared > ctx.thresholds[LEAK_DUPLICATES] and shared > 2 * within:
            count = int(round(shared * len(ctx.X_val)))
            findings.append(Finding(
                "data.leakage",
                f"{count} of {len(ctx.X_val)} validation samples ({shared:.1%}) also appear, "
                f"identical, in the training set (within the training set only {within:.1%} of "
                f"rows repeat). The model is graded on samples it trained on.",
                evidence={"val_in_train_fraction": shared, "shared_count": count,
                          "train_duplicate_fraction": within},
                thresholds=_threshold_records(ctx, LEAK_DUPLICATES),
                fix="Remove duplicates before splitting (np.unique(X, axis=0, return_index=True)), "
                    "then split; or drop the validation rows that occur in the training set."))
    return findings


def refit_on_train(setup, finding):
    X, y, X_val, y_val, batch_size, shuffle = _setup_arrays(setup)
    if X_val is None:
        raise ValueError("refit_on_train: the setup has no validation data")
    if "val_in_train_fraction" in finding.evidence:
        train_keys = set(_row_keys(X))
        keep = np.array([key not in train_keys for key in _row_keys(X_val)])
        X_val, y_val = X_val[keep], y_val[keep]
        return _fresh_copy(setup, train_data=(X, y), val_data=(X_val, y_val),
                           batch_size=batch_size, shuffle=shuffle)
    # standardising again with train statistics composes with the leaky affine map into
    # exactly the train-only standardisation of the raw data
    return _fresh_copy(setup, train_data=(_standardize(X, X), y),
                       val_data=(_standardize(X_val, X), y_val), batch_size=batch_size,
                       shuffle=shuffle, preprocessing={})


# -- data.too_few_samples and batch.too_large ----------------------------------------------------------
def parameter_count(model) -> int:
    return int(sum(p._data.size for p in model.parameters()))


def too_few_samples(ctx) -> list:
    """Samples per class (classification) or per input feature (regression), against ~10."""
    minimum = ctx.thresholds[MIN_PER_CLASS]
    n = len(ctx.X_train)
    params = parameter_count(ctx.fresh_model()) if ctx._initial_model is not None else None
    labels = class_labels(ctx.y_train) if ctx.task == CLASSIFICATION else None
    if labels is not None and labels.min() >= 0:
        counts = np.bincount(labels)
        present = counts[counts > 0]
        smallest = int(present.min())
        if smallest >= minimum:
            return []
        what = (f"the smallest class has {smallest} training sample(s) ({len(present)} classes, "
                f"{n} samples in all)")
        evidence = {"n_samples": n, "smallest_class_count": smallest,
                    "class_counts": counts.tolist()}
    else:
        features = int(np.prod(np.shape(ctx.X_train)[1:])) or 1
        per_feature = n / features
        if per_feature >= minimum:
            return []
        what = f"there are {n} training samples for {features} input feature(s) ({per_feature:.3g} per feature)"
        evidence = {"n_samples": n, "input_features": features, "samples_per_feature": per_feature}
    if params:
        evidence["parameters"] = params
        evidence["samples_per_parameter"] = n / params
        what += f", to fit {params} parameters"
    return [Finding(
        "data.too_few_samples",
        f"Few samples: {what}. The model can memorise them; expect a large gap between "
        f"training and validation scores and noisy conclusions.",
        evidence=evidence, thresholds=_threshold_records(ctx, MIN_PER_CLASS))]


def batch_too_large(ctx) -> list:
    """The batch size as a share of the training set."""
    n = len(ctx.X_train)
    batch = min(int(ctx.batch_size), n)
    share = batch / n
    if share < ctx.thresholds[BATCH_FRACTION]:
        return []
    per_epoch = n // batch
    return [Finding(
        "batch.too_large",
        f"Each batch holds {batch} of the {n} training samples ({share:.0%}): {per_epoch} "
        f"update(s) per epoch and almost no gradient noise, which tends to generalise worse and "
        f"needs more epochs for the same number of steps.",
        evidence={"batch_size": int(ctx.batch_size), "n_samples": n, "batch_fraction": share,
                  "updates_per_epoch": per_epoch},
        thresholds=_threshold_records(ctx, BATCH_FRACTION),
        fix=f"Use mini-batches, e.g. batch_size={max(1, min(32, n // 8))}.")]


def smaller_batch(setup, finding):
    X, y, X_val, y_val, _, shuffle = _setup_arrays(setup)
    return _fresh_copy(setup, train_data=(X, y), batch_size=max(1, min(32, len(X) // 8)),
                       shuffle=shuffle)


# -- data.input_independent (zero-input baseline) ---------------------------------------------------------
def _val_unlike_train(ctx) -> bool:
    cache = getattr(ctx, "cache", None)
    if cache is None:
        return bool(val_inputs_unlike_train(ctx))
    if "data.val_unlike_train" not in cache:
        cache["data.val_unlike_train"] = bool(val_inputs_unlike_train(ctx))
    return cache["data.val_unlike_train"]


def _held_out(ctx):
    """(X_fit, y_fit, X_held, y_held): the validation set if given, else a seeded 25% of train.

    A validation set on another scale than the training inputs (val_inputs_unlike_train)
    cannot tell whether the labels depend on the inputs: a seeded 25% of train is held out
    instead."""
    if ctx.X_val is not None and len(ctx.X_val) >= 2 and not _val_unlike_train(ctx):
        return ctx.X_train, ctx.y_train, ctx.X_val, ctx.y_val
    n = len(ctx.X_train)
    order = np.random.default_rng(ctx.seed + 1).permutation(n)
    cut = max(1, int(round(n * 0.75)))
    fit, held = order[:cut], order[cut:]
    return ctx.X_train[fit], ctx.y_train[fit], ctx.X_train[held], ctx.y_train[held]


def _accuracy(output: np.ndarray, y: np.ndarray):
    labels = class_labels(y)
    if labels is None or output.ndim != 2 or output.shape[0] != len(labels):
        return None
    if output.shape[1] == 1:  # one logit: binary
        return float(np.mean((output[:, 0] > 0).astype(np.int64) == labels))
    return float(np.mean(output.argmax(axis=1) == labels))


def zero_input_baseline(ctx) -> dict:
    """Train two fresh copies the same way, one on the real inputs, one on zeros; score held-out.

    Cached in ``ctx.cache["zero_input_baseline"]`` for other checks and the report.
    """
    if "zero_input_baseline" in ctx.cache:
        return ctx.cache["zero_input_baseline"]
    X_fit, y_fit, X_held, y_held = _held_out(ctx)
    steps = int(min(ctx.steps, BASELINE_STEPS))
    result = {"steps": steps, "held_out": "validation set" if ctx.X_val is not None else "25% of train",
              "n_held_out": int(len(X_held))}
    real_output = None  # (N_held, D): the real-input model's held-out output
    for name, X_in, X_eval in (("real", X_fit, X_held),
                               ("zero", np.zeros_like(X_fit), np.zeros_like(X_held))):
        if name == "zero":
            bound = _zero_input_loss_bound(ctx, real_output, X_held, y_held)
            if bound is not None and _gain(bound, result["real_held_out_loss"]) > \
                    ctx.thresholds[INPUT_GAIN]:
                # no zero-input model can get closer: the inputs help, proven without it
                result["zero_held_out_loss_at_least"] = bound
                break
        model = ctx.fresh_model()
        run = ctx.train(model, steps, X=X_in, y=y_fit)
        if run.error is not None or run.stopped_at is not None:
            result["failed"] = f"the {name}-input run stopped at step {run.stopped_at}"
            break
        output = ctx.forward(model, X_eval)
        ctx.cache[f"zero_input_baseline.{name}_output"] = (output, y_held)
        if name == "real":
            real_output = output
        result[f"{name}_held_out_loss"] = ctx.loss_value(output, y_held)
        result[f"{name}_train_loss"] = ctx.loss_value(ctx.forward(model, X_in), y_fit)
        accuracy = _accuracy(output, y_held) if ctx.task == CLASSIFICATION else None
        if accuracy is not None:
            result[f"{name}_held_out_accuracy"] = accuracy
    ctx.cache["zero_input_baseline"] = result
    return result


def _paired_standard_errors(ctx, zero_loss: float, limit: int = 512) -> tuple:
    """``(se of the loss gain, se of the accuracy gain)`` on the held-out samples (up to
    ``limit``), from the paired per-sample differences between the zero-input and the
    real-input model; 0.0 where they cannot be computed (then only min_gain applies)."""
    real = ctx.cache.get("zero_input_baseline.real_output")
    zero = ctx.cache.get("zero_input_baseline.zero_output")
    if real is None or zero is None:
        return 0.0, 0.0
    (real_out, y), (zero_out, _) = real, zero
    n = min(len(y), limit)
    if n < 4:
        return 0.0, 0.0
    try:
        with np.errstate(all="ignore"):
            diffs = np.array([ctx.loss_value(zero_out[i:i + 1], y[i:i + 1])
                              - ctx.loss_value(real_out[i:i + 1], y[i:i + 1]) for i in range(n)])
    except Exception:  # noqa: BLE001 - a loss that needs whole batches: no per-sample noise
        diffs = None
    gain_se = 0.0
    if diffs is not None and np.all(np.isfinite(diffs)):
        gain_se = float(diffs.std(ddof=1) / np.sqrt(n) / max(abs(zero_loss), 1e-12))
    accuracy_se = 0.0
    labels = class_labels(y[:n]) if ctx.task == CLASSIFICATION else None
    if labels is not None and real_out.ndim == 2 and real_out.shape[0] >= n:
        def correct(out):
            out = out[:n]
            guess = (out[:, 0] > 0).astype(np.int64) if out.shape[1] == 1 else out.argmax(axis=1)
            return (guess == labels).astype(np.float64)
        accuracy_se = float((correct(real_out) - correct(zero_out)).std(ddof=1) / np.sqrt(n))
    return gain_se, accuracy_se


def _gain(zero_loss: float, real_loss: float) -> float:
    """How much lower the real-input loss is, as a fraction of the zero-input one."""
    return (zero_loss - real_loss) / max(abs(zero_loss), 1e-12)


def _zero_input_loss_bound(ctx, real_output: np.ndarray, X_held: np.ndarray, y_held: np.ndarray):
    """A floor under the held-out loss of ANY model fed zeros, or None where none is known.

    A model given the same zero row for every sample answers the same row for every sample, so
    its loss is at least the best constant output's: the targets' variance for ``MSELoss``,
    the class frequencies' entropy for ``CrossEntropyLoss``. When the real-input model already
    beats that floor by the gain threshold, training the zero-input model cannot change the
    verdict. Checked, not assumed: the fresh model's outputs for zero rows must be identical.
    ``real_output``: (N_held, D) the real-input model's held-out output (its shape).
    """
    from ...nn.loss import CrossEntropyLoss, MSELoss

    loss_fn, y_held = ctx.loss_fn, np.asarray(y_held)
    if real_output.ndim != 2 or len(real_output) != len(y_held) or len(y_held) < 2:
        return None
    if type(loss_fn) is MSELoss and loss_fn.reduction == "mean":
        if y_held.shape == real_output.shape:
            constant = y_held.mean(axis=0)
        elif y_held.ndim == 1 and real_output.shape[1] == 1:
            constant = np.array([y_held.mean()])
        else:
            return None
    elif (type(loss_fn) is CrossEntropyLoss and loss_fn.reduction == "mean"
          and loss_fn.weight is None and not loss_fn.label_smoothing
          and y_held.ndim == 1 and np.issubdtype(y_held.dtype, np.integer)
          and y_held.min() >= 0 and y_held.max() < real_output.shape[1]):
        frequencies = np.bincount(y_held, minlength=real_output.shape[1]) / len(y_held)
        constant = np.log(np.maximum(frequencies, 1e-30))  # an absent class: a logit of -69
    else:
        return None
    zero_rows = np.zeros((2, *X_held.shape[1:]), dtype=X_held.dtype)
    zero_output = ctx.forward(ctx.fresh_model(), zero_rows)
    if not np.array_equal(zero_output[0], zero_output[1]):
        return None  # the model tells rows apart by something other than their values
    constant_output = np.broadcast_to(constant, real_output.shape).astype(real_output.dtype)
    floor = ctx.loss_value(constant_output, y_held)
    # float32 rounding of the constant: the floor lowered by a safe relative margin
    return float(floor) * (1 - 1e-4) if np.isfinite(floor) else None


def input_independent(ctx) -> list:
    """Does the model do better on held-out data with its real inputs than with zeroed inputs?"""
    if ctx.X_train is None or len(ctx.X_train) < 8:
        return []  # too few samples to hold any out
    with np.errstate(all="ignore"):
        baseline = zero_input_baseline(ctx)
    if "zero_held_out_loss_at_least" in baseline:
        return []  # the real inputs beat every model of zeros (zero_input_baseline)
    if baseline["n_held_out"] < 4 or "failed" in baseline or not all(
            np.isfinite(baseline.get(k, np.nan)) for k in ("real_held_out_loss", "zero_held_out_loss")):
        return []
    real, zero = baseline["real_held_out_loss"], baseline["zero_held_out_loss"]
    real_train, zero_train = baseline["real_train_loss"], baseline["zero_train_loss"]
    min_gain, z = ctx.thresholds[INPUT_GAIN], ctx.thresholds[INPUT_NOISE_Z]
    held_gain = _gain(zero, real)
    train_gain = _gain(zero_train, real_train)
    accuracy_gain = None
    if "real_held_out_accuracy" in baseline and "zero_held_out_accuracy" in baseline:
        accuracy_gain = baseline["real_held_out_accuracy"] - baseline["zero_held_out_accuracy"]
    gain_se, accuracy_se = _paired_standard_errors(ctx, zero)
    # The inputs help if held-out loss OR held-out accuracy beats the zero-input model by
    # more than min_gain and by more than the noise of the held-out sample.
    helps = (held_gain > max(min_gain, z * gain_se)
             or (accuracy_gain is not None and accuracy_gain > max(min_gain, z * accuracy_se)))
    # If the real-input model does not even fit its training data better than the zero-input
    # one, this is an optimisation problem (learning rate, init, scale...) that other checks
    # report, not evidence that the labels ignore the inputs.
    learned = train_gain > min_gain
    # 'Does not carry over' needs the held-out gain clearly below what was learnt: a model
    # that gained 7% on its training data scores within noise of it on 64 held-out samples
    carried = held_gain + z * gain_se >= 0.5 * train_gain
    if helps or not learned or carried:
        return []
    evidence = dict(baseline, held_out_gain=held_gain, train_gain=train_gain,
                    held_out_gain_standard_error=gain_se)
    if accuracy_gain is not None:
        evidence["held_out_accuracy_gain"] = accuracy_gain
        evidence["held_out_accuracy_standard_error"] = accuracy_se
    accuracy_text = ""
    if accuracy_gain is not None:
        accuracy_text = (f"; held-out accuracy {baseline['real_held_out_accuracy']:.1%} vs "
                         f"{baseline['zero_held_out_accuracy']:.1%}")
    message = (f"After {baseline['steps']} steps, the model trained on the real inputs does no "
               f"better on held-out data ({baseline['held_out']}) than the same model trained on "
               f"zeroed inputs: loss {real:.4g} vs {zero:.4g} (gain {held_gain:+.1%})"
               f"{accuracy_text}, although on its training data it gained {train_gain:+.1%}. "
               f"What it learns from the inputs does not carry over: the labels may not belong "
               f"to the inputs (shuffled separately, misaligned rows) or the inputs may not reach "
               f"the model.")
    severity = None
    if accuracy_gain is not None and accuracy_gain > 0:
        # held-out accuracy above the zero-input model's, only within the noise: the labels
        # may depend on the inputs weakly and the model memorise its training set instead
        # (real cases: near-copies of 96 subjects, train loss 0.03, held-out accuracy 0.59
        # vs 0.50 on 120 samples) - the data cannot tell which, so not an error
        severity = "warning"
        message += (f" The held-out accuracy is {accuracy_gain:+.1%} above the zero-input "
                    f"model's, within {accuracy_gain / accuracy_se if accuracy_se else 0:.1f} "
                    f"standard errors: it may also be weak dependence that the model overfits "
                    f"(training loss {real_train:.3g}); more held-out data would tell.")
    return [Finding("data.input_independent", message, severity=severity,
                    evidence=evidence, thresholds=_threshold_records(ctx, INPUT_GAIN))]
