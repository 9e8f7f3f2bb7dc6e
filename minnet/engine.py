"""The backward pass: the chain rule, node by node, over the graph the ops recorded.

Each op result holds its inputs (``_parents``) and ``_backward(grad_out) ->
(grad_input_0, ...)`` (``Tensor._from_op``). ``run_backward`` orders the nodes,
then walks them from the root: each node gets the sum of the gradients that
reached it and hands its inputs their share; leaves add theirs into ``.grad``.
micrograd's ``Value.backward()`` on arrays; PyTorch's extras (hooks, retain_grad,
version checks, freeing, observers, a copy-avoiding fast path) are helpers below.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from .tensor import Tensor, _state, wrap_array


def run_backward(root: Tensor, seed: np.ndarray, retain_graph: bool = False) -> None:
    """Send ``seed`` = d(final)/d(root), shaped like root, back to every leaf below root.

    Then run the callbacks queued during the pass (``queue_callback``: module backward hooks).
    """
    outer_node = _state.current_node  # a backward() started inside another one's hook
    try:
        _propagate(root, seed, retain_graph)
        callbacks = _state.final_callbacks
    finally:
        _state.final_callbacks = []
        _state.current_node = outer_node
    for callback in callbacks:
        callback()


def topological_order(root: Tensor) -> list:
    """The nodes below ``root`` that need gradients, each after all of its parents.

    Depth-first, with an explicit stack of (node, parents done?) instead of
    recursion, so a 10,000-op chain is fine. Walked backwards, the list visits a
    node only after every node computed from it: its gradient is complete.
    """
    order, placed, stack = [], set(), [(root, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
        elif id(node) not in placed:
            placed.add(id(node))
            stack.append((node, True))
            for parent in node._parents:
                if parent.requires_grad and id(parent) not in placed:
                    stack.append((parent, False))
    return order


def _propagate(root: Tensor, seed: np.ndarray, retain_graph: bool) -> None:
    """The loop: each node's summed gradient goes through its backward to its inputs."""
    pending = _PendingGradients(root, seed)
    for node in reversed(topological_order(root)):
        _state.current_node = node  # observers ask which node is running
        grad, private = pending.pop(node)  # private: no one else holds the array
        if grad is None:
            continue  # no gradient reached it (every consumer returned None)
        if node._hooks:
            grad, private = _run_hooks(node, grad), False  # a hook may keep the array
        if node._backward is None:  # a leaf: the gradient ends here
            _accumulate_into_grad(node, grad, private)
            continue
        if node._retains_grad:
            _accumulate_into_grad(node, grad)
        _check_saved_versions(node)
        input_grads = _local_backward(node, grad)
        for parent, parent_grad in zip(node._parents, input_grads):
            if parent_grad is not None and parent.requires_grad:
                pending.add(parent, _fit_to(node, parent, parent_grad), made_by=node)
        if not retain_graph:
            _free(node)


# --------------------------------------------------------------------------
# The steps of the loop
# --------------------------------------------------------------------------
def _local_backward(node: Tensor, grad: np.ndarray) -> tuple:
    """dL/d(each input of node) from dL/d(node): the op's closure; then the observers see it."""
    input_grads = node._backward(grad)
    for observer in _state.backward_observers:  # the debugger (anomaly mode), gradcheck
        observer(node, grad, input_grads)
    if len(input_grads) != len(node._parents):
        raise RuntimeError(
            f"the backward of op '{node.op}' returned {len(input_grads)} gradient(s) for "
            f"{len(node._parents)} input(s); it must return one (or None) per input")
    return input_grads


def _fit_to(node: Tensor, parent: Tensor, grad: np.ndarray) -> np.ndarray:
    """``grad`` checked to have ``parent``'s shape and cast to its dtype.

    The cast: float32 + float64 gives a float64 output, whose gradient each input
    receives in its own dtype, as in PyTorch.
    """
    if grad.shape != parent._data.shape:
        raise RuntimeError(
            f"internal error in the backward of op '{node.op}': it returned a gradient "
            f"of shape {grad.shape} for an input of shape {parent._data.shape}")
    return grad if grad.dtype == parent._data.dtype else grad.astype(parent._data.dtype)


def _accumulate_into_grad(tensor: Tensor, grad: np.ndarray, private: bool = False) -> None:
    """``tensor.grad += grad`` (a leaf, or a tensor that called retain_grad()).

    The first gradient is copied unless ``private`` (no one else holds the array):
    the user may change ``.grad`` in place (clip_grad_norm_, zero_grad(set_to_none=False)).
    """
    if grad.dtype != tensor._data.dtype:
        grad = grad.astype(tensor._data.dtype)
    if tensor._grad is None:
        tensor._grad = wrap_array(grad if private else np.array(grad, copy=True))
    else:
        tensor._grad._data = tensor._grad._data + grad


def _run_hooks(tensor: Tensor, grad: np.ndarray) -> np.ndarray:
    """``tensor.register_hook`` functions: each sees the gradient and may replace it."""
    for hook in list(tensor._hooks.values()):
        replaced = hook(wrap_array(grad))
        if replaced is not None:
            replaced_array = replaced._data if isinstance(replaced, Tensor) else np.asarray(replaced)
            if replaced_array.shape != grad.shape:
                raise RuntimeError(f"a gradient hook returned shape {replaced_array.shape}, "
                                   f"expected {grad.shape}")
            grad = replaced_array
    return grad


def _free(node: Tensor) -> None:
    """Drop the node's inputs and closure (and what it saved): backward() ran without retain_graph."""
    node._backward = _freed_backward
    node._parents = ()
    node._saved_versions = ()


def _freed_backward(grad_out):
    raise RuntimeError(
        "Trying to backward through the graph a second time: its intermediate "
        "results were freed by the first backward(). Hint: call "
        "backward(retain_graph=True) the first time if you really need two passes."
    )


# --------------------------------------------------------------------------
# Version counters: a tensor the op saved must not have changed in place since
# --------------------------------------------------------------------------
def _check_saved_versions(node: Tensor) -> None:
    """Raise if a tensor ``node``'s backward reads was changed in place after the op ran."""
    for saved, version in node._saved_versions:  # (None, v): the node's own output
        box = (node if saved is None else saved)._version_box
        if box is not None and box[0] != version:
            raise _modified_error(node, saved, version)


def _modified_error(node: Tensor, saved: Optional[Tensor], expected: int) -> RuntimeError:
    """PyTorch's message for a saved tensor changed in place, plus which op changed it."""
    tensor = node if saved is None else saved
    role = "output 0" if saved is None else f"input {_position(node, saved)}"
    where = f" (in {node.module})" if node.module else ""
    version, changed_by = tensor._version_box
    return RuntimeError(
        f"one of the variables needed for gradient computation has been modified by an "
        f"inplace operation: [{tensor.dtype} tensor of shape {tuple(tensor.shape)}], which is "
        f"{role} of op '{node.op}'{where}, is at version {version}; expected version "
        f"{expected} instead. It was last changed in place by {changed_by!r}. Hint: the op saved "
        f"its values for the backward pass; call backward() before changing it (e.g. before "
        f"optimizer.step()), or write `x = x + ...` (a new tensor) instead of `x += ...`.")


def _position(node: Tensor, saved: Tensor) -> int:
    for i, parent in enumerate(node._parents):
        if parent is saved:
            return i
    return 0


# --------------------------------------------------------------------------
# Fast path: hand a leaf its gradient without a copy when no one else holds it
# --------------------------------------------------------------------------
# An MLP's weight gradients are new arrays made by linear's backward; copying
# each into .grad cost 3-4% of the CPU time of a training step (784-256-128-10,
# batch 128, one BLAS thread). A CNN's small kernels gain nothing measurable.
class _PendingGradients:
    """id(node) -> (the sum of the gradients that reached it so far, private?).

    Private: no one else refers to the array -- a sum the engine made, or an
    array from a backward marked ``returns_new_arrays``.
    """

    def __init__(self, root: Tensor, seed: np.ndarray):
        self._sums = {id(root): (seed, False)}

    def add(self, node: Tensor, grad: np.ndarray, made_by: Tensor) -> None:
        """Add ``grad``, a gradient for ``node`` that ``made_by``'s backward returned."""
        key = id(node)
        previous = self._sums.get(key)
        if previous is None:
            self._sums[key] = (grad, _returns_new_arrays(made_by))
        else:
            # out of place: ops may hand one array to several inputs (add does)
            self._sums[key] = (previous[0] + grad, True)

    def pop(self, node: Tensor) -> tuple:
        """(the summed gradient or None, whether no one else holds it)."""
        return self._sums.pop(id(node), _NOTHING_PENDING)


_NOTHING_PENDING = (None, False)


def _returns_new_arrays(node: Tensor) -> bool:
    """Did node's backward promise new arrays it keeps no reference to? (``linear`` does.)

    Not while an observer watches: it may keep them.
    """
    return getattr(node._backward, "returns_new_arrays", False) \
        and not _state.backward_observers
