"""Neural-network layers, losses, initialisers and utilities (PyTorch's ``torch.nn``)."""
import importlib.util as _importlib_util

from . import functional, init
from .activation import (CELU, ELU, GELU, GLU, SELU, Hardshrink, Hardsigmoid, Hardswish,
                         Hardtanh, LeakyReLU, LogSigmoid, LogSoftmax, Mish, PReLU, ReLU, ReLU6,
                         Sigmoid, SiLU, Softmax, Softplus, Softshrink, Softsign, Tanh, Tanhshrink,
                         Threshold)
from .cells import GRUCell, LSTMCell, RNNCell
from .containers import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from .dropout import Dropout, Dropout1d, Dropout2d
from .flatten import Flatten, Identity, Unflatten
from .gru import GRU
from .attention import MultiheadAttention
from .upsampling import (PixelShuffle, PixelUnshuffle, Upsample, UpsamplingBilinear2d,
                         UpsamplingNearest2d)
from .conv_transpose import ConvTranspose2d
from .transformer import (TransformerDecoder, TransformerDecoderLayer, TransformerEncoder,
                          TransformerEncoderLayer)
from .linear import Linear
from .loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CosineEmbeddingLoss,
    CrossEntropyLoss,
    GaussianNLLLoss,
    HingeEmbeddingLoss,
    MarginRankingLoss,
    MultiLabelSoftMarginLoss,
    MultiMarginLoss,
    PoissonNLLLoss,
    SoftMarginLoss,
    TripletMarginLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from .module import Module, Parameter
from .norm import (BatchNorm1d, BatchNorm2d, GroupNorm, InstanceNorm1d, InstanceNorm2d,
                   LayerNorm)
from .recurrent import LSTM, RNN
from .sparse import Embedding


def _exists(submodule: str) -> bool:
    """True if ``minnet.nn.<submodule>`` is present (written by another part of the project)."""
    return _importlib_util.find_spec(f"{__name__}.{submodule}") is not None


if _exists("conv"):
    from .conv import Conv1d, Conv2d
if _exists("pooling"):
    from .pooling import AdaptiveAvgPool2d, AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d
if _exists("utils"):
    from . import utils
