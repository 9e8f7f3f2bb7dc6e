"""Containers: ``Sequential`` (layers applied in order), ``ModuleList``, ``ModuleDict``,
``ParameterList`` and ``ParameterDict``: they register what they hold, so that
``parameters()``, ``state_dict()`` and ``.to()`` find it (a plain list or dict would hide it)."""
from __future__ import annotations

from collections import OrderedDict
from typing import Iterable, Mapping

from .module import Module, Parameter


class Sequential(Module):
    """Apply modules in order: ``Sequential(Linear(4, 8), ReLU(), Linear(8, 1))``.

    Children are named "0", "1", ... (or by an OrderedDict's keys), so the
    state-dict keys are "0.weight", "0.bias", ... exactly as in PyTorch.
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for index, module in enumerate(modules):
                if not isinstance(module, Module):
                    raise TypeError(f"Sequential: argument {index} is a {type(module).__name__}, "
                                    "not a Module. Hint: did you pass a class instead of an "
                                    "instance (nn.ReLU instead of nn.ReLU())?")
                self.add_module(str(index), module)

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, index):
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return Sequential(OrderedDict(list(self._modules.items())[index]))
        return modules[index]

    def append(self, module: Module) -> "Sequential":
        self.add_module(str(len(self)), module)
        return self


class ModuleList(Module):
    """A list of modules that registers them (a plain Python list would hide them)."""

    def __init__(self, modules: Iterable[Module] = ()):
        super().__init__()
        for module in modules:
            self.append(module)

    def append(self, module: Module) -> "ModuleList":
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> "ModuleList":
        for module in modules:
            self.append(module)
        return self

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, index):
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(modules[index])
        return modules[index]

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList is not callable; iterate over it in your forward()")


def _pairs(items, owner: str) -> list:
    """(name, value) pairs from a mapping or an iterable of pairs, as ``dict.update`` takes."""
    if isinstance(items, Mapping):
        return list(items.items())
    pairs = []
    for i, item in enumerate(items):
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise ValueError(f"{owner}.update(): element #{i} should be a (name, value) pair, "
                             f"got {item!r}")
        pairs.append(tuple(item))
    return pairs


class ModuleDict(Module):
    """Modules by name: ``ModuleDict({"encoder": nn.Linear(4, 2), "decoder": ...})``; the
    keys are the children's names (``"encoder.weight"`` in the state dict)."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"ModuleDict: {key!r} must be a Module, got {type(module).__name__}")
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key) -> bool:
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def pop(self, key: str) -> Module:
        return self._modules.pop(key)

    def clear(self) -> None:
        self._modules.clear()

    def update(self, modules) -> None:
        for key, module in _pairs(modules, "ModuleDict"):
            self[key] = module

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleDict is not callable; pick a module by name in your "
                                  "forward()")


class ParameterList(Module):
    """A list of Parameters, registered as "0", "1", ... (Tensors given are made Parameters)."""

    def __init__(self, values: Iterable = ()):
        super().__init__()
        for value in values:
            self.append(value)

    def append(self, value) -> "ParameterList":
        self.register_parameter(str(len(self._parameters)), _as_parameter(value))
        return self

    def extend(self, values: Iterable) -> "ParameterList":
        for value in values:
            self.append(value)
        return self

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters.values())

    def __getitem__(self, index):
        values = list(self._parameters.values())
        if isinstance(index, slice):
            return ParameterList(values[index])
        return values[index]

    def __setitem__(self, index: int, value) -> None:
        names = list(self._parameters)
        self.register_parameter(names[index], _as_parameter(value))

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ParameterList is not callable; use its parameters in your "
                                  "forward()")


class ParameterDict(Module):
    """Parameters by name (Tensors given are made Parameters)."""

    def __init__(self, parameters=None):
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key: str) -> Parameter:
        return self._parameters[key]

    def __setitem__(self, key: str, value) -> None:
        self.register_parameter(key, _as_parameter(value))

    def __delitem__(self, key: str) -> None:
        del self._parameters[key]

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters)

    def __contains__(self, key) -> bool:
        return key in self._parameters

    def keys(self):
        return self._parameters.keys()

    def items(self):
        return self._parameters.items()

    def values(self):
        return self._parameters.values()

    def update(self, parameters) -> None:
        for key, value in _pairs(parameters, "ParameterDict"):
            self[key] = value

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ParameterDict is not callable; use its parameters in your "
                                  "forward()")


def _as_parameter(value) -> Parameter:
    """A Parameter as it is; a Tensor or array made a Parameter (as PyTorch's containers do)."""
    return value if isinstance(value, Parameter) else Parameter(value)

