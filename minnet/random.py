"""minnet's default random generator: everything random is reproducible.

Layers (weight init, Dropout) and data loaders accept ``generator=`` (a
``np.random.Generator`` or a ``minnet.Generator``) or ``seed=``; when given neither they draw from this
module's default generator, which starts from seed 0 at import. Call
``minnet.manual_seed(n)`` to restart it, as with ``torch.manual_seed``.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

_DEFAULT_SEED = 0
_default = np.random.default_rng(_DEFAULT_SEED)


class Generator:
    """PyTorch's ``torch.Generator``: ``g = minnet.Generator().manual_seed(42)``.

    A seedable stream of random numbers that minnet's random functions take as
    ``generator=``. It wraps a ``np.random.Generator`` (PCG64) and answers its
    methods too (``g.standard_normal(3)``), so it works wherever one is expected.
    The same seed gives the same numbers run after run, but not PyTorch's numbers:
    PyTorch uses another algorithm (Mersenne Twister).
    """

    def __init__(self, device="cpu"):
        from .utils.device import check_device
        check_device(device, "Generator")
        self._initial_seed = int(np.random.SeedSequence().entropy % 2 ** 63)
        self._rng = np.random.default_rng(self._initial_seed)

    def manual_seed(self, seed: int) -> "Generator":
        """Restart the stream from ``seed``; returns the generator (as PyTorch)."""
        self._initial_seed = int(seed)
        self._rng = np.random.default_rng(self._initial_seed)
        return self

    def seed(self) -> int:
        """Reseed from fresh entropy and return the new seed."""
        self.manual_seed(int(np.random.SeedSequence().entropy % 2 ** 63))
        return self._initial_seed

    def initial_seed(self) -> int:
        return self._initial_seed

    def get_state(self) -> dict:
        return self._rng.bit_generator.state

    def set_state(self, state: dict) -> "Generator":
        self._rng.bit_generator.state = state
        return self

    @property
    def device(self):
        from .utils.device import device
        return device("cpu")

    def __getattr__(self, name):
        # everything else (standard_normal, permutation, ...) is the NumPy generator's
        return getattr(self.__dict__["_rng"], name)


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the default generator (and return it)."""
    global _default
    _default = np.random.default_rng(seed)
    return _default


def default_generator() -> np.random.Generator:
    return _default


def get_generator(generator: Optional[np.random.Generator] = None,
                  seed: Optional[int] = None) -> np.random.Generator:
    """The generator to use: an explicit one, else a fresh one from ``seed``, else the default."""
    if isinstance(generator, Generator):
        return generator._rng
    if generator is not None:
        return generator
    if seed is not None:
        return np.random.default_rng(seed)
    return _default
