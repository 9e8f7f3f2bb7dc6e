"""A trained-outcome test grades a run the grader makes, from an untrained start.

Why: a model trained offline and handed over with an optimizer that cannot move it (lr
1e-12) would "reach" any bar. ``parameters_problem``: the parameters and buffers are the
lab builder's; ``optimizer_problem``: a fresh optimizer of the lab's kind over the model's
parameters, its options the lab's but those the README frees; ``redraw_`` and
``drawn_afresh_problem``: where the student chooses the init, the grader draws the weights
itself at each tensor's scale. Each ``*_problem`` returns None or what is wrong. More:
docs/grading_internals.md.
"""
from __future__ import annotations

from typing import Iterable, Optional

import numpy as np

from ..tensor import no_grad


def parameters_problem(model, want, what: str = "the model") -> Optional[str]:
    """None when ``model``'s parameters and buffers equal ``want``'s (the lab's builder, at the
    same seed), names and shapes included."""
    got = dict(model.named_parameters())
    expected = dict(want.named_parameters())
    if list(got) != list(expected) or any(got[n].shape != expected[n].shape for n in got):
        return (f"{what} has parameters {[(n, tuple(p.shape)) for n, p in got.items()]}; the "
                f"lab's has {[(n, tuple(p.shape)) for n, p in expected.items()]}. Keep the model.")
    tensors = [(name, got[name], expected[name], "parameter") for name in got]
    buffers = dict(model.named_buffers())
    tensors += [(name, buffers.get(name), buffer, "buffer")
                for name, buffer in want.named_buffers() if buffer is not None]
    for name, mine, lab, kind in tensors:
        same = (mine is not None and mine.shape == lab.shape
                and np.allclose(mine.numpy().astype(np.float64), lab.numpy().astype(np.float64),
                                rtol=0.0, atol=1e-6))
        if not same:
            return (f"{what}'s {kind} {name!r} is not what the lab's builder gives at this "
                    "seed: return the model as built, untrained (the test trains it)")
    return None


def optimizer_problem(optimizer, want, model, free: Iterable[str] = (),
                      what: str = "the optimizer") -> Optional[str]:
    """None when ``optimizer`` is ``want``'s kind, has taken no step (no state), holds exactly
    ``model``'s parameters, and each group's options equal ``want``'s but the ``free`` ones."""
    free = set(free) | {"params"}
    if type(optimizer) is not type(want):
        return (f"{what} is {type(optimizer).__name__}; keep the lab's "
                f"{type(want).__name__} and repair its settings")
    if any(len(state) for state in optimizer.state.values()):
        return (f"{what} has already stepped (its state holds buffers): return it fresh, the "
                "test trains")
    held = [id(p) for group in optimizer.param_groups for p in group["params"]]
    if sorted(held) != sorted(id(p) for p in model.parameters()):
        return f"{what} must hold exactly the model's parameters, each once"
    if len(optimizer.param_groups) != len(want.param_groups):
        return (f"{what} has {len(optimizer.param_groups)} parameter groups, the lab's "
                f"{len(want.param_groups)}")
    for index, (group, lab_group) in enumerate(zip(optimizer.param_groups, want.param_groups)):
        for key in sorted((set(group) | set(lab_group)) - free):
            mine, lab = group.get(key), lab_group.get(key)
            if not _same_option(mine, lab):
                allowed = ", ".join(sorted(free - {"params"})) or "nothing"
                return (f"{what}'s {key}={mine!r} (group {index}); the lab's is {lab!r}. The "
                        f"repair may change {allowed}; keep the other settings")
    return None


def _same_option(mine, lab) -> bool:
    if isinstance(lab, (tuple, list)):
        return (isinstance(mine, (tuple, list)) and len(mine) == len(lab)
                and all(_same_option(a, b) for a, b in zip(mine, lab)))
    if isinstance(lab, bool) or lab is None or isinstance(lab, str):
        return type(mine) is type(lab) and mine == lab
    try:
        return float(mine) == float(lab)
    except (TypeError, ValueError):
        return False


def redraw_(model, generator: np.random.Generator):
    """Draw ``model``'s parameters afresh, in place, each at its own scale; reset running
    statistics. Returns the model.

    A weight tensor (2 or more dimensions) becomes N(0, rms^2) with its own root-mean-square:
    the scale is what an initialisation scheme chooses (He, Glorot with a gain...), the values
    are the draw's; a constant one stays. Vectors (biases, BatchNorm's scales and shifts) stay
    as they are: an initialisation may set them on purpose (an output bias at the log class
    frequencies), and without their weights they hold no trained network. What training writes
    into the weights -- and a file embedding trained weights -- does not survive.
    """
    with no_grad():
        for module in model.modules():
            for param in module.parameters(recurse=False):
                if param.numpy().size == 0:
                    continue
                values = param.numpy().astype(np.float64)
                if values.ndim < 2 or values.std() == 0.0:
                    continue
                drawn = generator.normal(0.0, np.sqrt(np.mean(values ** 2)), values.shape)
                param.copy_(drawn.astype(param.numpy().dtype))
            if hasattr(module, "reset_running_stats"):
                module.reset_running_stats()
    return model


def drawn_afresh_problem(setup, generator: np.random.Generator,
                         what: str = "the setup") -> Optional[str]:
    """Make ``setup`` start untrained where the student chooses the model: None after its
    model's weights are drawn afresh (``redraw_``), or what is wrong when its optimizer has
    already stepped (its state would carry a trained run's momentum into the test's)."""
    optimizer = setup.optimizer
    if optimizer is not None and any(len(state) for state in optimizer.state.values()):
        return (f"{what}: its optimizer has already stepped (its state holds buffers); return "
                "it fresh, the test trains")
    redraw_(setup.model, generator)
    return None
