"""Differentiable operations, grouped by family.

Each op's backward sits right below its forward; see ``elementwise.add`` for
the pattern every op follows. (``conv.py`` and ``loss.py`` are imported from
their own modules.)
"""
from .activation import (celu, elu, gelu, glu, hardshrink, hardsigmoid, hardswish, hardtanh,
                         leaky_relu, log_softmax, logsigmoid, mish, prelu, relu, relu6, selu,
                         sigmoid, silu, softmax, softplus, softshrink, softsign, tanh, tanhshrink,
                         threshold)
from .elementwise import (abs, add, astype, clamp, clamp_max, clamp_min, clip, div, exp,
                          floor_divide, fmod, lerp, log, maximum, minimum, mul, neg, pow,
                          remainder, sqrt, sub, to_type, where)
from .compare import (argmax, argmin, count_nonzero, eq, equal, ge, gt, isclose, isfinite, isinf,
                      isnan, isneginf, isposinf, le, logical_and, logical_not, logical_or,
                      logical_xor, lt, ne, unique)
from .creation import (arange, as_tensor, bernoulli, empty, empty_like, eye, from_numpy, full,
                       full_like, linspace, meshgrid, multinomial, normal, ones, ones_like, rand,
                       rand_like, randint, randn, randn_like, randperm, tensor, tril_indices,
                       triu_indices, zeros, zeros_like)
from .indexing import (gather, index_select, masked_select, nonzero, scatter, scatter_add,
                       take)
from .linalg import addmm, bmm, cdist, dot, einsum, ger, linear, matmul, mm, outer, tensordot
from .math import (acos, asin, atan, atan2, ceil, cos, cosh, erf, erfc, exp2, expm1, floor,
                   hypot, log1p, log2, log10, logaddexp, logit, nan_to_num, reciprocal, round, rsqrt, sign,
                   sin, sinh, square, tan, trunc)
from .reduce import (all, amax, amin, any, logsumexp, max, mean, median, min, std, std_mean, sum,
                     trace, var, var_mean)
from .shape import (broadcast_to, cat, chunk, clone, diag, diagonal, diff, expand, flatten, flip,
                    fliplr, flipud, getitem, hstack, movedim, narrow, pad, permute, ravel, repeat,
                    reshape, roll, row_stack, split, squeeze, stack, swapaxes, swapdims, t, tile,
                    transpose, tril, triu, unbind, unsqueeze, view, vstack)
from .sorting import argsort, cumsum, norm, prod, sort, topk
