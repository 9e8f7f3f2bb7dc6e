"""``nn.GRU``: the gated recurrent unit, as PyTorch defines it, built from ops.

Per step, from input x_t and previous state h (weights stacked r, z, n, PyTorch's layout):

    r = sigmoid(W_ir x_t + b_ir + W_hr h + b_hr)        # reset: how much of h to read
    z = sigmoid(W_iz x_t + b_iz + W_hz h + b_hz)        # update: how much of h to keep
    n = tanh(W_in x_t + b_in + r * (W_hn h + b_hn))     # the candidate state
    h_t = (1 - z) * n + z * h

r multiplies ``W_hn h + b_hn`` (PyTorch's and cuDNN's variant: ``b_hn`` cannot fold into
``b_in``). ``weight_ih_l{k}`` (3H, I_k), ``weight_hh_l{k}`` (3H, H), biases (3H,); the rest
as ``nn.RNN`` (recurrent.py). Autograd differentiates the unrolled loop.
"""
from __future__ import annotations

from .. import ops
from .recurrent import _Recurrent


class GRU(_Recurrent):
    """Gated recurrent unit. Returns (output, h_n); ``hx`` is the initial h_0."""

    _gates = 3

    def _cell(self, x, state, w_ih, w_hh, b_ih, b_hh):
        (h,) = state
        x_r, x_z, x_n = ops.chunk(ops.linear(x, w_ih, b_ih), 3, dim=-1)  # each (N, H)
        h_r, h_z, h_n = ops.chunk(ops.linear(h, w_hh, b_hh), 3, dim=-1)
        r = ops.sigmoid(x_r + h_r)
        z = ops.sigmoid(x_z + h_z)
        n = ops.tanh(x_n + r * h_n)
        return ((1 - z) * n + z * h,)
