"""Recurrent layers, ``nn.RNN`` and ``nn.LSTM``, built from ops that already have a backward.

The same cell runs at every time step on the step's input and its previous state;
a cell is a few ``linear`` calls and activations, so autograd differentiates the
unrolled loop (backpropagation through time). Names, shapes, gate order and init are
PyTorch's: weight_ih_l{k} (G*H, I_k), weight_hh_l{k} (G*H, H), bias_ih_l{k},
bias_hh_l{k} (G*H,), G = 1 (RNN) or 4 (LSTM: input, forget, cell, output gates).

``bidirectional=True`` adds a second set per layer, named ``..._l{k}_reverse``, that
reads the sequence from its end; each step's output is the two directions' states
side by side (2H features), which is also the next layer's input (I_k = 2H for k > 0).
``dropout=p`` drops entries of every layer's output except the last one's, in training.
"""
from __future__ import annotations

import math
import warnings
from typing import Optional

import numpy as np

from .. import ops
from ..ops.dropout import dropout as _dropout
from ..random import get_generator
from ..tensor import DEFAULT_DTYPE, Tensor
from . import init
from .module import Module, Parameter


def check_sizes_and_flags(owner: str, **options) -> None:
    """Sizes must be positive ints and switches bools, as PyTorch checks them: a string such
    as bias='False' would otherwise count as True."""
    for option, value in options.items():
        if option in ("bias", "batch_first"):
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"{owner}(): {option} should be of type bool, got: "
                                f"{type(value).__name__} {value!r}")
        elif not isinstance(value, (int, np.integer)) or isinstance(value, bool):
            raise TypeError(f"{owner}(): {option} should be of type int, got: "
                            f"{type(value).__name__} {value!r}")
        elif value < 1:
            raise ValueError(f"{owner}(): {option} must be a positive integer, got {value!r}")


class _Recurrent(Module):
    _gates = 1

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, dtype=None, device=None,
                 generator: Optional[np.random.Generator] = None):
        super().__init__()
        name = type(self).__name__
        check_sizes_and_flags(name, input_size=input_size, hidden_size=hidden_size,
                              num_layers=num_layers, bias=bias, batch_first=batch_first)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) \
                or not 0 <= dropout <= 1:
            raise ValueError(f"{name}(): dropout should be a number in range [0, 1] "
                             f"representing the probability of an element being zeroed, "
                             f"got {dropout!r}")
        if proj_size:
            if self._gates != 4:
                raise ValueError(f"{name}(): proj_size argument is only supported for LSTM, "
                                 f"not RNN or GRU (got proj_size={proj_size!r})")
            raise NotImplementedError(f"LSTM(): proj_size={proj_size!r} (an LSTM with "
                                      f"projections) is not implemented in minnet. Hint: "
                                      f"follow the LSTM with nn.Linear(hidden_size, {proj_size}).")
        if dropout and num_layers == 1:
            warnings.warn(f"{name}(): dropout option adds dropout after all but last recurrent "
                          f"layer, so non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", stacklevel=2)
        from ..utils.device import check_device
        check_device(device, name)
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.num_layers, self.bias, self.batch_first = int(num_layers), bool(bias), batch_first
        self.dropout, self.bidirectional, self.proj_size = float(dropout), bool(bidirectional), 0
        self.generator = generator  # also draws the dropout masks
        dtype = np.dtype(dtype or DEFAULT_DTYPE)
        rows = self._gates * self.hidden_size
        for k in range(self.num_layers):
            columns = self.input_size if k == 0 else self.hidden_size * self._directions
            for suffix in self._suffixes:
                setattr(self, f"weight_ih_l{k}{suffix}", Parameter(np.empty((rows, columns), dtype)))
                setattr(self, f"weight_hh_l{k}{suffix}",
                        Parameter(np.empty((rows, self.hidden_size), dtype)))
                if self.bias:
                    setattr(self, f"bias_ih_l{k}{suffix}", Parameter(np.empty(rows, dtype)))
                    setattr(self, f"bias_hh_l{k}{suffix}", Parameter(np.empty(rows, dtype)))
        # PyTorch's init: every weight and bias from U(-1/sqrt(H), 1/sqrt(H))
        rng = get_generator(generator)
        bound = 1 / math.sqrt(self.hidden_size)
        for param in self.parameters():
            init.uniform_(param, -bound, bound, generator=rng)

    @property
    def _directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def _suffixes(self) -> tuple:
        """The parameter-name endings of the directions: forward, then backward."""
        return ("", "_reverse") if self.bidirectional else ("",)

    def _layer(self, k: int, suffix: str = "") -> tuple:
        weights = (getattr(self, f"weight_ih_l{k}{suffix}"), getattr(self, f"weight_hh_l{k}{suffix}"))
        bias = (getattr(self, f"bias_ih_l{k}{suffix}"), getattr(self, f"bias_hh_l{k}{suffix}")) \
            if self.bias else (None, None)
        return (*weights, *bias)

    def forward(self, input: Tensor, hx=None):
        """input (L, N, I) -- (N, L, I) with batch_first, or (L, I) unbatched -> output with
        H features per step, and the final state(s) shaped (num_layers, N, H)."""
        if not isinstance(input, Tensor) or input.ndim not in (2, 3):
            raise ValueError(f"{type(self).__name__}: expected input of shape (L, N, "
                             f"{self.input_size}) (or (N, L, ...) with batch_first, or (L, "
                             f"{self.input_size}) unbatched), got "
                             f"{getattr(input, 'shape', type(input).__name__)}")
        unbatched = input.ndim == 2
        x = input.unsqueeze(1) if unbatched else (input.transpose(0, 1) if self.batch_first
                                                  else input)
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{type(self).__name__}: expected {self.input_size} input features, "
                             f"got input of shape {input.shape}")
        states = self._initial_states(hx, x.shape[1], x.dtype, unbatched)
        steps = [x[t] for t in range(x.shape[0])]
        finals = []
        for k in range(self.num_layers):
            if k > 0 and self.dropout and self.training:  # between layers, not after the last
                steps = [_dropout(step, self.dropout, True, self.generator) for step in steps]
            per_direction = []
            for d, suffix in enumerate(self._suffixes):
                state = tuple(s[k * self._directions + d] for s in states)
                order = steps if d == 0 else steps[::-1]  # the reverse direction reads from the end
                outputs = []
                for step in order:
                    state = self._cell(step, state, *self._layer(k, suffix))
                    outputs.append(state[0])
                finals.append(state)
                per_direction.append(outputs if d == 0 else outputs[::-1])
            steps = per_direction[0] if len(per_direction) == 1 else \
                [ops.cat(pair, -1) for pair in zip(*per_direction)]  # (N, 2H) per step
        output = ops.stack(steps, 0)  # (L, N, D*H)
        if unbatched:
            output = output.squeeze(1)
        elif self.batch_first:
            output = output.transpose(0, 1)
        final = tuple(ops.stack([f[i] for f in finals], 0) for i in range(len(states)))
        if unbatched:
            final = tuple(f.squeeze(1) for f in final)
        return output, (final[0] if len(final) == 1 else final)

    def _initial_states(self, hx, batch: int, dtype, unbatched: bool) -> tuple:
        """The initial states, each (num_layers * directions, N, H); zeros when hx is None."""
        count = 2 if self._gates == 4 else 1
        layers = self.num_layers * self._directions
        if hx is None:
            zeros = ops.zeros(layers, batch, self.hidden_size, dtype=dtype)
            return (zeros,) * count
        hx = (hx,) if isinstance(hx, Tensor) else tuple(hx)
        if len(hx) != count:
            raise TypeError(f"{type(self).__name__}: hx should be "
                            + ("a tuple (h_0, c_0)" if count == 2 else "one tensor h_0")
                            + f", got {len(hx)} tensor(s)")
        expected = (layers, self.hidden_size) if unbatched else (layers, batch, self.hidden_size)
        for h in hx:
            if tuple(h.shape) != expected:
                raise RuntimeError(f"{type(self).__name__}: expected hidden size {expected} "
                                   f"(num_layers * num_directions, batch, hidden_size), got "
                                   f"{tuple(h.shape)}")
        if unbatched:
            hx = tuple(h.unsqueeze(1) for h in hx)
        return hx

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}"
                + (f", num_layers={self.num_layers}" if self.num_layers != 1 else "")
                + (", batch_first=True" if self.batch_first else "")
                + (f", dropout={self.dropout}" if self.dropout else "")
                + (", bidirectional=True" if self.bidirectional else ""))


class RNN(_Recurrent):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (nonlinearity 'tanh'
    or 'relu'). Returns (output, h_n)."""

    def __init__(self, *args, nonlinearity: str = "tanh", **kwargs):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN(): unknown nonlinearity {nonlinearity!r} (tanh or relu)")
        super().__init__(*args, **kwargs)
        self.nonlinearity = nonlinearity

    def _cell(self, x, state, w_ih, w_hh, b_ih, b_hh):
        (h,) = state
        pre = ops.linear(x, w_ih, b_ih) + ops.linear(h, w_hh, b_hh)
        return (ops.tanh(pre) if self.nonlinearity == "tanh" else ops.relu(pre),)


class LSTM(_Recurrent):
    """Long short-term memory. Per step, from the gates i, f, g, o (one linear map of
    [x_t, h_{t-1}] split in four):

        c_t = sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(g)     # keep some memory, add some
        h_t = sigmoid(o) * tanh(c_t)                          # what the cell shows

    Returns (output, (h_n, c_n)); ``hx`` is the initial (h_0, c_0).
    """

    _gates = 4

    def _cell(self, x, state, w_ih, w_hh, b_ih, b_hh):
        h, c = state
        gates = ops.linear(x, w_ih, b_ih) + ops.linear(h, w_hh, b_hh)  # (N, 4H)
        i, f, g, o = ops.chunk(gates, 4, dim=-1)
        c = ops.sigmoid(f) * c + ops.sigmoid(i) * ops.tanh(g)
        return ops.sigmoid(o) * ops.tanh(c), c
