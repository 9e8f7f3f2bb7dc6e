"""Modules and losses the labs' tests hand to a student's function (planted failures).

A test that gives the student's code a model (lab 07's ``first_anomaly`` gets a run
whose softmax overflows) crosses the sandbox boundary as data: the model's classes
must exist on both sides (``wire.py`` rebuilds minnet's own classes, and these). So
the tests' hand-written modules live here, in minnet, instead of in the test files:
plain minnet code, the same in the grader and in the worker, never code of the
student's. Nothing here knows a test's inputs or expected values.
"""
from __future__ import annotations

import numpy as np

from .. import nn
from ..tensor import Tensor, is_grad_enabled


class ExpOverSum(nn.Module):
    """A softmax written from the formula, exp(x) / sum exp(x) over dim 1: it overflows for
    large inputs (the naive softmax of lab 07's run)."""

    def forward(self, x):
        e = x.exp()
        return e / e.sum(dim=1, keepdim=True)


class Root(nn.Module):
    """sqrt of non-negative features: finite forward, an infinite gradient at 0."""

    def forward(self, x):
        return x.sqrt()


class Nested(nn.Module):
    """Named submodules, one of them a Sequential (``inner.0.weight``, ``head.weight``):
    ``head(inner(x))``."""

    def __init__(self, inner, head):
        super().__init__()
        self.inner, self.head = inner, head

    def forward(self, x):
        return self.head(self.inner(x))


class CountingCalls(nn.Module):
    """``body`` that counts its forward calls in ``calls`` (did a function run the model?)
    and, in ``graph_calls``, those made with gradient recording on (did it build a graph
    it did not need, outside ``no_grad()``?)."""

    def __init__(self, body):
        super().__init__()
        self.body, self.calls, self.graph_calls = body, 0, 0

    def forward(self, x):
        self.calls += 1
        self.graph_calls += int(is_grad_enabled())
        return self.body(x)


def probability_nll(output, targets):
    """Negative log-likelihood of probabilities (N, C) at integer targets (N,)."""
    labels = targets.numpy().astype(np.int64)
    return -output[np.arange(len(labels)), labels].log().mean()


def one_hot_nll(output, targets):
    """-mean sum one_hot(targets) * log(output): lab 07's hand-written loss."""
    labels = targets.numpy() if isinstance(targets, Tensor) else np.asarray(targets)
    one_hot = Tensor(np.eye(output.shape[1], dtype=np.float32)[labels.astype(np.int64)])
    return -(one_hot * output.log()).sum(dim=1).mean()
