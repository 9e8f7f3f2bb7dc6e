"""Compile (or load from Numba's disk cache) minnet's kernels once, before tests are forked.

Every lab test runs in a forked child (see isolation.py). A child starts with
whatever the parent had loaded; what it loads itself is lost when it ends. The
first call of a Numba kernel in a fresh process costs about a second (importing
Numba, loading the compiled kernel for that argument type), so without a
warm-up every test that trains a conv net or uses a Monitor would pay that
second again. ``warm_up()`` runs a tiny workload through the kernels in the
parent, in float32 and float64, so the children inherit them ready to run.
"""
from __future__ import annotations

import warnings


def warm_up() -> None:
    """Load matplotlib (Agg) and run every kernel once per float dtype (what it costs:
    docs/performance.md, "The grader")."""
    warm_up_matplotlib()
    warm_up_kernels()


def warm_up_matplotlib() -> None:
    """Import pyplot with the Agg backend (what graded figure checks use) and load a font."""
    import io
    import sys

    import matplotlib
    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import minnet.viz  # noqa: F401  -- the visualisers import pyplot too

    figure = plt.figure(figsize=(1, 1))
    figure.gca().set_title("warm-up")
    figure.savefig(io.BytesIO(), format="png")
    plt.close(figure)


def warm_up_kernels() -> None:
    """Run a tiny conv net with a Monitor under SGD+momentum and Adam, in float32 and float64."""
    import numpy as np

    import minnet
    from minnet import nn, optim
    from minnet.debug import Monitor

    if not minnet.kernels.jit_enabled():
        return  # MINNET_NO_JIT=1: the NumPy reference kernels need no warm-up
    # minnet's default generator is put back afterwards: every test then starts from the same
    # random state with or without the warm-up (MINNET_NO_JIT, --lab-no-warmup), so a layer
    # built without a seed gets the same weights everywhere (a student release replays
    # reference calls by their arguments, weights included)
    default = minnet.random._default
    try:
        _train_tiny_nets(np, minnet, nn, optim, Monitor)
    finally:
        minnet.random._default = default


def _train_tiny_nets(np, minnet, nn, optim, Monitor) -> None:
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            minnet.manual_seed(0)
            model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(2, 2, 3, padding=1), nn.AvgPool2d(2), nn.Flatten(),
                                  nn.Linear(2 * 2 * 2, 3))
            if dtype == np.float64:
                model.double()
            x = minnet.tensor(rng.standard_normal((4, 1, 8, 8)).astype(dtype))
            y = minnet.tensor(np.array([0, 1, 2, 0]))
            loss_fn = nn.CrossEntropyLoss()
            for optimizer in (optim.SGD(model.parameters(), lr=0.01, momentum=0.9),
                              optim.Adam(model.parameters(), lr=1e-3)):
                with Monitor(model, optimizer):
                    for _ in range(2):
                        optimizer.zero_grad()
                        loss_fn(model(x), y).backward()
                        optimizer.step()
