"""A run that cannot start: the debugger must say so, not report a clean bill of health."""
from __future__ import annotations

from .. import nn, optim
from ..debug.setup import Setup
from ..random import manual_seed
from . import scenario
from ._datasets import digits_subset


@scenario("shape_mismatch", codes=("run.crashed",),
          summary="the first layer expects 63 features but the digits have 64: the first step raises",
          wrong="nn.Linear(63, 32) as the first layer on 8x8 digits flattened to 64 features: the "
                "very first forward pass raises a shape error, so nothing trains.",
          fix="nn.Linear(64, 32): the layer's in_features matches the data's 64 features.")
def shape_mismatch(broken: bool) -> Setup:
    X, y = digits_subset(400)
    manual_seed(0)
    model = nn.Sequential(nn.Linear(63 if broken else 64, 32), nn.ReLU(), nn.Linear(32, 10))
    return Setup(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-2), (X, y),
                 steps=100)
