"""Custom differentiable ops (``Function``), ``grad_fn`` nodes, ``autograd.grad``.

``class Cube(Function)`` defines static ``forward(ctx, x)`` (runs without recording;
``ctx.save_for_backward(x)``) and ``backward(ctx, grad_output)`` returning dL/d(each
forward argument), each shaped like its argument; ``Cube.apply(x)`` runs it, as
PyTorch's ``torch.autograd.Function`` (example: docs/autograd.md section 8).
Single-Tensor outputs only. Inside minnet the same is done with ``Tensor._from_op``.
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
                g = np.asarray(g._data if isinstance(g, Tensor) else g)
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
        return Tensor._from_op(output._data, [args[i] for i in tensor_positions], backward, name,
                               saved=saved, saves_output=saves_output)


# --------------------------------------------------------------------------
# The graph as PyTorch shows it: tensor.grad_fn, node.next_functions
# --------------------------------------------------------------------------
class Node:
    """``tensor.grad_fn``: the op that produced a tensor, as a node you can walk.

    ``name()`` is PyTorch-style (``"MulBackward0"``; minnet's op names, so a fused
    ``linear`` is ``LinearBackward0`` where PyTorch says ``AddmmBackward0``);
    ``next_functions`` pairs each input's node with 0: a ``Node`` for an op result,
    an ``AccumulateGrad`` for a leaf that requires grad, None for a constant. It
    also equals the op's name, ``y.grad_fn == "mul"`` (minnet's older string form).
    After a ``backward()`` without ``retain_graph`` the graph is freed: no more
    ``next_functions``.
    """

    __slots__ = ("_tensor",)

    def __init__(self, tensor: Tensor):
        self._tensor = tensor

    def name(self) -> str:
        return "".join(part.capitalize() for part in self._tensor.op.split("_")) + "Backward0"

    @property
    def next_functions(self) -> tuple:
        return tuple((node_of(parent), 0) for parent in self._tensor._parents)

    def __call__(self, grad):
        """The local backward: dL/d(inputs) from dL/d(output), as Tensors (None: no gradient)."""
        grad = grad._data if isinstance(grad, Tensor) else np.asarray(grad)
        return tuple(None if g is None else wrap_array(g) for g in self._tensor._backward(grad))

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            return other in (self._tensor.op, self.name())
        return isinstance(other, Node) and other._tensor is self._tensor

    def __hash__(self) -> int:
        return hash(id(self._tensor))

    def __repr__(self) -> str:
        return f"<{self.name()} object>"


class AccumulateGrad:
    """The node of a leaf that requires grad: backward ends here, adding into ``variable.grad``."""

    __slots__ = ("variable",)
    next_functions = ()

    def __init__(self, variable: Tensor):
        self.variable = variable

    def name(self) -> str:
        return "torch::autograd::AccumulateGrad"

    def __repr__(self) -> str:
        return "<AccumulateGrad object>"


def node_of(tensor: Tensor):
    """A tensor's node in the backward graph: Node, AccumulateGrad (leaf) or None (constant)."""
    if not tensor.requires_grad:
        return None
    return AccumulateGrad(tensor) if tensor._backward is None else Node(tensor)


# --------------------------------------------------------------------------
# torch.autograd.grad: gradients returned instead of accumulated into .grad
# --------------------------------------------------------------------------
def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph: bool = False,
         allow_unused: bool = False) -> tuple:
    """d(sum of outputs)/d(each input), returned as a tuple; no ``.grad`` is touched.

    How: a hook on each input catches the gradient that reaches it during an
    ordinary backward pass, and every leaf's ``.grad`` is put back afterwards.
    ``create_graph=True`` (a graph of the gradient itself, for second derivatives)
    is not implemented: minnet's backward computes with NumPy, not with ops.
    """
    from .engine import run_backward, topological_order
    if create_graph:
        raise NotImplementedError("autograd.grad(create_graph=True): minnet's backward pass "
                                  "is not itself recorded, so there are no second derivatives")
    outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    seeds = grad_outputs if isinstance(grad_outputs, (list, tuple)) \
        else [grad_outputs] * len(outputs)
    caught = [None] * len(inputs)

    def catcher(i):
        def hook(g):
            caught[i] = g._data if caught[i] is None else caught[i] + g._data
        return hook

    handles = [t.register_hook(catcher(i)) for i, t in enumerate(inputs)]
    leaves = {id(n): n for out in outputs for n in topological_order(out) if n._backward is None}
    kept = {key: leaf._grad for key, leaf in leaves.items()}
    try:
        for k, (out, seed) in enumerate(zip(outputs, seeds)):
            if seed is None:
                seed = np.ones_like(out._data)  # (as backward(): only scalars in PyTorch)
            seed = np.asarray(seed._data if isinstance(seed, Tensor) else seed, dtype=out.dtype)
            keep = bool(retain_graph) or k < len(outputs) - 1
            run_backward(out, seed, keep)
    finally:
        for handle in handles:
            handle.remove()
        for key, leaf in leaves.items():
            leaf._grad = kept[key]
    unused = [i for i, g in enumerate(caught) if g is None]
    if unused and not allow_unused:
        raise RuntimeError(f"The differentiated Tensor at index {unused[0]} appears to not have "
                           f"been used in the graph. Set allow_unused=True if this is the "
                           f"desired behavior.")
    return tuple(None if g is None else wrap_array(np.array(g)) for g in caught)


def Variable(tensor, requires_grad: bool = False):  # noqa: N802  (PyTorch's old name)
    """PyTorch's deprecated ``autograd.Variable(t)``: a new tensor on ``t``'s memory, outside
    any graph, that records with ``requires_grad=True`` (``t`` itself is left as it was,
    as in PyTorch)."""
    tensor = tensor.detach() if isinstance(tensor, Tensor) else Tensor(tensor)
    return tensor.requires_grad_() if requires_grad else tensor


# --------------------------------------------------------------------------
# Anomaly mode, as torch.autograd names it: minnet/anomaly.py, loaded on first use
# --------------------------------------------------------------------------
_ANOMALY_NAMES = ("AnomalyError", "detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled",
                  "is_anomaly_check_nan_enabled")


def __getattr__(name):
    if name in _ANOMALY_NAMES:
        from . import anomaly  # only when asked for: `import minnet` stays lean
        return getattr(anomaly, name)
    raise AttributeError(f"module 'minnet.autograd' has no attribute {name!r}")
