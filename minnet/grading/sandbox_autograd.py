"""A stand-in for ``minnet.autograd`` in the sandbox worker: ``Function`` on NumPy alone.

Lab 02 asks for backward passes written by hand, so its worker must hold nothing that
computes a gradient (no engine, no op closures, no numerical gradient). The graph is built
in the grader (``sandbox.Sandbox.function_class``); the student's ``forward`` and
``backward`` run here with a ``Tensor`` of this module (``.numpy()``, ``.detach()``,
``.data`` as an array, shape, dtype, NumPy arithmetic) and a ``ctx``
(``save_for_backward``, ``saved_tensors``, ``needs_input_grad``). Imports NumPy only and is
loaded by path. More: docs/grading_internals.md.
"""
import numpy as np


class Tensor:
    """The values of a Tensor argument (or of ``grad_output``) inside forward/backward."""

    __array_priority__ = 1000  # array @ Tensor asks this class, which answers with arrays

    def __init__(self, data):
        self.data = np.asarray(data)

    def numpy(self):
        return self.data

    def detach(self):
        return self

    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        return self.data[index]

    def __repr__(self) -> str:
        return f"tensor({self.data!r})"


def _values(value):
    return value.data if isinstance(value, Tensor) else value


def _arithmetic(name):
    def operator(self, *others):
        return getattr(self.data, name)(*(_values(other) for other in others))

    operator.__name__ = name
    return operator


for _name in ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__",
              "__truediv__", "__rtruediv__", "__pow__", "__rpow__", "__matmul__", "__rmatmul__",
              "__neg__", "__abs__", "__lt__", "__le__", "__gt__", "__ge__"):
    setattr(Tensor, _name, _arithmetic(_name))


class FunctionCtx:
    """What forward leaves for backward (minnet.autograd.FunctionCtx's API)."""

    def __init__(self, needs_input_grad: tuple):
        self.needs_input_grad = tuple(needs_input_grad)
        self.saved_tensors: tuple = ()

    def save_for_backward(self, *tensors) -> None:
        self.saved_tensors = tensors


class Function:
    """Base class of a custom op: static ``forward(ctx, *args)`` and ``backward(ctx, grad)``."""

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError("a Function subclass must define forward(ctx, *args)")

    @staticmethod
    def backward(ctx, grad_output):
        raise NotImplementedError("a Function subclass must define backward(ctx, grad_output)")

    @classmethod
    def apply(cls, *args):
        """The forward's values (no graph here: the grader builds it)."""
        return Tensor(_array(cls.forward(FunctionCtx([False] * len(args)), *args)))


def _array(value) -> np.ndarray:
    return np.asarray(_values(value))


def forward_of(cls, needs_input_grad, args):
    """Run ``cls.forward`` on array arguments: (its context, the output as an array)."""
    ctx = FunctionCtx(needs_input_grad)
    inputs = [Tensor(arg) if isinstance(arg, np.ndarray) else arg for arg in args]
    return ctx, _array(cls.forward(ctx, *inputs))


def backward_of(cls, ctx, grad_output):
    """Run ``cls.backward``: one array (or None) per forward argument."""
    grads = cls.backward(ctx, Tensor(grad_output))
    if not isinstance(grads, tuple):
        grads = (grads,)
    return [None if grad is None else _array(grad) for grad in grads]
