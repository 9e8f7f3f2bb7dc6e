"""Lab 09, part 2: the learning-rate range test and the update/weight ratio, by hand.

minnet has both built in (``minnet.optim.lr_find``, the ``Monitor``'s ``update_ratio``):
here you write the small versions yourself, then compare with the library's.
"""
import copy

import numpy as np

from minnet import optim
from minnet.tensor import Tensor


def lr_schedule(start_lr, end_lr, num_steps):
    """The learning rates of a range test: ``num_steps`` values growing exponentially
    (evenly spaced on a log axis) from ``start_lr`` to ``end_lr``, both included:

        lr_i = start_lr * (end_lr / start_lr) ** (i / (num_steps - 1)),  i = 0 .. num_steps-1

    Returns a float64 array of shape (num_steps,).
    """
    # YOUR CODE HERE
    raise NotImplementedError("lr_schedule: your code here")


def lr_range_test(model, loss_fn, X, y, start_lr=1e-4, end_lr=10.0, num_steps=60,
                  diverge_factor=4.0):
    """Train a COPY of ``model`` with plain full-batch SGD while the lr grows.

    At step i: set the optimizer's lr to ``lr_schedule(...)[i]`` (``for group in
    optimizer.param_groups: group["lr"] = lr``: ``step()`` reads the lr from its parameter
    groups, as in PyTorch; an attribute ``optimizer.lr`` is not read), compute the loss on
    all of (X, y), record it, and stop right there (after recording) if the loss is not
    finite or above ``diverge_factor`` times the lowest loss recorded so far; otherwise
    backward and step. ``model`` itself must not change (train ``copy.deepcopy(model)``).

    X, y: NumPy arrays (N, D) and (N,). Returns ``(lrs, losses)``: two float64 arrays
    of the same length, one entry per step that was run (``num_steps`` or fewer).
    """
    # YOUR CODE HERE
    raise NotImplementedError("lr_range_test: your code here")


def suggest_lr(lrs, losses):
    """A learning rate to train with, read off a range test: the lr where the loss was
    lowest, divided by 10 (the usual rule of thumb: at the minimum the lr is already on
    the edge of divergence; ten times less is safely on the falling part of the curve).
    Non-finite losses are ignored. Returns a float.
    """
    # YOUR CODE HERE
    raise NotImplementedError("suggest_lr: your code here")


def update_ratio(before, after):
    """How big one optimizer step was relative to the weights it changed:

        ||after - before|| / ||before||      (Frobenius norms, over the whole array)

    ~1e-3 is the classic healthy value (CS231n); ~1e-1 means the lr is far too high,
    ~1e-5 far too low. before, after: arrays of the same shape. Returns a float.
    """
    # YOUR CODE HERE
    raise NotImplementedError("update_ratio: your code here")
