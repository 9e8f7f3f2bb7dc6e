"""Activation functions and softmax."""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor


def relu(a: Tensor) -> Tensor:
    mask = a.data > 0
    out = a.data * mask

    def backward(grad):
        # the subgradient at exactly 0 is taken as 0, as in PyTorch
        return (grad * mask,)

    return Tensor._from_op(out, (a,), backward, "relu")
