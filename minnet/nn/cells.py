"""One time step of a recurrent layer: ``nn.RNNCell``, ``nn.LSTMCell``, ``nn.GRUCell``.

A cell is what ``nn.RNN``/``nn.LSTM``/``nn.GRU`` run at every step; as a module of its
own, your ``forward`` writes the loop over time (e.g. to feed each output back in, or to
stop early). Same equations as the layers (the ``_cell`` methods in recurrent.py and
gru.py are called), PyTorch's names: ``weight_ih`` (G*H, I), ``weight_hh`` (G*H, H),
``bias_ih``, ``bias_hh`` (G*H,), init U(-1/sqrt(H), 1/sqrt(H)).
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from .. import ops
from ..random import get_generator
from ..tensor import DEFAULT_DTYPE, Tensor
from . import init
from .gru import GRU
from .module import Module, Parameter
from .recurrent import LSTM, RNN, check_sizes_and_flags


class _Cell(Module):
    _gates = 1
    _step = None  # the layer's _cell method: (self, x, state, w_ih, w_hh, b_ih, b_hh)

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None, generator: Optional[np.random.Generator] = None):
        super().__init__()
        name = type(self).__name__
        check_sizes_and_flags(name, input_size=input_size, hidden_size=hidden_size, bias=bias)
        from ..utils.device import check_device
        check_device(device, name)
        self.input_size, self.hidden_size, self.bias = int(input_size), int(hidden_size), bias
        dtype = np.dtype(dtype or DEFAULT_DTYPE)
        rows = self._gates * self.hidden_size
        self.weight_ih = Parameter(np.empty((rows, self.input_size), dtype))
        self.weight_hh = Parameter(np.empty((rows, self.hidden_size), dtype))
        if bias:
            self.bias_ih = Parameter(np.empty(rows, dtype))
            self.bias_hh = Parameter(np.empty(rows, dtype))
        else:
            self.bias_ih = self.bias_hh = None
        rng = get_generator(generator)
        bound = 1 / math.sqrt(self.hidden_size)
        for param in self.parameters():
            init.uniform_(param, -bound, bound, generator=rng)

    def _run(self, input: Tensor, hx, states: int) -> tuple:
        """The new state(s) from ``input`` (N, I) or (I,) and ``hx`` (None: zeros)."""
        name = type(self).__name__
        if not isinstance(input, Tensor) or input.ndim not in (1, 2) \
                or input.shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected input of shape (N, {self.input_size}) or "
                             f"({self.input_size},), got "
                             f"{getattr(input, 'shape', type(input).__name__)}")
        unbatched = input.ndim == 1
        x = input.unsqueeze(0) if unbatched else input
        if hx is None:
            state = (ops.zeros(x.shape[0], self.hidden_size, dtype=x.dtype),) * states
        else:
            state = (hx,) if isinstance(hx, Tensor) else tuple(hx)
            if len(state) != states:
                raise TypeError(f"{name}: hx should be "
                                + ("a tuple (h, c)" if states == 2 else "one tensor h")
                                + f", got {len(state)} tensor(s)")
            expected = (self.hidden_size,) if unbatched else (x.shape[0], self.hidden_size)
            for h in state:
                if tuple(h.shape) != expected:
                    raise RuntimeError(f"{name}: expected hidden state of shape {expected}, got "
                                       f"{tuple(h.shape)}")
            if unbatched:
                state = tuple(h.unsqueeze(0) for h in state)
        new = type(self)._step(self, x, state, self.weight_ih, self.weight_hh, self.bias_ih,
                               self.bias_hh)
        return tuple(h.squeeze(0) for h in new) if unbatched else new

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(_Cell):
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu). ``cell(x, h)`` returns h'."""

    _step = RNN._cell

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None,
                 generator: Optional[np.random.Generator] = None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell(): unknown nonlinearity {nonlinearity!r} (tanh or relu)")
        super().__init__(input_size, hidden_size, bias, device, dtype, generator)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Optional[Tensor] = None) -> Tensor:
        return self._run(input, hx, 1)[0]


class LSTMCell(_Cell):
    """One LSTM step (gates i, f, g, o, as ``nn.LSTM``). ``cell(x, (h, c))`` returns (h', c')."""

    _gates = 4
    _step = LSTM._cell

    def forward(self, input: Tensor, hx=None) -> tuple:
        return self._run(input, hx, 2)


class GRUCell(_Cell):
    """One GRU step (gates r, z, n, as ``nn.GRU``). ``cell(x, h)`` returns h'."""

    _gates = 3
    _step = GRU._cell

    def forward(self, input: Tensor, hx: Optional[Tensor] = None) -> Tensor:
        return self._run(input, hx, 1)[0]
