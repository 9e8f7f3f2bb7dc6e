"""Changing an image's (or a sequence's) size: ``interpolate`` (nearest and (bi)linear, as
``torch.nn.functional.interpolate``) and ``pixel_shuffle``/``pixel_unshuffle``.

Both interpolation modes work one spatial axis at a time (bilinear is linear along H, then
along W): each output position reads from a source coordinate ``src`` in the input. Nearest
picks one entry, linear mixes the two neighbours ``floor(src)`` and ``floor(src) + 1`` with
weights ``1 - frac`` and ``frac``. The picks are ``index_select``s, so the backward adds each
output's gradient back onto the entries it read (an entry read twice gets both).
"""
from __future__ import annotations

import math

import numpy as np

from ..tensor import Tensor
from .indexing import index_select

MODES = {"nearest": 1, "nearest-exact": 1, "linear": 1, "bilinear": 2, "trilinear": 3}


def _source_coordinates(out_size: int, in_size: int, ratio: float, mode: str,
                        align_corners: bool) -> np.ndarray:
    """Where each output position reads in the input (PyTorch's conventions)."""
    positions = np.arange(out_size, dtype=np.float64)
    if mode == "nearest":
        return np.minimum(np.floor(positions * ratio), in_size - 1)
    if mode == "nearest-exact":
        return np.minimum(np.floor((positions + 0.5) * ratio), in_size - 1)
    if align_corners:   # the corners of input and output coincide
        return positions * ((in_size - 1) / (out_size - 1) if out_size > 1 else 0.0)
    # pixel centres coincide; a coordinate before the first centre reads the first pixel
    return np.maximum((positions + 0.5) * ratio - 0.5, 0.0)


def _resample_axis(x: Tensor, axis: int, out_size: int, ratio: float, mode: str,
                   align_corners: bool) -> Tensor:
    in_size = x.shape[axis]
    source = _source_coordinates(out_size, in_size, ratio, mode, align_corners)
    if mode.startswith("nearest"):
        return index_select(x, axis, source.astype(np.int64))
    lower = np.floor(source).astype(np.int64)
    upper = np.minimum(lower + 1, in_size - 1)
    shape = [1] * x.ndim
    shape[axis] = out_size
    frac = Tensor((source - lower).reshape(shape).astype(x.dtype))
    return index_select(x, axis, lower) * (1 - frac) + index_select(x, axis, upper) * frac


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
                align_corners=None, recompute_scale_factor=None, antialias: bool = False
                ) -> Tensor:
    """Resize the spatial dims of (N, C, L), (N, C, H, W) or (N, C, D, H, W) inputs to
    ``size`` or by ``scale_factor`` (one number or one per spatial dim).

    ``mode``: 'nearest' (PyTorch's default: src = floor(dst * in / out)), 'nearest-exact',
    'linear' (3-D input), 'bilinear' (4-D), 'trilinear' (5-D). ``align_corners`` (linear
    modes only): True maps the corner pixels onto each other, False (the default) the
    pixel centres. With ``scale_factor`` the coordinates use 1 / scale_factor, as PyTorch,
    unless ``recompute_scale_factor=True``.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"interpolate(): input must be a Tensor, got {type(input).__name__}")
    spatial = input.ndim - 2
    if spatial < 1 or spatial > 3:
        raise ValueError(f"interpolate(): expected a 3-D, 4-D or 5-D input (N, C, *spatial), "
                         f"got shape {input.shape}. Hint: add a batch dim with unsqueeze(0).")
    if mode not in MODES:
        raise ValueError(f"interpolate(): mode must be one of {sorted(MODES)}, got {mode!r} "
                         f"(bicubic and area are not in minnet)")
    if MODES[mode] != 1 and MODES[mode] != spatial:
        raise ValueError(f"interpolate(): mode {mode!r} needs a {MODES[mode] + 2}-D input, "
                         f"got shape {input.shape}")
    if mode == "linear" and spatial != 1:
        raise ValueError(f"interpolate(): mode 'linear' needs a 3-D input, got shape "
                         f"{input.shape}. Hint: 'bilinear' for images.")
    if align_corners is not None and mode.startswith("nearest"):
        raise ValueError("interpolate(): align_corners is for the linear modes only")
    if antialias:
        raise ValueError("interpolate(): antialias=True is not supported by minnet")
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate(): give exactly one of size and scale_factor")
    in_sizes = input.shape[2:]
    if size is not None:
        out_sizes = tuple(size) if isinstance(size, (tuple, list)) else (size,) * spatial
        ratios = [i / o for i, o in zip(in_sizes, out_sizes)]
    else:
        factors = (tuple(scale_factor) if isinstance(scale_factor, (tuple, list))
                   else (scale_factor,) * spatial)
        out_sizes = tuple(int(math.floor(i * f)) for i, f in zip(in_sizes, factors))
        ratios = ([i / o for i, o in zip(in_sizes, out_sizes)] if recompute_scale_factor
                  else [1 / f for f in factors])
    if len(out_sizes) != spatial or min(out_sizes) < 1:
        raise ValueError(f"interpolate(): the output size {out_sizes} must have {spatial} "
                         f"positive entries for input {input.shape}")
    out = input
    for axis, (out_size, ratio) in enumerate(zip(out_sizes, ratios), start=2):
        out = _resample_axis(out, axis, out_size, ratio, mode, bool(align_corners))
    return out


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(N, C * r^2, H, W) -> (N, C, H * r, W * r): each group of r^2 channels becomes an
    r x r block of pixels (sub-pixel convolution). A reshape and a permute."""
    r = upscale_factor
    *batch, channels, height, width = input.shape
    if channels % (r * r):
        raise ValueError(f"pixel_shuffle(): the channels ({channels}) must be divisible by "
                         f"upscale_factor^2 = {r * r}")
    lead = len(batch)
    split = input.reshape(*batch, channels // (r * r), r, r, height, width)
    order = tuple(range(lead)) + tuple(lead + d for d in (0, 3, 1, 4, 2))
    return split.permute(*order).reshape(*batch, channels // (r * r), height * r, width * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(N, C, H * r, W * r) -> (N, C * r^2, H, W): pixel_shuffle undone."""
    r = downscale_factor
    *batch, channels, height, width = input.shape
    if height % r or width % r:
        raise ValueError(f"pixel_unshuffle(): height ({height}) and width ({width}) must be "
                         f"divisible by downscale_factor = {r}")
    lead = len(batch)
    split = input.reshape(*batch, channels, height // r, r, width // r, r)
    order = tuple(range(lead)) + tuple(lead + d for d in (0, 2, 4, 1, 3))
    return split.permute(*order).reshape(*batch, channels * r * r, height // r, width // r)
