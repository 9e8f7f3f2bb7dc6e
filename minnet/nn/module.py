"""``Module`` and ``Parameter``: the building blocks of every network.

As in PyTorch, a ``Parameter`` or ``Module`` assigned as an attribute is registered:
``parameters()``, ``state_dict()``, ``train()`` and ``zero_grad()`` find it.

Calling a module (``module(x)``) runs forward pre-hooks, ``forward``, forward
hooks. Meanwhile the module is on ``tensor._state.module_stack``, which every op
reads: each graph node knows its layer (``"model.2 (ReLU)"``). The debugger
attaches only through these hooks.
"""
from __future__ import annotations

import os

from collections import OrderedDict
from typing import Callable, Iterator, NamedTuple, Optional

import numpy as np

from ..tensor import ModuleCall, RemovableHandle, Tensor, _state, queue_callback, wrap_array

ROOT_NAME = "model"  # how the outermost module is named in op records and messages


class Parameter(Tensor):
    """A Tensor that is a trainable weight: a leaf with ``requires_grad=True``."""

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            data = np.empty(0, dtype=np.float32)
        if isinstance(data, Tensor):
            data = data._data
        array = np.asarray(data)
        if array.dtype.kind != "f":
            array = array.astype(np.float32)
        super().__init__(array, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


def _identity_with_hook(tensor: Tensor, on_grad: Callable, op: str) -> Tensor:
    """An identity node whose backward reports the gradient passing through it."""

    def backward(grad):
        on_grad(grad)
        return (grad,)

    return Tensor._from_op(tensor._data, (tensor,), backward, op)


class Module:
    """Base class for all layers and models. Subclasses define ``forward``."""

    training: bool

    def __init__(self):
        # object.__setattr__ because our own __setattr__ needs these dicts to exist
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_backward_hooks", OrderedDict())
        object.__setattr__(self, "_path_cache", {})
        object.__setattr__(self, "training", True)

    # -- registration -------------------------------------------------------
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign '{name}' before Module.__init__() is called. "
                                 "Hint: call super().__init__() first in your __init__.")
        if value is None and name in self._parameters:
            self._parameters[name] = None  # keep the slot, as PyTorch does (e.g. bias=None)
            return
        if isinstance(value, Parameter):
            kept = "_parameters"
        elif isinstance(value, Module):
            kept = "_modules"
        elif name in self.__dict__.get("_buffer_names", ()):
            kept = "_buffers"
        else:
            kept = None
        # out of the other registries; in its own it keeps its place, as in PyTorch (a
        # re-assigned weight stays first in parameters(), state_dict() and an optimizer's list)
        for registry in ("_parameters", "_modules", "_buffers"):
            if registry != kept:
                self.__dict__[registry].pop(name, None)
        if kept is None:
            object.__setattr__(self, name, value)
        else:
            self.__dict__.pop(name, None)  # a plain attribute of that name would hide it
            self.__dict__[kept][name] = value

    def __getattr__(self, name):
        # only called when normal lookup fails: look in the registries
        for registry in ("_parameters", "_modules", "_buffers"):
            table = self.__dict__.get(registry)
            if table is not None and name in table:
                return table[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for registry in ("_parameters", "_modules", "_buffers"):
            if name in self.__dict__[registry]:
                del self.__dict__[registry][name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Optional[Parameter]) -> None:
        if param is None:
            self._parameters[name] = None
        else:
            setattr(self, name, param)

    def register_buffer(self, name: str, tensor: Optional[Tensor], persistent: bool = True) -> None:
        """A non-trainable tensor kept with the module (e.g. BatchNorm's running mean).

        Persistent buffers are saved in ``state_dict``; non-persistent ones are not.
        """
        names = self.__dict__.setdefault("_buffer_names", set())
        names.add(name)
        if not persistent:
            self.__dict__.setdefault("_non_persistent", set()).add(name)
        self._buffers[name] = tensor

    def add_module(self, name: str, module: Optional["Module"]) -> None:
        if module is None:
            self._modules[name] = None
        else:
            setattr(self, name, module)

    # -- calling ---------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def _call_entry(self, caller: Optional[ModuleCall]) -> ModuleCall:
        """The module-stack entry (label, module, dotted path) for a call from ``caller``,
        the entry of the module whose ``forward`` calls this one (None: called from outside).

        Cached per caller: a training step calls every module from the same place.
        """
        cached = self._path_cache.get(id(caller))
        # compare the caller itself too: an id can be reused after an entry is freed
        if cached is not None and cached[0] is caller:
            return cached[1]
        if caller is None:
            path = ROOT_NAME
        else:
            child_name = next((name for name, m in caller.module._modules.items() if m is self),
                              None)
            # a module called from inside another without being registered in it
            # still gets a readable path
            path = f"{caller.path}.{child_name or type(self).__name__}"
        entry = ModuleCall(f"{path} ({type(self).__name__})", self, path)  # "model.2 (ReLU)"
        self._path_cache[id(caller)] = (caller, entry)
        return entry

    def __call__(self, *args, **kwargs):
        stack = _state.module_stack  # the modules being called, innermost last
        entry = self._call_entry(stack[-1] if stack else None)
        stack.append(entry)
        try:
            if self._forward_pre_hooks:
                for hook in list(self._forward_pre_hooks.values()):
                    replaced = hook(self, args)
                    if replaced is not None:
                        args = replaced if isinstance(replaced, tuple) else (replaced,)
            if self._backward_hooks:
                args, report_input_grads = self._attach_input_grad_probes(args)
            try:
                output = self.forward(*args, **kwargs)
            except Exception as error:
                _note_where(error, entry.label)
                raise
            if self._forward_hooks:
                for hook in list(self._forward_hooks.values()):
                    replaced = hook(self, args, output)
                    if replaced is not None:
                        output = replaced
            if self._backward_hooks and isinstance(output, Tensor) and output.requires_grad:
                output = self._attach_output_grad_probe(output, report_input_grads)
        finally:
            stack.pop()
        return output

    # -- backward hooks ---------------------------------------------------------
    def register_forward_pre_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(module, args) -> None or new args``, called before ``forward``."""
        handle = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle.id] = hook
        return handle

    def register_forward_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(module, args, output) -> None or new output``, called after ``forward``."""
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        return handle

    def register_full_backward_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(module, grad_input, grad_output)``, called during backward.

        ``grad_output`` is a 1-tuple with dL/d(output); ``grad_input`` holds
        dL/d(input) for each positional Tensor input (None for inputs that do
        not require grad, such as a data batch). Both are NumPy-backed Tensors.
        """
        handle = RemovableHandle(self._backward_hooks)
        self._backward_hooks[handle.id] = hook
        return handle

    def _attach_input_grad_probes(self, args):
        """Wrap each grad-requiring input in an identity node that records its gradient.

        The hooks fire once per backward pass: as soon as every such input has
        its gradient, or at the end of the pass if some input received none.
        """
        waiting = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
        received = {}
        grad_output = []
        fired = []

        def fire():
            if fired or not grad_output:
                return
            fired.append(True)
            grad_input = tuple(wrap_array(received[i]) if i in received else None
                               for i in range(len(args)))
            for hook in list(self._backward_hooks.values()):
                hook(self, grad_input, tuple(grad_output))

        def make_probe(position):
            def on_grad(grad):
                received[position] = grad
                if len(received) == len(waiting):
                    fire()
            return on_grad

        new_args = tuple(_identity_with_hook(a, make_probe(i), "backward_hook")
                         if i in waiting else a for i, a in enumerate(args))

        def report(grad_out):
            grad_output.append(wrap_array(grad_out))
            if waiting:
                queue_callback(fire)  # in case some input never receives a gradient
            else:  # nothing upstream needs a gradient: fire right away
                fire()

        return new_args, report

    def _attach_output_grad_probe(self, output: Tensor, report: Callable) -> Tensor:
        return _identity_with_hook(output, report, "backward_hook")

    # -- traversal ---------------------------------------------------------------
    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator:
        seen = set()
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, param in module._parameters.items():
                if param is None or id(param) in seen:
                    continue
                seen.add(id(param))
                yield (f"{module_prefix}.{name}" if module_prefix else name), param

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator:
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, buffer in module._buffers.items():
                if buffer is not None:
                    yield (f"{module_prefix}.{name}" if module_prefix else name), buffer

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def named_children(self) -> Iterator:
        for name, module in self._modules.items():
            if module is not None:
                yield name, module

    def children(self) -> Iterator["Module"]:
        for _, module in self.named_children():
            yield module

    def named_modules(self, prefix: str = "", memo: Optional[set] = None) -> Iterator:
        """This module and all below it, depth first, each once: ``("0", Linear)``, ..."""
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, module in self.named_children():
            child_prefix = f"{prefix}.{name}" if prefix else name
            yield from module.named_modules(child_prefix, memo)

    def modules(self) -> Iterator["Module"]:
        for _, module in self.named_modules():
            yield module

    def apply(self, fn: Callable) -> "Module":
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # -- modes and gradients -----------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        """Training mode: Dropout drops, BatchNorm uses batch statistics."""
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self) -> "Module":
        """Evaluation mode: Dropout is off, BatchNorm uses running statistics."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear parameter gradients (``backward`` accumulates into ``.grad``)."""
        for param in self.parameters():
            if param.grad is None:
                continue
            if set_to_none:
                param.grad = None
            else:
                param.grad._data = np.zeros_like(param._data)

    def _cast(self, dtype) -> "Module":
        for param in self.parameters():
            param._data = param._data.astype(dtype)
            if param.grad is not None:
                param.grad._data = param.grad._data.astype(dtype)
        for buffer in self.buffers():
            if buffer._data.dtype.kind == "f":
                buffer._data = buffer._data.astype(dtype)
        return self

    def to(self, *args, dtype=None, device=None, **kwargs) -> "Module":
        """``model.to(np.float64)`` casts parameters and buffers; ``model.to("cpu")`` is a no-op.

        minnet runs on the CPU only; any other device raises with a hint.
        """
        from ..tensor import _check_device, _is_device
        for arg in args:
            if _is_device(arg):
                device = arg
            elif isinstance(arg, Tensor):
                dtype = arg.dtype
            else:
                dtype = arg
        if device is not None:
            _check_device(device)
        return self if dtype is None else self._cast(np.dtype(dtype))

    def cpu(self) -> "Module":
        return self

    def cuda(self, device=None) -> "Module":
        """Raises: minnet has no GPU (as PyTorch on a machine without one)."""
        from ..utils.device import check_device
        check_device("cuda" if device is None else f"cuda:{device}"
                     if isinstance(device, int) else device, f"{type(self).__name__}.cuda()")
        return self

    def share_memory(self) -> "Module":
        """PyTorch moves the tensors to shared memory for worker processes; minnet has no
        workers (data loads in the main process), so there is nothing to share."""
        return self

    def type(self, dst_type) -> "Module":
        """Cast floating parameters and buffers to ``dst_type`` (a dtype)."""
        return self._cast(np.dtype(dst_type))

    def bfloat16(self) -> "Module":
        raise TypeError(f"{type(self).__name__}.bfloat16(): NumPy, and so minnet, has no "
                        f"bfloat16 dtype. Hint: .half() (float16) or .float() (float32).")

    # -- looking things up by their dotted name --------------------------------------
    def get_submodule(self, target: str) -> "Module":
        """The module at dotted path ``target`` ("encoder.0"); "" is the module itself."""
        module = self
        for part in target.split(".") if target else []:
            child = module._modules.get(part)
            if child is None:
                raise AttributeError(f"{type(module).__name__} has no attribute `{part}` "
                                     f"(looking up '{target}'). Hint: named_modules() lists "
                                     f"the valid paths.")
            module = child
        return module

    def get_parameter(self, target: str) -> "Parameter":
        """The parameter at dotted path ``target`` ("encoder.0.weight")."""
        owner, _, name = target.rpartition(".")
        module = self.get_submodule(owner)
        if name not in module._parameters:
            raise AttributeError(f"{type(module).__name__} has no parameter `{name}` "
                                 f"(looking up '{target}')")
        return module._parameters[name]

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at dotted path ``target`` ("bn.running_mean")."""
        owner, _, name = target.rpartition(".")
        module = self.get_submodule(owner)
        if name not in module._buffers:
            raise AttributeError(f"{type(module).__name__} has no buffer `{name}` "
                                 f"(looking up '{target}')")
        return module._buffers[name]

    def register_module(self, name: str, module: Optional["Module"]) -> None:
        """The same as ``add_module``."""
        self.add_module(name, module)

    def double(self) -> "Module":
        """Convert floating parameters and buffers to float64 (e.g. for gradcheck)."""
        return self._cast(np.float64)

    def float(self) -> "Module":
        return self._cast(np.float32)

    def half(self) -> "Module":
        """float16 parameters (PyTorch's ``half()``; minnet's conv kernels refuse float16)."""
        return self._cast(np.float16)

    # -- state ----------------------------------------------------------------------
    def _state_tensors(self) -> Iterator:
        """(dotted name, tensor) for every parameter and persistent buffer."""
        for prefix, module in self.named_modules():
            skipped = module.__dict__.get("_non_persistent", ())
            for registry in (module._parameters, module._buffers):
                for name, value in registry.items():
                    if value is not None and name not in skipped:
                        yield (f"{prefix}.{name}" if prefix else name), value

    def state_dict(self) -> "OrderedDict[str, Tensor]":
        """Parameters and persistent buffers by dotted name, e.g. ``"0.weight"``.

        The names are PyTorch's, so a PyTorch state dict (converted to NumPy)
        loads unchanged. The tensors share memory with the model, as in PyTorch.
        """
        return OrderedDict((name, value.detach()) for name, value in self._state_tensors())

    def load_state_dict(self, state_dict, strict: bool = True):
        """Copy values (Tensors or NumPy arrays) into this module's parameters and buffers.

        Values are cast to each parameter's dtype and copied in place. Every key
        is checked before anything is written, so a failed load leaves the model
        as it was. With ``strict=True`` missing or unexpected keys raise; a shape
        mismatch always raises and names the key. Returns, as PyTorch, a named tuple
        ``(missing_keys, unexpected_keys)`` (both empty when every key matched).
        """
        if not hasattr(state_dict, "items"):
            what = f"the path {str(state_dict)!r}" if isinstance(state_dict, (str, os.PathLike)) \
                else f"a {type(state_dict).__name__}"
            raise TypeError(
                f"load_state_dict() for {type(self).__name__}: expected a state dict (a dict of "
                f"name -> Tensor or array), got {what}. Hint: read the file first: "
                f"model.load_state_dict(minnet.load(path)).")
        targets = OrderedDict(self._state_tensors())
        missing = [k for k in targets if k not in state_dict]
        unexpected = [k for k in state_dict if k not in targets]
        problems = []
        if strict and missing:
            problems.append(f"missing keys {missing}")
        if strict and unexpected:
            problems.append(f"unexpected keys {unexpected}")
        arrays = {}
        for key, value in state_dict.items():
            if key not in targets:
                continue
            array = np.asarray(value._data if isinstance(value, Tensor) else value)
            expected = targets[key]._data.shape
            if array.shape != expected:
                problems.append(f"'{key}' has shape {array.shape} in the state dict but "
                                f"{expected} in the model")
            arrays[key] = array
        if problems:
            raise RuntimeError(
                f"load_state_dict() for {type(self).__name__}: " + "; ".join(problems) +
                ". Hint: was the state saved from a model with the same architecture? "
                "strict=False loads the matching subset (shapes must still agree).")
        for key, array in arrays.items():
            target = targets[key]
            target._bump_version("load_state_dict")
            if target._data.flags.writeable:
                np.copyto(target._data, array, casting="unsafe")
            else:
                target._data = array.astype(target._data.dtype, copy=True)
        return _IncompatibleKeys(missing, unexpected)

    # -- printing --------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self):
        children = [f"  ({name}): " + repr(module).replace("\n", "\n  ")
                    for name, module in self.named_children()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not children:
            return head + ")"
        return head + "\n" + "\n".join(children) + "\n)"

    def __dir__(self):
        return list(super().__dir__()) + list(self._parameters) + list(self._modules) \
            + list(self._buffers)


def _note_where(error: Exception, where: str) -> None:
    """Add "raised inside model.2 (Linear)" to an error's message, once (innermost module).

    Uses exception notes (Python >= 3.11), so the error keeps its type, message
    and traceback; on Python 3.10, which has no notes, the line is appended to a
    text message instead.
    """
    if getattr(error, "_minnet_where", None) is not None:
        return
    try:
        error._minnet_where = where
    except AttributeError:
        return
    note = f"(raised inside {where})"
    if hasattr(error, "add_note"):
        error.add_note(note)
    elif error.args and isinstance(error.args[0], str):
        error.args = (f"{error.args[0]}\n{note}",) + error.args[1:]


class _IncompatibleKeys(NamedTuple):
    """What ``load_state_dict`` returns, as PyTorch: a tuple, so ``missing, unexpected =
    model.load_state_dict(...)`` unpacks it, whose fields also have names."""
    missing_keys: list
    unexpected_keys: list

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"  # PyTorch prints this too
        return (f"_IncompatibleKeys(missing_keys={self.missing_keys!r}, "
                f"unexpected_keys={self.unexpected_keys!r})")
