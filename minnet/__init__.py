"""minnet: a small neural-network lab for learning how networks train and fail.

``import minnet`` is kept light: it compiles no Numba kernel (they compile on
first use and are cached on disk) and imports no plotting library.
"""
from .tensor import (
    Tensor,
    allclose,
    arange,
    eye,
    from_numpy,
    linspace,
    randint,
    randn_like,
    enable_grad,
    full,
    is_grad_enabled,
    no_grad,
    ones,
    ones_like,
    rand,
    randn,
    set_grad_enabled,
    tensor,
    zeros,
    zeros_like,
)
from .random import manual_seed
from . import autograd
from numpy import bool_ as bool, float32, float64, int64  # dtype names, as torch.float32
float = float32  # noqa: A001  (torch.float is float32)
double = float64
long = int64
from .serialization import load, save
from . import ops
from .ops import (
    abs, add, amax, amin, cat, clamp, clip, div, exp, flatten, log, log_softmax, logsumexp,
    matmul, max, maximum, mean, min, minimum, mul, neg, permute, pow, relu, reshape, sigmoid,
    softmax, sqrt, squeeze, stack, std, sub, sum, tanh, transpose, unsqueeze, var, where,
)
from . import nn
from . import data
from . import optim
from .gradcheck import check_backward, gradcheck, numerical_gradient, numerical_gradient_array, rel_error
from .debug.anomaly import AnomalyError, detect_anomaly, set_detect_anomaly

__version__ = "0.1.0"


def __getattr__(name):
    # minnet.scenarios and minnet.viz load on first use: viz imports matplotlib, and
    # neither is needed to train a network, so ``import minnet`` stays fast.
    if name in ("scenarios", "viz", "runlog"):
        import importlib
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'minnet' has no attribute {name!r}")
