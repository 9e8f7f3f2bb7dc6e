"""Differentiable operations, grouped by family.

Each op's backward sits right below its forward; see ``elementwise.add`` for
the pattern every op follows. (``conv.py`` and ``loss.py`` are imported from
their own modules.)
"""
from .activation import (celu, elu, gelu, glu, hardshrink, hardsigmoid, hardswish, hardtanh,
                         leaky_relu, log_softmax, logsigmoid, mish, prelu, relu, relu6, selu,
                         sigmoid, silu, softmax, softplus, softshrink, softsign, tanh, tanhshrink,
                         threshold)
from .elementwise import (abs, add, astype, clamp, clip, div, exp, floor_divide, fmod, log,
                          maximum, minimum, mul, neg, pow, remainder, sqrt, sub, to_type, where)
from .compare import argmax, argmin, eq, equal, ge, gt, isclose, le, lt, ne, unique
from .creation import (arange, as_tensor, empty, empty_like, eye, from_numpy, full, full_like,
                       linspace, multinomial, ones, ones_like, rand, rand_like, randint, randn,
                       randn_like, randperm, tensor, zeros, zeros_like)
from .linalg import bmm, dot, einsum, linear, matmul, mm
from .math import (acos, asin, atan, ceil, cos, cosh, expm1, floor, log1p, log2, log10,
                   reciprocal, round, rsqrt, sign, sin, sinh, square, tan, trunc)
from .reduce import all, amax, amin, any, logsumexp, max, mean, min, std, sum, var
from .shape import (cat, chunk, clone, expand, flatten, getitem, pad, permute, repeat, reshape,
                    split, squeeze, stack, transpose, tril, triu, unsqueeze, view)
from .sorting import cumsum, norm, prod, sort, topk
