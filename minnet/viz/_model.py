"""Running a model for a picture: eval mode, no graph, NumPy in and out, state restored."""
from __future__ import annotations

import numpy as np


def predict(model, X: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """``model(X)`` as a NumPy array, in eval mode and without recording a graph.

    The model's train/eval mode is restored afterwards, so drawing a picture
    never changes how the caller's model behaves next.
    """
    from ..tensor import Tensor, no_grad
    modes = [(module, module.training) for module in model.modules()]
    # the grid is ours: give it the model's dtype (float32 by default) so linear() accepts it
    first = next(iter(model.parameters()), None)
    X = np.asarray(X, dtype=first._data.dtype if first is not None else np.float32)
    model.eval()
    try:
        with no_grad():
            outputs = [_numpy(model(Tensor(X[start:start + batch_size])))
                       for start in range(0, len(X), batch_size)]
    finally:
        for module, training in modes:
            object.__setattr__(module, "training", training)
    return np.concatenate(outputs, axis=0)


def _numpy(value) -> np.ndarray:
    return np.asarray(value._data if hasattr(value, "_data") else value, dtype=np.float64)


def leaf_modules(model) -> list:
    """``[(label, module)]`` for modules without children, labelled as the Monitor does."""
    leaves = []
    for name, module in model.named_modules():
        if next(iter(module.children()), None) is None:
            leaves.append((f"{name or 'model'} ({type(module).__name__})", module))
    return leaves
