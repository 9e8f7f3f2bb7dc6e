"""Lab 03, part 1: what should the loss be, before any training?

Fill in the functions marked YOUR CODE HERE. Each one is a question a
practitioner asks before the first training step (docs/checklist.md, the
``loss.*`` codes). They work on NumPy arrays and minnet Tensors; none of them
trains anything.
"""
import numpy as np

from minnet import Tensor
from minnet.nn import functional as F


def expected_initial_cross_entropy(labels, num_classes):
    """The cross-entropy an untrained, unsure classifier should start at.

    A fresh model should predict the label prior p (the class frequencies) for
    every sample; its cross-entropy is then the entropy of the labels,
    H(p) = -sum_c p_c ln p_c (natural log). For C balanced classes that is ln C.
    A class with no samples contributes 0 (p ln p -> 0 as p -> 0).

    labels: int array (N,) of class indices in [0, num_classes).
    num_classes: C, the number of outputs of the classifier.
    Returns: a Python float.
    """
    # YOUR CODE HERE
    raise NotImplementedError("expected_initial_cross_entropy: your code here")


def expected_initial_mse(targets):
    """The mean squared error of the best input-independent prediction.

    A model that knows nothing about the inputs does best predicting the mean
    of the targets for every sample; its MSE is the (population) variance of
    the targets, var(y), averaged over the output columns when y is (N, K).
    (A net whose outputs start near 0 gets mean(y^2) = var(y) + mean(y)^2: equal
    to var(y) only when the targets are centred -- one reason to standardise them.)

    targets: float array (N,) or (N, K).
    Returns: a Python float.
    """
    # YOUR CODE HERE
    raise NotImplementedError("expected_initial_mse: your code here")


def mean_squared_error(prediction, target):
    """MSE that cannot broadcast by accident.

    prediction: Tensor (N, 1) or (N,); target: array or Tensor with N entries,
    shaped (N,) or (N, 1). The target is brought to the prediction's shape
    before subtracting, so (N, 1) - (N,) never becomes an (N, N) matrix.
    Raises ValueError (naming both shapes) when the number of entries differs.
    Returns: a scalar Tensor, the mean over the N entries (gradients flow to
    prediction).
    """
    # YOUR CODE HERE
    raise NotImplementedError("mean_squared_error: your code here")


def batch_repeat_ratio(loss_fn, output, target):
    """How the loss scales with the batch: loss(batch repeated twice) / loss(batch).

    A mean over samples gives 1.0 (the same samples twice have the same mean);
    a sum gives 2.0: its gradient, and so the effective learning rate, grows
    with the batch size. This is the debugger's test for loss.reduction_scale.

    loss_fn: loss_fn(output Tensor, target Tensor) -> scalar Tensor.
    output: array (N, ...); target: array (N, ...).
    Returns: a Python float.
    """
    # YOUR CODE HERE
    raise NotImplementedError("batch_repeat_ratio: your code here")


def balancing_weights(initial_terms):
    """Weights that bring every term of a composite loss to the same starting size.

    initial_terms: dict name -> the term's value (a positive float) at
    initialisation, e.g. {"sine": 0.5, "cosine": 480.0}.
    Returns: dict name -> weight, each weight = 1 / the term's initial value, so
    that every weighted term starts at 1.0 and none drowns the others.
    """
    # YOUR CODE HERE
    raise NotImplementedError("balancing_weights: your code here")
