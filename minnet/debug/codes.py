"""The failure catalogue as data: one ``Code`` per row of CHECKLIST.md.

The single place where a finding's code, default severity, checklist source and
scenario names are written; checks, scenarios, docs/checklist.md and the labs refer
to these entries by code, and a test keeps the table in step with
docs/checklist_contract.md. Severity (error / warning / info) is a default: a check
sets the one its evidence supports and policy.py may lower it (docs/debugger.md,
"The severity policy").
"""
from __future__ import annotations

import re
from dataclasses import dataclass

SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class Code:
    code: str          # stable identifier, e.g. "activation.dead_relu"
    title: str         # a few words for tables
    severity: str      # default severity
    source: str        # where practitioners describe it (CHECKLIST.md short names)
    signal: str        # what is measured, in words
    scenarios: tuple   # names of the scenarios that reproduce it
    fix: str           # the usual repair, in one or two sentences

    @property
    def family(self) -> str:
        return self.code.split(".")[0]


def _code(code, title, severity, source, signal, scenarios, fix) -> Code:
    if isinstance(scenarios, str):
        scenarios = (scenarios,)
    return Code(code, title, severity, source, signal, tuple(scenarios), fix)


_ALL = [
    # -- data and preprocessing ------------------------------------------------------
    _code("data.nonfinite", "NaN/Inf in the data", "error", "37R 37, HOLDEN 1",
          "NaN or Inf in inputs or targets", "nan_inputs",
          "Find where the NaNs come from (missing values, a division by zero in "
          "preprocessing); drop or impute those entries before training."),
    _code("data.not_normalized", "inputs not normalised", "warning", "37R 12, HOLDEN 1, 3",
          "per-feature mean/std far from 0/1; pixel data left in [0, 255]", "unnormalized_inputs",
          "Standardise each feature with statistics of the training set "
          "(minnet.data.Standardizer), or scale pixels to [0, 1]."),
    _code("data.constant_feature", "constant feature", "warning", "HOLDEN 1",
          "a feature with (near) zero variance", "constant_feature",
          "Drop the constant feature, or guard the standardisation against dividing by ~0."),
    _code("data.target_scale", "regression targets not scaled", "warning", "HOLDEN 1, RECIPE 2",
          "regression targets far from unit scale", "unscaled_targets",
          "Standardise the targets for training (and undo it for predictions)."),
    _code("data.not_shuffled", "data not shuffled", "error", "37R 7, 10",
          "labels sorted; most batches hold a single class", "sorted_labels",
          "Shuffle the training data every epoch: DataLoader(..., shuffle=True, seed=...)."),
    _code("data.class_imbalance", "classes imbalanced", "warning", "37R 8",
          "majority/minority class ratio > 10", "imbalanced_classes",
          "Weight the loss by inverse class frequency (cross_entropy(weight=...)), resample, "
          "and report per-class metrics rather than accuracy."),
    _code("data.labels_invalid", "labels invalid", "error", "37R 4, 19",
          "class indices outside [0, C), float labels to a class loss, one-hot vs index mismatch",
          "labels_out_of_range",
          "Give the class loss integer class indices in [0, C) with shape (N,), or make the "
          "output layer as wide as the number of classes."),
    _code("data.leakage", "test data leaked into training", "error", "37R 15",
          "preprocessing statistics fitted on train+test, or identical samples in train and test",
          "normalize_before_split",
          "Split first, then fit preprocessing (Standardizer) on the training split only; "
          "remove duplicates shared by the splits."),
    _code("data.input_independent", "output does not depend on the input", "error",
          "37R 2, 5, RECIPE 2",
          "a model fed zeroed (or shuffled-label) inputs does as well as with the real inputs",
          "shuffled_labels",
          "Check that inputs and labels are paired correctly (same order, same shuffling) and "
          "that the model actually receives the inputs."),
    _code("data.too_few_samples", "few samples for the model's size", "info", "37R 9",
          "fewer than ~10 samples per class per parameter budget", "tiny_dataset",
          "Collect more data, augment it, or use a smaller model with regularisation."),
    # -- loss --------------------------------------------------------------------------
    _code("loss.initial_unexpected", "initial loss unexpected", "warning",
          "37R 17, SHAO 2, RECIPE 2",
          "initial loss more than ~3x away from its expected value (ln C, or var(y))",
          "overconfident_init",
          "Initialise so the first predictions are unsure: small last-layer weights and a "
          "last-layer bias at the data's prior (e.g. zero for balanced classes)."),
    _code("loss.wrong_input", "loss given probabilities, not logits", "error", "37R 19, TWEET",
          "probabilities or log-probabilities passed to a loss that expects logits; softmax twice",
          "double_softmax",
          "Remove the final Softmax/LogSoftmax layer: cross_entropy applies log-softmax itself."),
    _code("loss.broadcast_shape", "prediction/target shapes broadcast", "error", "37R 25",
          "prediction and target shapes differ but broadcast, e.g. (N,1) vs (N,)", "broadcast_mse",
          "Make prediction and target the same shape, e.g. y.reshape(-1, 1) or pred.squeeze(1)."),
    _code("loss.reduction_scale", "loss scale depends on batch size", "warning", "37R 18, SHAO 2",
          "loss summed instead of averaged, or a hand-written loss off by a constant factor",
          "sum_reduction",
          "Average over the batch (reduction='mean') so the learning rate does not depend on "
          "the batch size."),
    _code("loss.terms_unbalanced", "loss terms unbalanced", "warning", "37R 20, SHAO 2",
          "terms of a composite loss differ by more than ~100x", "unbalanced_terms",
          "Rescale the terms (weights) so each contributes comparably, then tune the weights."),
    _code("loss.nonfinite", "loss became NaN/Inf", "error", "37R 37",
          "the loss became NaN or Inf", "log_of_zero",
          "Use numerically stable forms (log_softmax / cross_entropy on logits, "
          "binary_cross_entropy_with_logits); find the op with minnet.detect_anomaly()."),
    _code("loss.diverging", "loss diverging", "error", "37R 36, HOLDEN 6",
          "loss grows over a window, or jumps above its initial value", "lr_too_high",
          "Lower the learning rate (an LR range test, minnet.optim.lr_find, finds a good one)."),
    _code("loss.plateau", "loss on a plateau", "warning", "37R 31, 36, SHAO 4",
          "loss flat over a window while far above the achievable value", "lr_too_low",
          "Raise the learning rate, check the initialisation and the gradients' flow."),
    _code("loss.oscillating", "loss oscillating", "warning", "37R 36",
          "loss alternates up/down with large amplitude", "lr_oscillating",
          "Lower the learning rate (or add momentum damping / a schedule)."),
    # -- model, initialisation, activations ----------------------------------------------
    _code("init.symmetric", "symmetric initialisation", "error", "HOLDEN 9",
          "all weights of a layer equal (zero/constant init): units stay identical", "zero_init",
          "Initialise weights randomly (nn.init.kaiming_uniform_ / xavier_uniform_); biases "
          "may stay zero."),
    _code("init.output_bias", "output bias not at the data's prior", "warning", "RECIPE 2",
          "last-layer bias far from the target mean / log class frequencies", "unset_output_bias",
          "Set the last layer's bias to the target mean (regression) or the log class "
          "frequencies (classification) before training."),
    _code("init.bad_scale", "weight scale wrong for the layer", "warning", "37R 28, HOLDEN 9",
          "weight std more than ~3x away from the He/Glorot/LeCun value", "huge_init",
          "Use He (kaiming) init before ReLU, Glorot (xavier) before tanh/sigmoid, LeCun for "
          "SELU/linear."),
    _code("activation.dead_relu", "dead ReLU units", "warning", "SHAO 3, HOLDEN 8",
          "fraction of ReLU units zero for every sample of a batch > 0.5", "dying_relu",
          "Lower the learning rate, use He init and small positive or zero biases, or "
          "LeakyReLU."),
    _code("activation.saturated", "saturated tanh/sigmoid", "warning", "HOLDEN 7, 8",
          "fraction of tanh/sigmoid outputs in the flat tails > 0.5", "saturated_tanh",
          "Standardise the inputs and use Glorot init so pre-activations stay near 0; or "
          "use ReLU."),
    _code("activation.scale", "activations shrink or grow with depth", "warning", "37R 33, 35",
          "per-layer activation std outside [0.5, 2.0] for several layers in a row",
          "vanishing_activations",
          "Initialise for the activation (He for ReLU, Glorot for tanh) or add normalisation."),
    _code("output.wrong_activation", "output activation cannot reach the targets", "error",
          "HOLDEN 7",
          "last-layer activation whose range cannot reach the targets", "relu_output",
          "Use a linear output for regression (or one whose range covers the targets)."),
    _code("model.cannot_overfit", "cannot overfit one small batch", "error",
          "37R 24, 27, SHAO 1, RECIPE 2",
          "the model cannot drive the loss near zero on one tiny batch", "capacity_too_small",
          "Find the bug first (loss, labels, gradients); if there is none, add capacity."),
    _code("model.train_mode_at_eval", "training mode left on at evaluation", "error",
          "37R 32, TWEET",
          "dropout/batch-norm in training mode during evaluation: outputs vary", "dropout_at_eval",
          "Call model.eval() before evaluating (and model.train() before training again)."),
    # -- gradients and updates ---------------------------------------------------------------
    _code("grad.nonfinite", "NaN/Inf gradient", "error", "37R 37",
          "NaN/Inf in a gradient; the first op and layer that produced it", "exp_overflow",
          "Find the op with minnet.detect_anomaly(); use stable forms (logsumexp, clamp before "
          "exp/log), lower the learning rate."),
    _code("grad.exploding", "exploding gradients", "error", "37R 35, SHAO 4",
          "global grad norm above a limit or growing >10x across layers", "exploding_gradients",
          "Re-initialise with the right scale, add normalisation, clip gradients "
          "(nn.utils.clip_grad_norm_), lower the learning rate."),
    _code("grad.vanishing", "vanishing gradients", "warning", "37R 35, SHAO 3",
          "grad norm of the first layers < 1e-4 of the last layer's, or ~0", "vanishing_gradients",
          "Use ReLU-family activations with He init, normalisation, or residual connections."),
    _code("grad.missing", "parameter gets no gradient", "error", "37R 23",
          "a parameter that should train receives no gradient", "frozen_layer",
          "Check for detach()/no_grad in forward, requires_grad=False by mistake, or layers "
          "that are defined but never used."),
    _code("grad.accumulating", "gradients never zeroed", "error", "TWEET",
          "gradients not zeroed between steps: stale gradient at the next step", "no_zero_grad",
          "Call optimizer.zero_grad() before each loss.backward()."),
    _code("grad.incorrect", "backward disagrees with finite differences", "error",
          "37R 18, 22, 26, SHAO 3",
          "a layer's backward disagrees with finite differences (gradcheck)", "wrong_backward",
          "Fix the layer's backward; minnet.gradcheck shows the wrong entries and the likely bug."),
    _code("update.ratio", "update/parameter ratio off", "warning", "37R 33, SHAO 3",
          "per-layer update/parameter norm ratio outside [1e-4, 1e-2] (target ~1e-3)",
          ("lr_too_low", "lr_too_high"),
          "Scale the learning rate so updates are ~1e-3 of the weights (lr_find helps)."),
    _code("optim.clipping_always", "clipping active on most steps", "warning", "HOLDEN 6",
          "gradient clipping active on most steps", "clipping_hides_lr",
          "Lower the learning rate until clipping only catches rare spikes; or, if the clip is "
          "too tight (updates tiny, loss flat), raise max_norm to about the median gradient "
          "norm."),
    # -- regularisation and batch -------------------------------------------------------------
    _code("reg.too_strong", "regularisation too strong", "warning", "37R 13, 30",
          "weight decay dominates the data loss, or heavy dropout keeps training loss high",
          "too_much_weight_decay",
          "Reduce weight decay / dropout; first make the model fit, then regularise."),
    _code("batch.too_large", "batch a large share of the data", "info", "37R 11, HOLDEN 5",
          "batch size a large share of the data set", "full_batch",
          "Use smaller batches (e.g. 32-256): more updates per epoch and useful gradient noise."),
    # -- beyond the catalogue: minnet's own codes -------------------------------------------
    _code("run.crashed", "training step raised an exception", "error", "minnet",
          "the model, the loss or the training step raised during the short training run",
          "shape_mismatch",
          "Read the exception: it names the layer or function, the shapes or values it got and "
          "what it expected; fix that, then diagnose again (the run-time checks need a run)."),
]

# Codes that minnet adds to the catalogue of CHECKLIST.md (allowed there: "new ones may be added").
EXTRA_CODES = ("run.crashed",)

CODES: dict = {entry.code: entry for entry in _ALL}


def anchor(code: str) -> str:
    """The heading anchor of ``code`` in docs/checklist.md, as GitHub and mkdocs make it from
    the heading `` ### `activation.dead_relu` ``: the dot dropped, "activationdead_relu"."""
    return code.replace(".", "")


def doc_link(code: str) -> str:
    """Where a finding's code is explained: ``docs/checklist.md#activationdead_relu``."""
    return f"docs/checklist.md#{anchor(code)}"


# The checklist's short source names, for every place a source tag such as "37R 12" is shown.
SOURCE_NAMES = {
    "37R": '"37 Reasons why your Neural Network is not working" (S. Ivanov), item number',
    "SHAO": '"Checklist for debugging neural networks" (C. Shao), item number',
    "HOLDEN": '"My Neural Network isn\'t working! What should I do?" (D. Holden), item number',
    "RECIPE": '"A Recipe for Training Neural Networks" (A. Karpathy), step number',
    "TWEET": 'A. Karpathy\'s tweet on the most common neural net mistakes',
    "CS231N": "the Stanford CS231n course notes",
    "minnet": "minnet's own code (beyond the checklist)",
}


def source_legend(sources) -> list:
    """``["37R = ...", ...]`` for the short names appearing in ``sources`` (strings)."""
    text = " ".join(sources)
    return [f"{name} = {meaning}" for name, meaning in SOURCE_NAMES.items()
            if re.search(rf"\b{name}\b", text)]


def get(code: str) -> Code:
    """The catalogue entry for ``code``; a clear KeyError for an unknown one."""
    try:
        return CODES[code]
    except KeyError:
        raise KeyError(f"unknown finding code {code!r}; known codes: "
                       f"{', '.join(sorted(CODES))}") from None
