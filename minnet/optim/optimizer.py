"""The ``Optimizer`` base class: parameter groups, state, the step loop, hooks, checkpoints.

``param_groups`` is a list of dicts, each with ``"params"`` and that group's options
(``lr``, ``momentum``, ...), so layers can train with different options. ``state``
maps each parameter to what its rule remembers (buffers as Tensors, ``step`` an int).
A subclass writes its rule for one parameter in NumPy, ``_update_one(param, group)``
(``param._data`` is the array, updated in place); ``step`` runs it for every
parameter with a gradient, under ``no_grad`` (the update is not part of the next
graph) and between the step hooks (the debugger compares weights through them).
Names, defaults, errors and ``state_dict()``'s layout follow ``torch.optim``; unlike
PyTorch, ``state_dict()`` copies the state tensors, so a saved dict is a snapshot.
"""
from __future__ import annotations

import copy
import functools
import warnings
from collections import OrderedDict, defaultdict
from typing import Callable, Optional

import numpy as np

from .. import kernels
from ..tensor import RemovableHandle, Tensor, enable_grad, no_grad, wrap_array


_optim_update = None  # minnet.kernels.optim_update, once loaded


def compiled_updates():
    """The optimizers' compiled loops (``minnet.kernels.optim_update``), imported on
    first use: they load Numba, which ``import minnet`` does not."""
    global _optim_update
    if _optim_update is None:
        from ..kernels import optim_update
        _optim_update = optim_update
    return _optim_update


class _RequiredParameter:
    """Marks an option that has no default and must be given (PyTorch's ``required``)."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


def _with_no_grad_and_hooks(step: Callable) -> Callable:
    """Wrap a subclass's ``step`` so that it runs under ``no_grad`` between the hooks.

    When one ``step`` calls another (``super().step()``), only the outermost
    call fires the hooks, so each optimizer step is reported exactly once.
    """

    @functools.wraps(step)
    def step_with_hooks(self, *args, **kwargs):
        if getattr(self, "_inside_step", False):
            return step(self, *args, **kwargs)
        self._inside_step = True
        try:
            for hook in list(self._optimizer_step_pre_hooks.values()):
                replaced = hook(self, args, kwargs)
                if replaced is not None:
                    if not (isinstance(replaced, tuple) and len(replaced) == 2):
                        raise RuntimeError(
                            f"{type(self).__name__}.step(): a step pre-hook must return None or "
                            f"a tuple (new_args, new_kwargs), got {type(replaced).__name__}")
                    args, kwargs = replaced
            with no_grad():
                result = step(self, *args, **kwargs)
            self._opt_called = True  # read by the LR schedulers to warn about call order
            for hook in list(self._optimizer_step_post_hooks.values()):
                hook(self, args, kwargs)
            return result
        finally:
            self._inside_step = False

    step_with_hooks._minnet_step_wrapper = True
    return step_with_hooks


class Optimizer:
    """Base class of all optimizers.

    Args:
        params: an iterable of Parameters, of ``(name, Parameter)`` pairs (e.g.
            ``model.named_parameters()``), or of dicts defining parameter groups.
        defaults: the default value of every option, used by groups that do
            not set it.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "_minnet_step_wrapper", False):
            cls.step = _with_no_grad_and_hooks(step)

    def __init__(self, params, defaults: dict):
        self.defaults = defaults
        self._optimizer_step_pre_hooks: OrderedDict = OrderedDict()
        self._optimizer_step_post_hooks: OrderedDict = OrderedDict()
        self._inside_step = False
        self._opt_called = False
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(
                f"{name}: params argument given to the optimizer should be an iterable of "
                f"Tensors or dicts, but got a single {type(params).__name__}. "
                f"Hint: pass [tensor] or model.parameters().")
        if hasattr(params, "named_parameters") and hasattr(params, "forward"):
            raise TypeError(f"{name}: got the model {type(params).__name__} itself; the optimizer "
                            f"needs its parameters. Hint: {name}(model.parameters(), lr=...).")
        if isinstance(params, dict):
            raise TypeError(f"{name}: params should be an iterable of Tensors or of dicts "
                            f"(parameter groups), got a single dict. Hint: wrap it in a list.")
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError(
                f"{name}: optimizer got an empty parameter list. Hint: model.parameters() is a "
                f"generator that can be consumed only once; if you already iterated over it "
                f"(e.g. with list() or another optimizer), call model.parameters() again.")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    # -- parameter groups ----------------------------------------------------------
    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own options (e.g. to unfreeze layers later)."""
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}.add_param_group(): param_group must be a dict, "
                            f"but got {type(param_group).__name__}")
        if "params" not in param_group:
            raise KeyError(f"{name}.add_param_group(): the group has no 'params' key. "
                           f"Hint: {{'params': model.parameters(), 'lr': 0.01}}")
        param_group = dict(param_group)  # never modify the caller's dict
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(
                f"{name}: optimizer parameters need to be organized in ordered collections, but "
                f"the ordering of tensors in sets will change between runs. Please use a list "
                f"instead.")
        else:
            params = list(params)

        tensors, names = [], []
        for item in params:
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
                names.append(item[0])
                item = item[1]
            tensors.append(item)
        if names:
            if len(names) != len(tensors):
                raise ValueError(f"{name}: all optimizer params should be with/without names. "
                                 f"Some param names are missing")
            param_group["param_names"] = names
        param_group["params"] = tensors

        for param in tensors:
            if not isinstance(param, Tensor):
                raise TypeError(f"{name}: optimizer can only optimize Tensors, but one of the "
                                f"params is {type(param).__name__}")
            if not param.is_leaf:
                raise ValueError(
                    f"{name}: can't optimize a non-leaf Tensor (it was computed by op "
                    f"'{param.op}'). Hint: optimize the Parameters the model was built from, "
                    f"not results computed from them.")
            if param._data.dtype.kind != "f":
                raise TypeError(f"{name}: can only optimize floating-point tensors, got dtype "
                                f"{param._data.dtype}")

        for option, default in self.defaults.items():
            if default is required and option not in param_group:
                raise ValueError(f"{name}: parameter group didn't specify a value of required "
                                 f"optimization parameter {option}")
            param_group.setdefault(option, default)
        self._validate_group(param_group)

        ids = [id(p) for p in tensors]
        if len(ids) != len(set(ids)):
            warnings.warn(f"{name}: optimizer contains a parameter group with duplicate "
                          f"parameters; each will be updated once per listing", stacklevel=3)
        taken = set()
        for group in self.param_groups:
            taken.update(id(p) for p in group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                kind = "with names" if "param_names" in param_group else "without names"
                raise ValueError(f"{name}: all optimizer param groups should be with/without "
                                 f"names. cannot add param group {kind} to the optimizer")
        if taken.intersection(ids):
            raise ValueError(f"{name}: some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def _validate_group(self, group: dict) -> None:
        """Check a group's options (subclasses raise ValueError on bad values)."""

    # -- stepping ----------------------------------------------------------------------
    @_with_no_grad_and_hooks
    def step(self, closure: Optional[Callable] = None):
        """One update of every parameter that has a gradient; returns ``closure()``'s loss.

        A subclass writes its rule for one parameter, in NumPy, in
        ``_update_one(param, group)`` (or defines ``step`` itself).
        """
        if type(self)._update_one is Optimizer._update_one:
            raise NotImplementedError(f"{type(self).__name__} must define step() or "
                                      "_update_one(param, group)")
        loss = self._evaluate_closure(closure)
        # The fast path is chosen here and nowhere else: a compiled loop that gives the
        # NumPy rule's numbers (SGD, Adam); MINNET_NO_JIT=1 runs the NumPy rule only.
        fast = kernels.jit_enabled()
        for group in self.param_groups:
            for param in self._params_with_grad(group):
                if fast and self._fused_update_one(param, group):
                    continue
                self._update_one(param, group)
        return loss

    def _update_one(self, param, group: dict) -> None:
        """The update of one parameter (subclasses that keep the base ``step`` define it)."""
        raise NotImplementedError

    def _fused_update_one(self, param, group: dict) -> bool:
        """``_update_one`` as one compiled loop (``minnet/kernels/optim_update.py``).

        Returns False when there is none, or when the arrays' layout does not
        suit it: then ``_update_one`` runs.
        """
        return False

    @staticmethod
    def _evaluate_closure(closure: Optional[Callable]):
        """Run ``closure`` (zero_grad, forward, backward; returns the loss) with grad on."""
        if closure is None:
            return None
        with enable_grad():
            return closure()

    def _params_with_grad(self, group: dict) -> list:
        """The group's parameters that received a gradient (others are skipped)."""
        found = []
        changed_by = f"{type(self).__name__}.step()"
        for param in group["params"]:
            grad = param._grad
            if grad is None:
                continue
            if grad._data.shape != param._data.shape:
                raise RuntimeError(
                    f"{changed_by}: a parameter of shape {param.shape} has a "
                    f"gradient of shape {grad.shape}. Hint: was .grad set by hand?")
            found.append(param)
            param._bump_version(changed_by)  # changed in place next
        return found

    def _grad_array(self, param: Tensor, maximize: bool = False) -> np.ndarray:
        """The gradient as an array of the parameter's dtype (negated when maximizing)."""
        grad = param._grad._data
        if grad.dtype != param._data.dtype:
            grad = grad.astype(param._data.dtype)
        return -grad if maximize else grad

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset gradients: ``.grad = None`` (default) or fill the existing ``.grad`` with 0.

        Needed before each backward pass because ``backward()`` *adds* into ``.grad``.
        """
        for group in self.param_groups:
            for param in group["params"]:
                if param._grad is None:
                    continue
                if set_to_none:
                    param._grad = None
                else:
                    param._grad.requires_grad = False
                    param._grad.zero_()

    # -- hooks -------------------------------------------------------------------------
    def register_step_pre_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(optimizer, args, kwargs)`` runs before every ``step``.

        It may return ``(new_args, new_kwargs)`` to replace step's arguments.
        Returns a handle whose ``remove()`` detaches the hook.
        """
        handle = RemovableHandle(self._optimizer_step_pre_hooks)
        self._optimizer_step_pre_hooks[handle.id] = hook
        return handle

    def register_step_post_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(optimizer, args, kwargs)`` runs after every ``step``."""
        handle = RemovableHandle(self._optimizer_step_post_hooks)
        self._optimizer_step_post_hooks[handle.id] = hook
        return handle

    # -- checkpoints -------------------------------------------------------------------
    def state_dict(self) -> dict:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}``.

        Parameters are numbered 0, 1, 2, ... in the order they appear across
        the groups, as in PyTorch, so the dict does not depend on object
        identities and can be loaded into a new optimizer over a new model.
        """
        index_of = {}
        packed_groups = []
        for group in self.param_groups:
            packed = {key: copy.deepcopy(value) for key, value in group.items() if key != "params"}
            for param in group["params"]:
                index_of.setdefault(id(param), len(index_of))
            packed["params"] = [index_of[id(param)] for param in group["params"]]
            packed_groups.append(packed)
        packed_state = {}
        for param, param_state in self.state.items():
            key = index_of.get(id(param), param) if isinstance(param, Tensor) else param
            packed_state[key] = {name: _copy_value(value) for name, value in param_state.items()}
        return {"state": packed_state, "param_groups": packed_groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore options and per-parameter state saved by ``state_dict()``.

        Floating-point state is cast to each parameter's dtype (except
        ``step``), and everything is copied, so the dict can be reused.
        """
        name = type(self).__name__
        if not isinstance(state_dict, dict) or "state" not in state_dict \
                or "param_groups" not in state_dict:
            raise ValueError(f"{name}.load_state_dict(): expected a dict with keys 'state' and "
                             f"'param_groups' (as returned by optimizer.state_dict())")
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        groups = self.param_groups
        if len(groups) != len(saved_groups):
            raise ValueError(f"{name}.load_state_dict(): loaded state dict has a different number "
                             f"of parameter groups ({len(saved_groups)} saved, {len(groups)} "
                             f"in this optimizer)")
        for i, (group, saved) in enumerate(zip(groups, saved_groups)):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(
                    f"{name}.load_state_dict(): loaded state dict contains a parameter group that "
                    f"doesn't match the size of optimizer's group (group {i}: "
                    f"{len(saved['params'])} saved parameters, {len(group['params'])} here)")

        param_of_index = {}
        for group, saved in zip(groups, saved_groups):
            for index, param in zip(saved["params"], group["params"]):
                param_of_index[index] = param

        new_state = defaultdict(dict)
        for key, saved_param_state in state_dict["state"].items():
            param = param_of_index.get(key)
            if param is None:
                new_state[key] = copy.deepcopy(saved_param_state)
                continue
            new_state[param] = {entry: _cast_state_value(param, entry, value, name)
                                for entry, value in saved_param_state.items()}

        new_groups = []
        for group, saved in zip(groups, saved_groups):
            saved["params"] = group["params"]
            if "param_names" in group and "param_names" not in saved:
                saved["param_names"] = group["param_names"]
            new_groups.append(saved)
        self.state = new_state
        self.param_groups = new_groups

    # -- printing ----------------------------------------------------------------------
    def __repr__(self):
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key not in ("params", "param_names"):
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


def _copy_value(value):
    """A snapshot of one state entry (Tensors and arrays copied, the rest deep-copied)."""
    if isinstance(value, Tensor):
        return wrap_array(value._data.copy())
    if isinstance(value, np.ndarray):
        return value.copy()
    return copy.deepcopy(value)


def _cast_state_value(param: Tensor, entry: str, value, optimizer_name: str):
    """Copy a loaded state entry, as a Tensor of the parameter's dtype and shape."""
    if entry == "step":
        if isinstance(value, (Tensor, np.ndarray)):
            return int(np.asarray(value._data if isinstance(value, Tensor) else value).item())
        return copy.deepcopy(value)
    if isinstance(value, (Tensor, np.ndarray)):
        array = value._data if isinstance(value, Tensor) else value
        if array.dtype.kind == "f":
            array = array.astype(param._data.dtype)
        array = np.array(array, copy=True)
        if array.shape != param._data.shape and array.size != 1:
            raise ValueError(
                f"{optimizer_name}.load_state_dict(): state '{entry}' has shape {array.shape} but "
                f"its parameter has shape {param._data.shape}. Hint: the saved optimizer was "
                f"built over a model of a different architecture or parameter order.")
        return wrap_array(array)
    return copy.deepcopy(value)


def _check_number(optimizer: str, option: str, value, minimum: float = 0.0,
                  below: Optional[float] = None) -> None:
    """Raise a clear ValueError unless ``minimum <= value (< below)``."""
    if isinstance(value, Tensor) and value._data.size != 1:  # a 0-d or 1-element tensor lr is fine
        raise ValueError(f"{optimizer}: Tensor {option.replace(' value', '')} must be 1-element, "
                         f"got shape {tuple(value.shape)}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{optimizer}: {option.replace(' value', '')} must be a number, got "
                        f"{type(value).__name__} {value!r}") from None
    if not number >= minimum or (below is not None and not number < below):
        allowed = f">= {minimum}" if below is None else f"in [{minimum}, {below})"
        raise ValueError(f"{optimizer}: Invalid {option}: {value} (must be {allowed})")


def _check_implementation_flags(optimizer: str, foreach=None, fused=None, capturable=False,
                                differentiable=False) -> None:
    """Accept PyTorch's implementation switches where they cannot change the numbers.

    ``foreach`` and ``fused`` choose how PyTorch runs the same rule (a loop per tensor,
    one kernel over all of them, one fused kernel); minnet has one implementation
    (NumPy lines, or the compiled loop proven equal to them), so any value is accepted
    and the result is the same. ``capturable`` (CUDA graphs) and ``differentiable``
    (a step that autograd records) have no counterpart: True is refused by name.
    """
    for option, value in (("foreach", foreach), ("fused", fused)):
        if value not in (None, True, False):
            raise TypeError(f"{optimizer}: {option} must be None, True or False, got {value!r}")
    for option, value, meaning in (
            ("capturable", capturable, "a step that CUDA graphs can capture"),
            ("differentiable", differentiable,
             "a step that autograd records, to differentiate through the update")):
        if value:
            raise NotImplementedError(
                f"{optimizer}: {option}=True ({meaning}) is not supported in minnet; it has "
                f"no GPU and does not record optimizer steps. Hint: leave {option} out.")

