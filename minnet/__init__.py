"""minnet: a small neural-network lab for learning how networks train and fail.

``import minnet`` is kept light: it compiles no Numba kernel (they compile on
first use and are cached on disk) and imports no plotting library.
"""
from .tensor import (
    Tensor,
    allclose,
    enable_grad,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from .random import Generator, manual_seed
from .utils.device import (accelerator, backends, cuda, device, get_default_device,
                           set_default_device)
from . import autograd
from numpy import bool_ as bool, float16, float32, float64, int8, int16, int32, int64, uint8  # noqa: A004
float = float32  # noqa: A001  (torch.float is float32; dtypes are NumPy's)
double = float64
half = float16
long = int64
int = int32  # noqa: A001  (torch.int is int32)
short = int16
from math import e, inf, nan, pi  # noqa: E402  (torch.pi, torch.inf, ...)
from .serialization import load, save
from . import ops
from .ops import (
    abs, add, all, amax, amin, any, cat, clamp, clip, div, exp, flatten, log, log_softmax, logsumexp,
    matmul, max, maximum, mean, min, minimum, mul, neg, permute, pow, relu, remainder, reshape,
    sigmoid, softmax, sqrt, squeeze, stack, std, sub, sum, tanh, transpose, unsqueeze, var, where,
)
from .ops import (  # math, comparisons, products (ops/math.py, compare.py, linalg.py)
    acos, argmax, argmin, asin, atan, bmm, ceil, chunk, cos, cosh, cumsum, dot, einsum, eq, equal,
    expm1,
    floor, floor_divide, fmod, ge, gt, isclose, le, log1p, log2, log10, lt, mm, ne, norm, prod,
    reciprocal, repeat,
    round, rsqrt, sign, sin, sinh, sort, split, square, tan, topk, tril, triu, trunc, unique,
)
from .ops import (  # picking, rearranging, testing entries (ops/indexing.py, shape.py, compare.py)
    addmm, argsort, atan2, broadcast_to, celu, clamp_max, clamp_min, count_nonzero, diag,
    diagonal, erf, erfc, exp2, flip, fliplr, flipud, gather, ger, hstack, hypot, index_select,
    isfinite, isinf, isnan, isneginf, isposinf, lerp, logaddexp, logical_and, logical_not,
    logical_or, logical_xor, logit, masked_select, movedim, narrow, nonzero, outer, prelu, ravel,
    relu6, roll, row_stack, scatter, scatter_add, selu, swapaxes, swapdims, t, take, tile, unbind,
    vstack,
)
from .ops import (  # statistics, distances, grids (ops/reduce.py, linalg.py, creation.py)
    bernoulli, cdist, diff, median, meshgrid, nan_to_num, normal, std_mean, tensordot, trace,
    tril_indices, triu_indices, var_mean,
)
from .ops.creation import (  # making tensors (ops/creation.py)
    BoolTensor, DoubleTensor, FloatTensor, IntTensor, LongTensor, arange, as_tensor, empty, empty_like, eye, from_numpy, full, full_like, linspace,
    multinomial, ones, ones_like, rand, rand_like, randint, randn, randn_like, randperm, tensor,
    zeros, zeros_like,
)
from . import nn
from . import data
from . import optim
from . import utils
from .gradcheck import check_backward, gradcheck, numerical_gradient, numerical_gradient_array, rel_error

__version__ = "0.1.0"


inference_mode = no_grad  # (PyTorch's faster no_grad; here the same thing)


def is_tensor(obj) -> bool:  # noqa: E302
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:
    return input.numel()


def __getattr__(name):
    # the debugger, scenarios and viz load on first use (viz imports matplotlib):
    # none is needed to train a network, so ``import minnet`` stays fast.
    if name in ("debug", "scenarios", "viz", "runlog"):
        import importlib
        return importlib.import_module(f"{__name__}.{name}")
    # anomaly mode (minnet/anomaly.py) loads when first named (minnet.detect_anomaly)
    if name in ("AnomalyError", "detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled"):
        return getattr(autograd, name)
    raise AttributeError(f"module 'minnet' has no attribute {name!r}")
