"""Losses built from the ops students already know, PyTorch's formulas written out: margin
and ranking losses (embeddings, metric learning, SVM-style classifiers) and the Poisson and
Gaussian likelihoods. Autograd gives the backward; max(0, .) is ``clamp_min``, whose
gradient at exactly 0 is 1, as PyTorch's for these losses.

Shapes: one loss per sample (or per entry) before ``reduction`` ('mean' | 'sum' | 'none').
"""
from __future__ import annotations

import math

import numpy as np

from ..tensor import Tensor
from .activation import logsigmoid
from .elementwise import clamp_min, exp, log, minimum, where
from .loss import check_reduction
from .sorting import norm


def _reduced(per_sample: Tensor, reduction: str, fn_name: str) -> Tensor:
    check_reduction(reduction, fn_name)
    if reduction == "none":
        return per_sample
    return per_sample.mean() if reduction == "mean" else per_sample.sum()


def _signs(target, fn_name: str) -> np.ndarray:
    """Targets of +1 / -1 as an array (PyTorch's convention for these losses)."""
    data = np.asarray(getattr(target, "_data", target))
    if not np.isin(data, (1, -1)).all():
        raise ValueError(f"{fn_name}(): target must hold 1 or -1 only, got values "
                         f"{np.unique(data)[:6].tolist()}. Hint: map 0/1 labels with 2 * y - 1.")
    return data


def margin_ranking_loss(input1: Tensor, input2: Tensor, target, margin: float = 0.0,
                        reduction: str = "mean") -> Tensor:
    """max(0, -y * (x1 - x2) + margin): x1 should rank above x2 by ``margin`` where y = 1,
    below where y = -1. Shapes: (N,) each."""
    y = Tensor(_signs(target, "margin_ranking_loss").astype(input1.dtype))
    return _reduced(clamp_min(-y * (input1 - input2) + margin, 0), reduction,
                    "margin_ranking_loss")


def hinge_embedding_loss(input: Tensor, target, margin: float = 1.0,
                         reduction: str = "mean") -> Tensor:
    """x where y = 1 (a distance to shrink), max(0, margin - x) where y = -1 (a distance
    to push past the margin)."""
    y = _signs(target, "hinge_embedding_loss")
    pushed = where(Tensor(y == -1), clamp_min(margin - input, 0), 0.0)
    pulled = where(Tensor(y == 1), input, 0.0)
    return _reduced(pushed + pulled, reduction, "hinge_embedding_loss")


def soft_margin_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """log(1 + exp(-y * x)), the logistic loss with +-1 labels (computed without overflow)."""
    y = Tensor(_signs(target, "soft_margin_loss").astype(input.dtype))
    return _reduced(-logsigmoid(y * input), reduction, "soft_margin_loss")


def multilabel_soft_margin_loss(input: Tensor, target, weight=None,
                                reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of each of C independent labels (target 0/1, (N, C)), averaged
    over the C classes per sample: -(y log sigmoid(x) + (1 - y) log sigmoid(-x))."""
    y = target if isinstance(target, Tensor) else Tensor(np.asarray(target, input.dtype))
    per_class = -(y * logsigmoid(input) + (1 - y) * logsigmoid(-input))
    if weight is not None:
        per_class = per_class * weight
    return _reduced(per_class.mean(-1), reduction, "multilabel_soft_margin_loss")


def multi_margin_loss(input: Tensor, target, p: int = 1, margin: float = 1.0, weight=None,
                      reduction: str = "mean") -> Tensor:
    """The multi-class hinge loss (Weston-Watkins, CS231n's SVM loss): for each sample,
    sum over the wrong classes j of max(0, margin - x[y] + x[j])^p, divided by C.
    Shapes: input (N, C), target (N,) class indices."""
    if p not in (1, 2):
        raise ValueError(f"multi_margin_loss(): p must be 1 or 2, got {p}")
    labels = np.asarray(getattr(target, "_data", target)).astype(np.int64)
    scores = input if input.ndim == 2 else input.reshape(1, -1)
    rows = np.arange(scores.shape[0])
    correct = scores[rows, labels.reshape(-1)].reshape(-1, 1)          # x[y], (N, 1)
    hinge = clamp_min(margin - correct + scores, 0)
    if p == 2:
        hinge = hinge * hinge
    if weight is not None:
        hinge = hinge * weight[labels.reshape(-1)].reshape(-1, 1)
    wrong = np.ones(scores.shape, dtype=bool)
    wrong[rows, labels.reshape(-1)] = False                         # the class itself: no term
    per_sample = where(Tensor(wrong), hinge, 0.0).sum(1) / scores.shape[1]
    if input.ndim != 2:
        per_sample = per_sample.reshape(())
    return _reduced(per_sample, reduction, "multi_margin_loss")


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor,
                        margin: float = 1.0, p: float = 2, eps: float = 1e-6,
                        swap: bool = False, reduction: str = "mean") -> Tensor:
    """max(0, d(a, p) - d(a, n) + margin), d the p-norm distance (+ eps inside, as
    ``pairwise_distance``): the positive should be nearer the anchor than the negative by
    ``margin``. ``swap``: use the nearer of d(a, n) and d(p, n). Shapes: (N, D) each."""
    def distance(x1, x2):
        return norm(x1 - x2 + eps, p, -1)

    to_negative = distance(anchor, negative)
    if swap:
        to_negative = minimum(to_negative, distance(positive, negative))
    return _reduced(clamp_min(distance(anchor, positive) - to_negative + margin, 0), reduction,
                    "triplet_margin_loss")


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target, margin: float = 0.0,
                          reduction: str = "mean") -> Tensor:
    """1 - cos(x1, x2) where y = 1 (pull together), max(0, cos(x1, x2) - margin) where
    y = -1 (push apart). Shapes: (N, D) each, target (N,)."""
    y = _signs(target, "cosine_embedding_loss")
    squared_1 = (input1 * input1).sum(-1) + 1e-12   # PyTorch's epsilon: no 0/0 for zero rows
    squared_2 = (input2 * input2).sum(-1) + 1e-12
    cosine = (input1 * input2).sum(-1) / (squared_1 * squared_2) ** 0.5
    per_sample = where(Tensor(y == 1), 1 - cosine, 0.0) + \
        where(Tensor(y == -1), clamp_min(cosine - margin, 0), 0.0)
    return _reduced(per_sample, reduction, "cosine_embedding_loss")


def poisson_nll_loss(input: Tensor, target, log_input: bool = True, full: bool = False,
                     eps: float = 1e-8, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of counts ``target`` under a Poisson of rate exp(input)
    (``log_input``) or input: rate - target * log(rate), dropping the constant log(target!)
    unless ``full`` (then Stirling's approximation, for targets > 1, as PyTorch)."""
    y = target if isinstance(target, Tensor) else Tensor(np.asarray(target, input.dtype))
    loss = exp(input) - y * input if log_input else input - y * log(input + eps)
    if full:
        counts = y._data
        stirling = np.where(counts > 1, counts * np.log(np.where(counts > 1, counts, 1)) - counts
                            + 0.5 * np.log(2 * math.pi * np.where(counts > 1, counts, 1)), 0)
        loss = loss + Tensor(stirling.astype(loss.dtype))
    return _reduced(loss, reduction, "poisson_nll_loss")


def gaussian_nll_loss(input: Tensor, target, var, full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of ``target`` under a normal of mean ``input`` and variance
    ``var`` (same shape, or one fewer dim / a last dim of 1 for one variance per sample):
    0.5 * (log(var) + (input - target)^2 / var) (+ 0.5 * log(2 pi) if ``full``). The
    variance is clamped to at least ``eps`` in value only (the gradient passes, as
    PyTorch's)."""
    y = target if isinstance(target, Tensor) else Tensor(np.asarray(target, input.dtype))
    variance = var if isinstance(var, Tensor) else Tensor(np.asarray(var, input.dtype))
    if variance.ndim == input.ndim - 1 and variance.shape == input.shape[:-1]:
        variance = variance.unsqueeze(-1)
    if np.any(variance._data < 0):
        raise ValueError("gaussian_nll_loss(): var has negative entries. Hint: predict a log "
                         "variance and pass its exp, or pass softplus(raw) as var.")
    # the clamp acts on the value only: variance + (clamped - variance), the bracket a constant
    lifted = Tensor(np.maximum(variance._data, eps) - variance._data)
    variance = variance + lifted
    loss = 0.5 * (log(variance) + (input - y) ** 2 / variance)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduced(loss, reduction, "gaussian_nll_loss")

