"""Neural-network layers, losses, initialisers and utilities (PyTorch's ``torch.nn``)."""
from .containers import ModuleList, Sequential
from .module import Module, Parameter
