"""Differentiable operations, grouped by family.

Each op's backward sits right below its forward; see ``elementwise.add`` for
the pattern every op follows. (``conv.py`` and ``loss.py`` are imported from
their own modules.)
"""
from .activation import elu, leaky_relu, log_softmax, relu, sigmoid, softmax, tanh
from .elementwise import (abs, add, astype, clamp, clip, div, exp, log, maximum, minimum, mul,
                          neg, pow, sqrt, sub, where)
from .linalg import linear, matmul
from .reduce import amax, amin, logsumexp, max, mean, min, std, sum, var
from .shape import (cat, clone, expand, flatten, getitem, pad, permute, reshape, squeeze, stack,
                    transpose, unsqueeze, view)
