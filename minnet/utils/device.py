"""The device API of PyTorch, answered honestly: minnet runs on the CPU only.

So that a tutorial's first line (``device = "cuda" if torch.cuda.is_available() else
"cpu"``, or the ``torch.accelerator`` form) runs, every device question gets PyTorch's
answer on a machine without a GPU: ``cuda.is_available()`` is False, there is no
accelerator, the default device is the CPU. ``"cpu"`` is accepted wherever a device is;
another device raises (minnet's arrays are NumPy arrays, in main memory).
"""
from __future__ import annotations

from types import SimpleNamespace

_KNOWN_TYPES = ("cpu", "cuda", "mps", "xpu", "meta", "hip", "xla", "mtia")


class device:  # noqa: N801  (PyTorch's spelling)
    """``minnet.device("cpu")``, ``device("cuda", 0)`` or ``device("cuda:0")``.

    A device object can name any of PyTorch's device types (as there), but only
    the CPU can hold tensors. Unlike PyTorch, a device also equals its string
    (``device("cpu") == "cpu"``), which older minnet code relies on.
    """

    def __init__(self, type, index=None):  # noqa: A002  (PyTorch's parameter name)
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        text = str(type)
        if ":" in text:
            text, _, number = text.partition(":")
            if not number.isdigit() or index is not None:
                raise RuntimeError(f"Invalid device string: {type!r}")
            index = int(number)
        if text not in _KNOWN_TYPES:
            raise RuntimeError(f"Expected one of {', '.join(_KNOWN_TYPES)} device type at start "
                               f"of device string: {type!r}")
        self.type = text
        self.index = None if index is None else int(index)

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{index})"

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))


CPU = device("cpu")


def check_device(value, where: str = "minnet") -> None:
    """Accept ``None``, ``"cpu"`` or ``device("cpu")``; raise a clear error for any other."""
    if value is None:
        return
    try:
        kind = device(value).type
    except (RuntimeError, TypeError):
        kind = None
    if kind != "cpu":
        raise RuntimeError(
            f"{where}: minnet runs on the CPU only (NumPy arrays); device {str(value)!r} is not "
            f"available. Hint: use 'cpu' or leave the device out; as on a PyTorch machine "
            f"without a GPU, minnet.cuda.is_available() is False.")


def is_device(value) -> bool:
    """True for a device object or a string naming a device type ("cpu", "cuda:1", ...)."""
    if isinstance(value, device):
        return True
    return isinstance(value, str) and value.split(":")[0] in _KNOWN_TYPES


def set_default_device(value) -> None:
    """``set_default_device("cpu")`` (or None) is accepted; any other device raises."""
    check_device(value, "set_default_device")


def get_default_device() -> device:
    return CPU


def _false(*args, **kwargs) -> bool:
    return False


def _zero(*args, **kwargs) -> int:
    return 0


def _ignored(*args, **kwargs) -> None:
    """Seeding CUDA without CUDA does nothing, silently, as in PyTorch."""


def _no_cuda(*args, **kwargs):
    raise RuntimeError("minnet.cuda: there is no CUDA device here: minnet runs on the CPU only. "
                       "Hint: check minnet.cuda.is_available() first, as PyTorch code does.")


cuda = SimpleNamespace(
    is_available=_false, device_count=_zero, is_initialized=_false,
    manual_seed=_ignored, manual_seed_all=_ignored, empty_cache=_ignored,
    current_device=_no_cuda, get_device_name=_no_cuda, synchronize=_no_cuda,
    set_device=_no_cuda)
cuda.__doc__ = "PyTorch's torch.cuda on a machine without a GPU: nothing is available."

accelerator = SimpleNamespace(is_available=_false, current_accelerator=lambda *a, **k: None,
                              device_count=_zero)
accelerator.__doc__ = "PyTorch's torch.accelerator: no accelerator (current_accelerator() is None)."

backends = SimpleNamespace(
    mps=SimpleNamespace(is_available=_false, is_built=_false),
    cuda=SimpleNamespace(is_built=_false),
    cudnn=SimpleNamespace(is_available=_false, deterministic=False, benchmark=False,
                          enabled=False))
backends.__doc__ = "PyTorch's torch.backends: no MPS, CUDA or cuDNN; flags may be set (no effect)."
