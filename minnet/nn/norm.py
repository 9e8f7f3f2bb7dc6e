"""Normalisation layers: ``BatchNorm1d``, ``BatchNorm2d``, ``LayerNorm``, ``GroupNorm``,
``InstanceNorm1d`` and ``InstanceNorm2d``."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..ops.norm import batch_norm
from ..tensor import DEFAULT_DTYPE, Tensor
from . import init
from .linear import check_device, where_called
from .module import Module, Parameter


class _BatchNorm(Module):
    """Normalise each channel to zero mean / unit variance, then scale and shift.

    Parameters (``affine``): weight (C,) = 1, bias (C,) = 0, so a fresh layer is a pure
    normaliser. Buffers (``track_running_stats``, PyTorch's names): running_mean (C,) = 0,
    running_var (C,) = 1 (an untrained layer evaluates close to the identity),
    num_batches_tracked. Training mode uses the batch's statistics and updates
    ``running = (1 - momentum) * running + momentum * batch_stat`` (variance unbiased;
    ``momentum=None``: a cumulative average); eval mode uses the running ones.
    """

    _expected_dims: tuple = ()
    _layout: str = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: Optional[float] = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device=None,
                 dtype=None, *, bias: bool = True):
        super().__init__()
        check_device(device, type(self).__name__)
        if not isinstance(num_features, (int, np.integer)) or num_features <= 0:
            raise ValueError(f"{type(self).__name__}(): num_features must be a positive integer "
                             f"(the number of channels), got {num_features!r}")
        self.num_features = int(num_features)
        if isinstance(eps, bool) or not isinstance(eps, (int, float, np.floating)) or not eps > 0:
            raise ValueError(f"{type(self).__name__}(): eps must be positive (it keeps the "
                             f"division by the batch's std finite), got {eps!r}")
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        dtype = np.dtype(dtype or DEFAULT_DTYPE)
        if affine:
            self.weight = Parameter(np.empty(self.num_features, dtype=dtype))
            if bias:  # bias=False: a learned scale but no shift (PyTorch 2.13's option)
                self.bias = Parameter(np.empty(self.num_features, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(self.num_features, dtype=dtype)))
            self.register_buffer("running_var", Tensor(np.ones(self.num_features, dtype=dtype)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean._data[...] = 0
            self.running_var._data[...] = 1
            self.num_batches_tracked._data[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def _check_input(self, input: Tensor) -> None:
        name = f"{type(self).__name__}({self.num_features}){where_called()}"
        if not isinstance(input, Tensor):
            raise TypeError(f"{name} expected a Tensor, got {type(input).__name__}")
        if input.ndim not in self._expected_dims:
            raise ValueError(f"{name} expected {self._layout} input, got shape {input.shape}. "
                             f"Hint: {self._dims_hint()}")
        if input._data.dtype.kind != "f":
            raise TypeError(f"{name} expected a {self.weight_dtype()} input (the dtype of its "
                            f"parameters and running statistics), got dtype {input._data.dtype}. "
                            f"Hint: convert the input with .float() (or the layer with "
                            f".double() for float64 data).")
        if input.shape[1] != self.num_features:
            raise ValueError(f"{name} expected {self.num_features} channels in dim 1 of a "
                             f"{self._layout} input, got shape {input.shape} with "
                             f"{input.shape[1]}. Hint: num_features must equal the previous "
                             f"layer's output channels/features ({input.shape[1]}).")

    def _dims_hint(self) -> str:
        return ""

    def weight_dtype(self) -> np.dtype:
        """The dtype inputs must have: that of the running statistics (or the weight)."""
        for tensor in (self.running_mean, self.weight):
            if tensor is not None:
                return tensor._data.dtype
        return np.dtype(np.float32)

    def forward(self, input: Tensor) -> Tensor:
        self._check_input(input)
        average_factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked._data[...] += 1  # in place, as PyTorch
            if self.momentum is None:  # cumulative moving average
                average_factor = 1.0 / float(self.num_batches_tracked._data)
        # batch statistics in training, and also in eval when there are no running ones
        use_batch_stats = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return batch_norm(input,
                          self.running_mean if track else None,
                          self.running_var if track else None,
                          self.weight, self.bias, use_batch_stats, average_factor, self.eps)

    def extra_repr(self) -> str:
        # bias= says whether there is a bias Parameter (False with affine=False), as PyTorch
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch norm over (N, C) or (N, C, L) inputs; statistics per channel C.

    See ``_BatchNorm`` for parameters, buffers and defaults.
    """

    _expected_dims = (2, 3)
    _layout = "(N, C) or (N, C, L)"

    def _dims_hint(self) -> str:
        return "use BatchNorm2d for images (N, C, H, W); for a single sample add a batch dim."


class BatchNorm2d(_BatchNorm):
    """Batch norm over images (N, C, H, W); statistics per channel over N, H and W.

    See ``_BatchNorm`` for parameters, buffers and defaults.
    """

    _expected_dims = (4,)
    _layout = "(N, C, H, W)"

    def _dims_hint(self) -> str:
        return "use BatchNorm1d after Linear layers ((N, C) inputs)."


class LayerNorm(Module):
    """Normalise each sample over its last dims, then scale and shift (``torch.nn.LayerNorm``).

    ``LayerNorm(normalized_shape, eps=1e-5, elementwise_affine=True, bias=True)``: input
    (*, *normalized_shape), e.g. (N, L, d) with ``LayerNorm(d)``. Parameters
    (``elementwise_affine``): weight = 1 and bias = 0, of shape ``normalized_shape``. The
    statistics are the sample's own, so a sample's output does not depend on its batch and
    train and eval behave the same (no running statistics, unlike BatchNorm).
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device=None, dtype=None):
        super().__init__()
        check_device(device, "LayerNorm")
        shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) \
            else normalized_shape
        if not isinstance(shape, (tuple, list)) or not shape or not all(
                isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0
                for d in shape):
            raise ValueError(f"LayerNorm(): normalized_shape must be a positive int or a "
                             f"non-empty tuple of them (the sizes of the input's last dims), "
                             f"got {normalized_shape!r}. Hint: LayerNorm(d) for (N, L, d) "
                             f"inputs.")
        self.normalized_shape = tuple(int(d) for d in shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        dtype = np.dtype(dtype or DEFAULT_DTYPE)
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype=dtype))
            if bias:
                self.bias = Parameter(np.zeros(self.normalized_shape, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def reset_parameters(self) -> None:
        """weight = 1 and bias = 0: a fresh layer only normalises."""
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:
        self._check_input(input)
        from .functional import layer_norm
        return layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def _check_input(self, input) -> None:
        """Errors that name the layer (F.layer_norm's own would not say which layer)."""
        dims = len(self.normalized_shape)
        if isinstance(input, Tensor) and input._data.dtype.kind == "f" \
                and input.shape[input.ndim - dims:] == self.normalized_shape:
            return  # the common case: no message to build
        name = f"LayerNorm({self.normalized_shape}){where_called()}"
        if not isinstance(input, Tensor):
            raise TypeError(f"{name} expected a Tensor input, got {type(input).__name__}. "
                            f"Hint: wrap data with minnet.tensor(...).")
        if input._data.dtype.kind != "f":
            raise TypeError(f"{name} expected a floating-point input, got dtype "
                            f"{input._data.dtype}. Hint: convert with .float().")
        shape = ", ".join(str(d) for d in self.normalized_shape)
        raise ValueError(f"{name} expected an input whose last {dims} dim(s) are "
                         f"{self.normalized_shape}, i.e. of shape (*, {shape}), got shape "
                         f"{input.shape}. Hint: LayerNorm(d) normalises the last axis; "
                         f"normalized_shape must equal the input's trailing sizes, e.g. the "
                         f"d features of (N, L, d).")

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


def _normalise(x: Tensor, dims: tuple, eps: float) -> Tensor:
    """(x - mean) / sqrt(var + eps) over ``dims`` (biased variance), built from ops, so
    autograd differentiates it."""
    mean = x.mean(dim=dims, keepdim=True)
    var = x.var(dim=dims, keepdim=True, unbiased=False)
    return (x - mean) * (var + eps).rsqrt()


def _per_channel(param: Tensor, ndim: int) -> Tensor:
    """A (C,) parameter or statistic shaped (1, C, 1, ...) to broadcast over (N, C, ...)."""
    return param.reshape((1, -1) + (1,) * (ndim - 2))


def _add_affine(module: Module, affine: bool, bias: bool, channels: int, dtype) -> None:
    """weight (C,) = 1 and bias (C,) = 0 when ``affine`` (no bias with ``bias=False``)."""
    module.register_parameter("weight", Parameter(np.ones(channels, dtype=dtype))
                              if affine else None)
    module.register_parameter("bias", Parameter(np.zeros(channels, dtype=dtype))
                              if affine and bias else None)


def _scale_and_shift(out: Tensor, weight: Optional[Tensor], bias: Optional[Tensor]) -> Tensor:
    if weight is not None:
        out = out * _per_channel(weight, out.ndim)
    if bias is not None:
        out = out + _per_channel(bias, out.ndim)
    return out


class GroupNorm(Module):
    """Split the C channels into ``num_groups`` groups and normalise each group of each
    sample (over its channels and positions); then a per-channel scale and shift.

    Unlike BatchNorm it does not depend on the batch (works with batch size 1, same in
    train and eval); ``num_groups=1`` normalises each sample like LayerNorm over (C, ...),
    ``num_groups=C`` each channel like InstanceNorm. Input (N, C, *).
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, bias: bool = True, device=None, dtype=None):
        super().__init__()
        check_device(device, "GroupNorm")
        for name, value in (("num_groups", num_groups), ("num_channels", num_channels)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"GroupNorm(): {name} must be a positive integer, got {value!r}")
        if num_channels % num_groups != 0:
            raise ValueError(f"GroupNorm(): num_channels ({num_channels}) must be divisible by "
                             f"num_groups ({num_groups})")
        self.num_groups, self.num_channels = int(num_groups), int(num_channels)
        self.eps, self.affine = eps, affine
        dtype = np.dtype(dtype or DEFAULT_DTYPE)
        _add_affine(self, affine, bias, self.num_channels, dtype)

    def forward(self, input: Tensor) -> Tensor:
        if not isinstance(input, Tensor) or input.ndim < 2 \
                or input.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm({self.num_groups}, {self.num_channels})"
                             f"{where_called()}: expected input of shape (N, "
                             f"{self.num_channels}, *), got "
                             f"{getattr(input, 'shape', type(input).__name__)}")
        n = input.shape[0]
        grouped = input.reshape(n, self.num_groups, -1)  # (N, G, C/G * positions)
        out = _normalise(grouped, (2,), self.eps).reshape(input.shape)
        return _scale_and_shift(out, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"


class _InstanceNorm(Module):
    """Normalise each channel of each sample over its positions (style transfer, GANs);
    input (N, C, *spatial) or (C, *spatial). ``affine`` (default False, as PyTorch): a
    per-channel scale and shift. ``track_running_stats=True``: training also averages the
    samples' statistics into running_mean/running_var (variance unbiased, as BatchNorm),
    which eval mode then uses instead of each sample's own."""

    _spatial_dims = 1

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: Optional[float] = 0.1,
                 affine: bool = False, track_running_stats: bool = False, device=None,
                 dtype=None, *, bias: bool = True):
        super().__init__()
        name = type(self).__name__
        check_device(device, name)
        if isinstance(num_features, bool) or not isinstance(num_features, (int, np.integer)) \
                or num_features < 1:
            raise ValueError(f"{name}(): num_features must be a positive integer, got "
                             f"{num_features!r}")
        if track_running_stats and momentum is None:
            raise NotImplementedError(f"{name}(): momentum=None (a cumulative average) with "
                                      f"track_running_stats=True is not implemented in minnet. "
                                      f"Hint: give momentum a number, e.g. 0.1.")
        self.num_features, self.eps, self.momentum = int(num_features), eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        dtype = np.dtype(dtype or DEFAULT_DTYPE)
        _add_affine(self, affine, bias, self.num_features, dtype)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(self.num_features, dtype=dtype)))
            self.register_buffer("running_var", Tensor(np.ones(self.num_features, dtype=dtype)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, dtype=np.int64)))
        else:
            for buffer in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(buffer, None)

    def forward(self, input: Tensor) -> Tensor:
        batched = 2 + self._spatial_dims
        name = f"{type(self).__name__}({self.num_features}){where_called()}"
        if not isinstance(input, Tensor) or input.ndim not in (batched - 1, batched):
            raise ValueError(f"{name}: expected input of {batched - 1} or {batched} dims, got "
                             f"{getattr(input, 'shape', type(input).__name__)}")
        x = input.unsqueeze(0) if input.ndim == batched - 1 else input
        if (self.affine or self.track_running_stats) and x.shape[1] != self.num_features:
            raise ValueError(f"{name}: expected {self.num_features} channels in dim "
                             f"{input.ndim - 1 - self._spatial_dims}, got shape {input.shape}")
        positions = tuple(range(2, x.ndim))
        if self.track_running_stats and not self.training:
            mean = _per_channel(self.running_mean, x.ndim)
            out = (x - mean) * (_per_channel(self.running_var, x.ndim) + self.eps).rsqrt()
        else:
            if self.track_running_stats:
                self._update_running_stats(x, positions)
            out = _normalise(x, positions, self.eps)
        out = _scale_and_shift(out, self.weight, self.bias)
        return out.squeeze(0) if input.ndim == batched - 1 else out

    def _update_running_stats(self, x: Tensor, positions: tuple) -> None:
        """running = (1 - momentum) * running + momentum * (the statistic averaged over N)."""
        data = x._data
        mean = data.mean(axis=positions).mean(axis=0)
        var = data.var(axis=positions, ddof=1).mean(axis=0)  # unbiased, as BatchNorm's
        m = self.momentum
        self.running_mean._data[...] = (1 - m) * self.running_mean._data + m * mean
        self.running_var._data[...] = (1 - m) * self.running_var._data + m * var
        # num_batches_tracked stays 0: PyTorch keeps the buffer (state-dict layout) but its
        # instance norm never counts

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class InstanceNorm1d(_InstanceNorm):
    """Instance norm of (N, C, L) or (C, L) inputs."""

    _spatial_dims = 1


class InstanceNorm2d(_InstanceNorm):
    """Instance norm of (N, C, H, W) or (C, H, W) inputs."""

    _spatial_dims = 2

