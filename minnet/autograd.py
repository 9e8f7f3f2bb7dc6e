"""Custom differentiable ops, written the way PyTorch's ``torch.autograd.Function`` is.

Subclass ``Function`` with two static methods and call ``apply``::

    class Cube(Function):
        @staticmethod
        def forward(ctx, x):              # x: Tensor
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx, grad_output):   # dL/d(out), shaped like out
            (x,) = ctx.saved_tensors
            return grad_output * 3 * x * x  # dL/dx, shaped like x

    y = Cube.apply(x)

``forward`` runs with graph recording off (its own ops are not recorded: the
op *is* your forward/backward pair), and ``backward`` returns one gradient
per argument of ``forward`` (None for arguments that need none). Check it
with ``minnet.gradcheck(Cube.apply, (x,))``. Only single-Tensor outputs are
supported. Inside minnet the same thing is done with ``Tensor._from_op``.
"""
from __future__ import annotations

import numpy as np

from .tensor import Tensor, no_grad, wrap_array


class FunctionCtx:
    """What ``forward`` leaves for ``backward``: saved tensors and which inputs need gradients."""

    def __init__(self, needs_input_grad: tuple):
        self.needs_input_grad = needs_input_grad
        self.saved_tensors: tuple = ()

    def save_for_backward(self, *tensors) -> None:
        self.saved_tensors = tensors


class Function:
    """Base class for a custom op: define static ``forward(ctx, *args)`` and ``backward(ctx, grad)``."""

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError("a Function subclass must define forward(ctx, *args)")

    @staticmethod
    def backward(ctx, grad_output):
        raise NotImplementedError("a Function subclass must define backward(ctx, grad_output)")

    @classmethod
    def apply(cls, *args):
        name = cls.__name__
        ctx = FunctionCtx(tuple(isinstance(a, Tensor) and a.requires_grad for a in args))
        with no_grad():
            output = cls.forward(ctx, *args)
        if not isinstance(output, Tensor):
            output = Tensor(output)
        tensor_positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]

        def backward(grad):
            with no_grad():
                grads = cls.backward(ctx, wrap_array(grad))
            if not isinstance(grads, tuple):
                grads = (grads,)
            if len(grads) != len(args):
                raise RuntimeError(
                    f"{name}.backward returned {len(grads)} gradient(s) but forward took "
                    f"{len(args)} argument(s). Hint: return one gradient per forward argument, "
                    f"None for arguments that need none (e.g. integer options).")
            arrays = []
            for position in tensor_positions:
                g = grads[position]
                if g is None:
                    arrays.append(None)
                    continue
                g = np.asarray(g.data if isinstance(g, Tensor) else g)
                expected = args[position].shape
                if g.shape != expected:
                    raise RuntimeError(
                        f"{name}.backward returned a gradient of shape {g.shape} for argument "
                        f"{position}, which has shape {expected}. Hint: each gradient has the "
                        f"shape of its input (sum over broadcast or batch axes).")
                arrays.append(g)
            return tuple(arrays)

        # what backward reads is what forward saved: its versions are checked by backward()
        saved = [t for t in ctx.saved_tensors if isinstance(t, Tensor) and t is not output]
        saves_output = any(t is output for t in ctx.saved_tensors)
        return Tensor._from_op(output.data, [args[i] for i in tensor_positions], backward, name,
                               saved=saved, saves_output=saves_output)
