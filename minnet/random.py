"""minnet's default random generator: everything random is reproducible.

Layers (weight init, Dropout) and data loaders accept ``generator=`` (a
``np.random.Generator``) or ``seed=``; when given neither they draw from this
module's default generator, which starts from seed 0 at import. Call
``minnet.manual_seed(n)`` to restart it, as with ``torch.manual_seed``.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

_DEFAULT_SEED = 0
_default = np.random.default_rng(_DEFAULT_SEED)


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
    if generator is not None:
        return generator
    if seed is not None:
        return np.random.default_rng(seed)
    return _default
