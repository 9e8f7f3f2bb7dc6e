"""The Tensor, and the graph its ops record for the backward pass.

A `Tensor` wraps a NumPy array. Every op (``minnet/ops/``) ends with
``Tensor._from_op``: if an input needs a gradient, the result keeps ``_parents``
(its inputs) and ``_backward``, a closure ``grad_out -> (grad_input_0, ...)``
written next to the op's forward (one array or None per input, shaped like it),
plus ``op`` and ``module`` (``"model.2 (ReLU)"``) for messages.
``Tensor.backward()`` hands this graph to ``minnet/engine.py``, which walks it.
"""
from __future__ import annotations

import functools
from typing import Callable, NamedTuple, Optional, Sequence

import numpy as np

DEFAULT_DTYPE = np.float32


# --------------------------------------------------------------------------
# Global autograd state
# --------------------------------------------------------------------------
class ModuleCall(NamedTuple):
    """An entry of the module stack: a module whose ``forward`` is running."""

    label: str      # "model.2 (ReLU)": what each op it runs records as its ``module``
    module: object  # the nn.Module itself
    path: str       # "model.2": the start of its children's paths


class _AutogradState:
    """Process-wide state read by every op and by the engine.

    The observers are how the debugger (anomaly mode) and gradcheck watch every
    op without patching anything: a forward observer gets ``(result, inputs)``
    for each new op result (``result._parents`` is empty if no graph was
    recorded), a backward observer ``(node, grad_out, input_grads)`` after each
    node's backward. ``current_node`` is the node the engine is on, or None.
    """

    def __init__(self):
        self.grad_enabled = True
        self.module_stack: list[ModuleCall] = []  # innermost last (nn.Module.__call__)
        self.forward_observers: list[Callable] = []
        self.backward_observers: list[Callable] = []
        self.current_node: Optional["Tensor"] = None
        self.final_callbacks: list[Callable] = []  # run when the backward pass ends


_state = _AutogradState()


def queue_callback(callback: Callable) -> None:
    """Run ``callback()`` once, when the backward pass now under way has finished.

    Module backward hooks use it to fire even when some input received no gradient.
    """
    _state.final_callbacks.append(callback)


def is_grad_enabled() -> bool:
    return _state.grad_enabled


class set_grad_enabled:
    """Turn graph recording on or off: a call, a context manager or a decorator.

    As in PyTorch, ``set_grad_enabled(False)`` takes effect at once;
    ``with set_grad_enabled(False): ...`` restores the previous mode on exit;
    ``@set_grad_enabled(False)`` applies the mode only while the function runs.
    """

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self._previous = _state.grad_enabled
        _state.grad_enabled = self.mode  # takes effect at once, as in PyTorch

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _state.grad_enabled = self._previous
        return False

    def __call__(self, func):
        # used as a decorator: the constructor already switched the mode; undo
        # that, and switch only while ``func`` runs
        _state.grad_enabled = self._previous
        mode = self.mode

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return func(*args, **kwargs)

        return wrapper


class no_grad:
    """Disable graph recording: ``with minnet.no_grad(): ...`` or ``@minnet.no_grad()``.

    Use it for evaluation and for optimizer updates: no graph is built, so
    nothing is kept alive for a backward pass that will never come.
    """

    _mode = False

    def __new__(cls, func=None):
        # ``@no_grad`` without parentheses: decorate ``func`` directly
        if func is not None and callable(func):
            return cls()(func)
        return super().__new__(cls)

    def __init__(self, func=None):
        self._previous = []  # a stack, so one instance can be entered re-entrantly

    def __enter__(self):
        self._previous.append(_state.grad_enabled)
        _state.grad_enabled = self._mode
        return self

    def __exit__(self, *exc):
        _state.grad_enabled = self._previous.pop()
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return func(*args, **kwargs)

        return wrapper


class enable_grad(no_grad):
    """Re-enable graph recording inside a ``no_grad`` block."""

    _mode = True


def current_module() -> Optional[str]:
    """The label of the innermost module being called (``"model.2 (ReLU)"``), or None."""
    stack = _state.module_stack
    return stack[-1].label if stack else None


# --------------------------------------------------------------------------
# Hooks
# --------------------------------------------------------------------------
class RemovableHandle:
    """Returned by every ``register_*_hook``; ``handle.remove()`` detaches the hook."""

    _next_id = 0

    def __init__(self, hooks: dict):
        self._hooks = hooks
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self):
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False


# --------------------------------------------------------------------------
# dtype helpers
# --------------------------------------------------------------------------
def _as_array(data, dtype=None) -> np.ndarray:
    """Convert user data to an ndarray following PyTorch's dtype rules.

    Python floats / lists of floats become float32 (the default dtype); NumPy
    arrays keep their floating dtype (float64 stays float64, as with
    ``torch.tensor(np_array)``); integers become int64; booleans stay bool.
    """
    if isinstance(data, Tensor):
        data = data._data
    if dtype is not None:
        return np.array(data, dtype=np.dtype(dtype))
    if isinstance(data, (np.ndarray, np.floating)):   # (a np.float64 scalar keeps float64)
        array = np.array(data)
    else:
        array = np.array(data)
        if array.dtype.kind == "f":
            array = array.astype(DEFAULT_DTYPE)
    if array.dtype.kind in "iu":
        array = array.astype(np.int64)
    elif array.dtype.kind == "O":
        raise TypeError(f"tensor(): cannot make a tensor from {type(data).__name__} data "
                        f"(got object array: are the rows of different lengths?)")
    elif array.dtype.kind not in "fb":
        raise TypeError(f"tensor(): cannot make a tensor of dtype {array.dtype} (from "
                        f"{type(data).__name__} data): minnet's tensors hold floats, integers "
                        f"or booleans (no strings, no complex numbers). Hint: encode labels as "
                        f"integers first, e.g. with a dict from name to index.")
    return array


# --------------------------------------------------------------------------
# Tensor
# --------------------------------------------------------------------------
class Tensor:
    """A NumPy array that can record the operations applied to it.

    Shapes and dtypes follow NumPy; names follow PyTorch (``shape``, ``dtype``,
    ``requires_grad``, ``grad``, ``backward()``, ``detach()``, ``item()``).
    """

    __slots__ = ("_data", "_grad", "requires_grad", "_parents", "_backward", "op",
                 "module", "_hooks", "_retains_grad", "_version_box", "_saved_versions",
                 "__weakref__")

    __array_priority__ = 1000  # so that ndarray + Tensor calls Tensor.__radd__

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        if dtype is None and isinstance(data, (list, tuple)):
            dtype = DEFAULT_DTYPE  # torch.Tensor([1, 2]) is float32 (torch.tensor infers)
        self._data = _as_array(data, dtype)
        self._grad: Optional[Tensor] = None
        self._parents: tuple = ()
        self._backward = None
        self.op: Optional[str] = None
        self.module: Optional[str] = None
        self._hooks: Optional[dict] = None
        self._retains_grad = False
        self._version_box = None  # [version, last in-place op], shared with views
        self._saved_versions = ()
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # -- construction of op results ------------------------------------------
    @classmethod
    def _from_op(cls, data: np.ndarray, parents: Sequence["Tensor"],
                 backward: Callable, op: str, saved: Optional[Sequence["Tensor"]] = None,
                 saves_output: bool = False) -> "Tensor":
        """Wrap an op's output. Records the graph only if some parent needs grad.

        Every op in ``minnet/ops`` ends with this call; it is the single place
        where the graph is built. ``saved`` names the inputs whose values the
        backward closure reads (default: every parent; ``()`` for ops such as
        add that need none), ``saves_output`` says it reads the output (exp,
        tanh, ...). Their versions are noted now and checked by backward(), so
        an in-place change in between raises instead of giving a wrong gradient.
        """
        out = cls.__new__(cls)
        out._data = data
        out._grad = None
        out.op = op
        out._hooks = None
        out._retains_grad = False
        out._version_box = None
        out._saved_versions = ()
        stack = _state.module_stack
        out.module = stack[-1].label if stack else None
        out.requires_grad = False
        out._parents = ()
        out._backward = None
        if _state.grad_enabled:
            for parent in parents:
                if parent.requires_grad:
                    out.requires_grad = True
                    out._parents = tuple(parents)
                    out._backward = backward
                    out._saved_versions = _note_versions(parents if saved is None else saved,
                                                         saves_output)
                    break
        for observer in _state.forward_observers:
            observer(out, parents)
        return out

    # -- basic properties ------------------------------------------------------
    @property
    def data(self) -> "Tensor":
        """This tensor's values as a new leaf sharing its memory: ``x.detach()``, as in PyTorch.

        The result has ``requires_grad=False`` and no ``grad_fn``, so ``p.data.add_(...)``
        is allowed even on a parameter while gradients are recorded. One difference from
        PyTorch, on purpose: it counts versions with ``self`` (as ``detach()`` does), so
        changing through it a tensor an op saved for backward raises instead of giving a
        wrong gradient (docs/pytorch.md). For the NumPy array, use ``.numpy()``.
        """
        return self.detach()

    @data.setter
    def data(self, value: "Tensor") -> None:
        """``p.data = new``: ``p`` takes ``new``'s memory; its shape and dtype may change."""
        if not isinstance(value, Tensor):
            raise TypeError(f"Tensor.data = ...: expected a Tensor, got {type(value).__name__}. "
                            "Hint: wrap an array with minnet.from_numpy(array), or write into "
                            "the tensor's memory with t.data.copy_(values) or t.data[...] = values.")
        if self.requires_grad and value._data.dtype.kind != "f":
            raise RuntimeError(f"Tensor.data = ...: data set to a tensor that requires gradients "
                               f"must be floating point, got dtype {value._data.dtype}. Hint: "
                               f"convert with .float() first.")
        if value._data is self._data:
            return  # ``p.data += x`` changed p in place, then assigns the same memory back
        self._data = value._data
        # new memory: views of the old memory keep the old counter; this one moves on, so
        # an op that saved this tensor before the assignment refuses to run its backward
        self._version_box = [self._version + 1, "Tensor.data = ..."]

    @property
    def grad(self) -> Optional["Tensor"]:
        """d(loss)/d(self) after backward(), for leaves (and retain_grad() tensors); else None."""
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        if value is not None and not isinstance(value, Tensor):
            raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type "
                            f"{type(value).__name__}. Hint: write `x.grad = None` (or "
                            f"x.grad.zero_()) to reset a gradient.")
        self._grad = value

    @property
    def device(self):
        """Always the CPU, ``device(type='cpu')`` (equal to "cpu"): minnet runs on NumPy."""
        from .utils.device import CPU
        return CPU

    @property
    def is_cuda(self) -> bool:
        return False

    def cuda(self, device=None, non_blocking: bool = False) -> "Tensor":
        """Raises: minnet has no GPU (as PyTorch on a machine without one)."""
        from .utils.device import check_device
        check_device("cuda" if device is None else f"cuda:{device}"
                     if isinstance(device, int) else device, "Tensor.cuda()")
        return self

    @property
    def shape(self) -> tuple:
        return self._data.shape

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    def size(self, dim: Optional[int] = None):
        """PyTorch's ``size()``: the shape, or one entry of it."""
        return self._data.shape if dim is None else self._data.shape[dim]

    def numel(self) -> int:
        return self._data.size

    nelement = numel

    def __len__(self) -> int:
        return len(self._data)

    @property
    def is_leaf(self) -> bool:
        """True for tensors the user created (not produced by a recorded op)."""
        return self._backward is None

    @property
    def grad_fn(self):
        """The node of the op that produced this tensor (None for leaves); see autograd.Node."""
        from .autograd import Node
        return None if self._backward is None else Node(self)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if requires_grad and self._data.dtype.kind != "f":
            raise TypeError(
                f"requires_grad=True needs a floating-point tensor, got dtype {self._data.dtype}. "
                "Hint: only float tensors have gradients; convert with .float() or .double().")
        if not self.is_leaf and not requires_grad:
            raise RuntimeError("requires_grad_(False) only works on leaf tensors; use .detach().")
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> "Tensor":
        """Keep ``.grad`` for this non-leaf tensor after backward (for inspection)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad(): this tensor does not require grad, so it will "
                               "never receive a gradient")
        self._retains_grad = True
        return self

    # -- conversion --------------------------------------------------------------
    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied, as in PyTorch).

        PyTorch refuses a tensor that requires grad here; minnet allows it. Code that must
        run on both writes ``x.detach().numpy()``.
        """
        return self._data

    def item(self):
        if self._data.size != 1:
            raise ValueError(f"item(): only one-element tensors can be converted to a Python "
                             f"scalar, this one has shape {self.shape}")
        return self._data.item()

    def tolist(self):
        return self._data.tolist()

    def detach(self) -> "Tensor":
        """A new leaf sharing the same data (and version counter), cut off from the graph."""
        return wrap_array(self._data)._share_version(self)

    def clone(self) -> "Tensor":
        from .ops import shape as _shape_ops
        return _shape_ops.clone(self)

    def astype(self, dtype) -> "Tensor":
        """Differentiable dtype conversion (float32 <-> float64)."""
        from .ops import elementwise
        return elementwise.astype(self, dtype)

    def to(self, *args, dtype=None, device=None, **kwargs) -> "Tensor":
        """``x.to(np.float64)``, ``x.to("cpu")``, ``x.to(other_tensor)``, as in PyTorch.

        minnet runs on the CPU only, so a device argument of "cpu" is accepted
        and ignored; any other device raises.
        """
        for arg in args:
            if isinstance(arg, Tensor):
                dtype = arg.dtype
            elif _is_device(arg):
                device = arg
            else:
                dtype = arg
        if device is not None:
            _check_device(device)
        return self if dtype is None else self.astype(dtype)

    def double(self) -> "Tensor":
        return self.astype(np.float64)

    def float(self) -> "Tensor":
        return self.astype(np.float32)

    def long(self) -> "Tensor":
        return Tensor(self._data.astype(np.int64))

    def int(self) -> "Tensor":
        return wrap_array(self._data.astype(np.int32))

    def bool(self) -> "Tensor":
        return wrap_array(self._data.astype(np.bool_))

    def half(self) -> "Tensor":
        return self.astype(np.float16)

    def type(self, dtype=None, non_blocking=False):
        return _ops().to_type(self, dtype)

    def type_as(self, other) -> "Tensor":
        return _ops().to_type(self, other.dtype)

    def __array__(self, dtype=None, copy=None):
        return self._data if dtype is None else self._data.astype(dtype)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        """A one-element integer tensor used as an index: ``names[torch.tensor(2)]``."""
        if self._data.dtype.kind not in "iu" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an "
                            f"index (this one: dtype {self.dtype}, shape {self.shape})")
        return int(self._data.item())

    def __format__(self, spec: str) -> str:
        """``f"{loss:.4f}"`` formats a 0-d tensor's number, as PyTorch."""
        if self._data.ndim == 0:
            return format(self._data.item(), spec)
        if spec:
            raise TypeError("unsupported format string passed to Tensor.__format__ (only a 0-d "
                            f"tensor takes a format spec; this one has shape {self.shape}). "
                            "Hint: format x.item() or convert with .tolist().")
        return str(self)

    def __bool__(self):
        if self._data.size != 1:
            raise ValueError(f"The truth value of a tensor with {self._data.size} elements is "
                             "ambiguous. Hint: use .any() or .all().")
        return bool(self._data.item())

    def __repr__(self):
        body = np.array2string(self._data, separator=", ", prefix="tensor(", precision=4)
        extras = []
        if self._data.dtype not in (np.float32, np.int64, np.bool_):
            extras.append(f"dtype={self._data.dtype}")
        if self._backward is not None:
            where = f" @ {self.module}" if self.module else ""
            extras.append(f"grad_fn=<{self.op}{where}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    __hash__ = object.__hash__

    # -- hooks ---------------------------------------------------------------------
    def register_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(grad)`` when this tensor's gradient is computed.

        ``grad`` is a Tensor; returning a Tensor replaces the gradient.
        """
        if not self.requires_grad:
            raise RuntimeError("register_hook(): cannot register a hook on a tensor that "
                               "doesn't require gradient")
        if self._hooks is None:
            self._hooks = {}
        handle = RemovableHandle(self._hooks)
        self._hooks[handle.id] = hook
        return handle

    # -- autograd ------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph: bool = False) -> None:
        """Compute d(self)/d(leaf) for every leaf that requires grad.

        ``gradient`` is d(final)/d(self); it may be omitted for scalars (it is 1).
        Gradients *accumulate* into ``leaf.grad``: call ``zero_grad()`` between
        steps. The graph is freed afterwards unless ``retain_graph=True``.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward(): this tensor does not require grad and has no grad_fn. "
                "Hint: did you create the inputs with requires_grad=True, or run the "
                "forward pass inside no_grad()?")
        if gradient is None:
            if self._data.size != 1:
                raise RuntimeError(
                    f"backward(): grad can be implicitly created only for scalar outputs, "
                    f"but this tensor has shape {self.shape}. Hint: reduce it to a scalar "
                    f"(e.g. .sum() or .mean()) or pass backward(gradient=...) of shape {self.shape}.")
            seed = np.ones_like(self._data)
        else:
            seed = np.asarray(gradient._data if isinstance(gradient, Tensor) else gradient,
                              dtype=self._data.dtype)
            if seed.shape != self.shape:
                raise RuntimeError(f"backward(): gradient has shape {seed.shape} but the tensor "
                                   f"has shape {self.shape}; they must match.")
        _engine().run_backward(self, seed, retain_graph)

    # -- operators (implemented in minnet/ops) ---------------------------------------------
    def __add__(self, other):
        return _ops().add(self, other)

    def __radd__(self, other):
        return _ops().add(other, self)

    def __sub__(self, other):
        return _ops().sub(self, other)

    def __rsub__(self, other):
        return _ops().sub(other, self)

    def __mul__(self, other):
        return _ops().mul(self, other)

    def __rmul__(self, other):
        return _ops().mul(other, self)

    def __truediv__(self, other):
        return _ops().div(self, other)

    def __rtruediv__(self, other):
        return _ops().div(other, self)

    def __floordiv__(self, other):
        return _ops().floor_divide(self, other)

    def __rfloordiv__(self, other):
        return _ops().floor_divide(other, self)

    def __mod__(self, other):
        return _ops().remainder(self, other)

    def __rmod__(self, other):
        return _ops().remainder(other, self)

    def __neg__(self):
        return _ops().neg(self)

    def __pow__(self, exponent):
        return _ops().pow(self, exponent)

    def __rpow__(self, base):
        return _ops().pow(base, self)

    def __matmul__(self, other):
        return _ops().matmul(self, other)

    def __rmatmul__(self, other):
        return _ops().matmul(other, self)

    def __getitem__(self, index):
        return _ops().getitem(self, index)

    # comparisons give boolean tensors and are not differentiable
    def _compare(self, other, fn):
        other = other._data if isinstance(other, Tensor) else other
        return Tensor(fn(self._data, other))

    def __lt__(self, other):
        return self._compare(other, np.less)

    def __le__(self, other):
        return self._compare(other, np.less_equal)

    def __gt__(self, other):
        return self._compare(other, np.greater)

    def __ge__(self, other):
        return self._compare(other, np.greater_equal)

    def __eq__(self, other):
        return self._compare(other, np.equal)

    def __ne__(self, other):
        return self._compare(other, np.not_equal)

    def __abs__(self):
        return _ops().abs(self)

    def __pos__(self):
        return self

    # -- methods mirroring torch.Tensor --------------------------------------------------
    # arithmetic
    def add(self, other, *, alpha=1):
        return _ops().add(self, other, alpha=alpha)

    def sub(self, other, *, alpha=1):
        return _ops().sub(self, other, alpha=alpha)

    def mul(self, other):
        return _ops().mul(self, other)

    def div(self, other, *, rounding_mode=None):
        return _ops().div(self, other, rounding_mode=rounding_mode)

    def floor_divide(self, other):
        return _ops().floor_divide(self, other)

    def remainder(self, other):
        return _ops().remainder(self, other)

    def fmod(self, other):
        return _ops().fmod(self, other)

    def neg(self):
        return _ops().neg(self)

    def pow(self, exponent):
        return _ops().pow(self, exponent)

    def square(self):
        return _ops().square(self)

    def matmul(self, other):
        return _ops().matmul(self, other)

    def mm(self, mat2):
        return _ops().mm(self, mat2)

    def bmm(self, mat2):
        return _ops().bmm(self, mat2)

    def dot(self, other):
        return _ops().dot(self, other)

    def maximum(self, other):
        return _ops().maximum(self, other)

    def minimum(self, other):
        return _ops().minimum(self, other)

    # math functions
    def exp(self):
        return _ops().exp(self)

    def log(self):
        return _ops().log(self)

    def sqrt(self):
        return _ops().sqrt(self)

    def log10(self):
        return _ops().log10(self)

    def log2(self):
        return _ops().log2(self)

    def log1p(self):
        return _ops().log1p(self)

    def expm1(self):
        return _ops().expm1(self)

    def sin(self):
        return _ops().sin(self)

    def cos(self):
        return _ops().cos(self)

    def tan(self):
        return _ops().tan(self)

    def sinh(self):
        return _ops().sinh(self)

    def cosh(self):
        return _ops().cosh(self)

    def asin(self):
        return _ops().asin(self)

    def acos(self):
        return _ops().acos(self)

    def atan(self):
        return _ops().atan(self)

    def reciprocal(self):
        return _ops().reciprocal(self)

    def rsqrt(self):
        return _ops().rsqrt(self)

    def floor(self):
        return _ops().floor(self)

    def ceil(self):
        return _ops().ceil(self)

    def round(self, decimals=0):
        return _ops().round(self, decimals)

    def trunc(self):
        return _ops().trunc(self)

    def sign(self):
        return _ops().sign(self)

    # comparisons as methods (bool results)
    def eq(self, other):
        return _ops().eq(self, other)

    def ne(self, other):
        return _ops().ne(self, other)

    def gt(self, other):
        return _ops().gt(self, other)

    def ge(self, other):
        return _ops().ge(self, other)

    def lt(self, other):
        return _ops().lt(self, other)

    def le(self, other):
        return _ops().le(self, other)

    def equal(self, other):
        return _ops().equal(self, other)

    # ordering and scans (ops/sorting.py)
    def sort(self, dim=-1, descending=False, stable=False):
        return _ops().sort(self, dim, descending, stable)

    def topk(self, k, dim=-1, largest=True, sorted=True):
        return _ops().topk(self, k, dim, largest, sorted)

    def cumsum(self, dim, *, dtype=None):
        return _ops().cumsum(self, dim, dtype=dtype)

    def prod(self, dim=None, keepdim=False, *, dtype=None):
        return _ops().prod(self, dim, keepdim, dtype=dtype)

    def norm(self, p="fro", dim=None, keepdim=False):
        return _ops().sorting.norm(self, p, dim, keepdim)  # (ops.norm is batch norm's module)

    def abs(self):
        return _ops().abs(self)

    def clip(self, min=None, max=None):
        return _ops().clip(self, min, max)

    def clamp(self, min=None, max=None):
        return _ops().clip(self, min, max)

    # activations
    def relu(self):
        return _ops().relu(self)

    def tanh(self):
        return _ops().tanh(self)

    def sigmoid(self):
        return _ops().sigmoid(self)

    def softmax(self, dim, dtype=None):
        return _ops().softmax(self._cast_before("softmax", dtype), dim)

    def log_softmax(self, dim, dtype=None):
        return _ops().log_softmax(self._cast_before("log_softmax", dtype), dim)

    def _cast_before(self, fn_name: str, dtype) -> "Tensor":
        """The input converted to ``dtype`` before ``fn_name`` runs (PyTorch's ``dtype=``
        argument of sum/softmax: e.g. sum float32 values in float64, or ints as floats)."""
        if dtype is None:
            return self
        if np.dtype(dtype).kind != "f" and self.requires_grad and _state.grad_enabled:
            raise RuntimeError(f"{fn_name}(dtype={np.dtype(dtype)}): the result would be an "
                               "integer tensor, and autograd works with floating-point dtypes "
                               "only (as PyTorch). Hint: detach() first.")
        return _ops().to_type(self, dtype)

    # reductions
    def sum(self, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
        return _ops().sum(self._cast_before("sum", dtype), dim, keepdim, axis=axis,
                          keepdims=keepdims)

    def mean(self, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
        return _ops().mean(self, dim, keepdim, dtype=dtype, axis=axis, keepdims=keepdims)

    def var(self, dim=None, unbiased=True, keepdim=False, *, correction=None, axis=None,
            keepdims=None):
        return _ops().var(self, dim, unbiased, keepdim, correction=correction,
                          axis=axis, keepdims=keepdims)

    def std(self, dim=None, unbiased=True, keepdim=False, *, correction=None, axis=None,
            keepdims=None):
        return _ops().std(self, dim, unbiased, keepdim, correction=correction,
                          axis=axis, keepdims=keepdims)

    def amax(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return _ops().amax(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def amin(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return _ops().amin(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def max(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return _ops().max(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return _ops().min(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def logsumexp(self, dim, keepdim=False):
        return _ops().logsumexp(self, dim, keepdim)

    def argmax(self, dim=None, keepdim=False):
        return _ops().argmax(self, dim, keepdim)

    def argmin(self, dim=None, keepdim=False):
        return _ops().argmin(self, dim, keepdim)

    # shape
    def reshape(self, *shape):
        return _ops().reshape(self, *shape)

    def view(self, *shape):
        return _ops().view(self, *shape)

    def reshape_as(self, other):
        return _ops().reshape(self, other.shape)

    def view_as(self, other):
        return _ops().view(self, other.shape)

    def expand(self, *sizes):
        return _ops().expand(self, *sizes)

    def expand_as(self, other):
        return _ops().expand(self, other.shape)

    def transpose(self, dim0, dim1):
        return _ops().transpose(self, dim0, dim1)

    def t(self):
        if self.ndim > 2:
            raise ValueError(f"t() expects a tensor with <= 2 dimensions, got shape {self.shape}. "
                             "Hint: use transpose(dim0, dim1) or permute(...).")
        return self if self.ndim < 2 else _ops().transpose(self, 0, 1)

    def permute(self, *dims):
        return _ops().permute(self, *dims)

    def flatten(self, start_dim=0, end_dim=-1):
        return _ops().flatten(self, start_dim, end_dim)

    def unsqueeze(self, dim):
        return _ops().unsqueeze(self, dim)

    def squeeze(self, dim=None):
        return _ops().squeeze(self, dim)

    def split(self, split_size, dim=0):
        return _ops().split(self, split_size, dim)

    def chunk(self, chunks, dim=0):
        return _ops().chunk(self, chunks, dim)

    def repeat(self, *sizes):
        return _ops().repeat(self, *sizes)

    def tril(self, diagonal=0):
        return _ops().tril(self, diagonal)

    def triu(self, diagonal=0):
        return _ops().triu(self, diagonal)

    def contiguous(self):
        return self  # NumPy handles memory layout for us

    def flip(self, *dims):
        return _ops().flip(self, dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list))
                           else dims)

    def fliplr(self):
        return _ops().fliplr(self)

    def flipud(self):
        return _ops().flipud(self)

    def roll(self, shifts, dims=None):
        return _ops().roll(self, shifts, dims)

    def narrow(self, dim, start, length):
        return _ops().narrow(self, dim, start, length)

    def movedim(self, source, destination):
        return _ops().movedim(self, source, destination)

    def swapaxes(self, axis0, axis1):
        return _ops().transpose(self, axis0, axis1)

    swapdims = swapaxes

    def tile(self, *dims):
        return _ops().tile(self, dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list))
                           else dims)

    def broadcast_to(self, size):
        return _ops().broadcast_to(self, size)

    def ravel(self):
        return _ops().ravel(self)

    def unbind(self, dim=0):
        return _ops().unbind(self, dim)

    def diag(self, diagonal=0):
        return _ops().diag(self, diagonal)

    def diagonal(self, offset=0, dim1=0, dim2=1):
        return _ops().diagonal(self, offset, dim1, dim2)

    @property
    def mT(self):
        """The last two dims swapped (a batch of matrices, each transposed)."""
        return _ops().transpose(self, -2, -1)

    # picking entries by index (ops/indexing.py)
    def gather(self, dim, index):
        return _ops().gather(self, dim, index)

    def scatter(self, dim, index, src=None, *, value=None, reduce=None):
        return _ops().scatter(self, dim, index, src, value=value, reduce=reduce)

    def scatter_add(self, dim, index, src):
        return _ops().scatter_add(self, dim, index, src)

    def index_select(self, dim, index):
        return _ops().index_select(self, dim, index)

    def masked_select(self, mask):
        return _ops().masked_select(self, mask)

    def take(self, index):
        return _ops().take(self, index)

    def nonzero(self, *, as_tuple=False):
        return _ops().nonzero(self, as_tuple=as_tuple)

    def argsort(self, dim=-1, descending=False, stable=False):
        return _ops().argsort(self, dim, descending, stable)

    # testing entries (ops/compare.py)
    def isnan(self):
        return _ops().isnan(self)

    def isinf(self):
        return _ops().isinf(self)

    def isfinite(self):
        return _ops().isfinite(self)

    def isposinf(self):
        return _ops().isposinf(self)

    def isneginf(self):
        return _ops().isneginf(self)

    def logical_not(self):
        return _ops().logical_not(self)

    def logical_and(self, other):
        return _ops().logical_and(self, other)

    def logical_or(self, other):
        return _ops().logical_or(self, other)

    def logical_xor(self, other):
        return _ops().logical_xor(self, other)

    def count_nonzero(self, dim=None):
        return _ops().count_nonzero(self, dim)

    # more math (ops/math.py, elementwise.py, linalg.py)
    def erf(self):
        return _ops().erf(self)

    def erfc(self):
        return _ops().erfc(self)

    def exp2(self):
        return _ops().exp2(self)

    def logit(self, eps=None):
        return _ops().logit(self, eps)

    def atan2(self, other):
        return _ops().atan2(self, other)

    arctan2 = atan2

    def hypot(self, other):
        return _ops().hypot(self, other)

    def logaddexp(self, other):
        return _ops().logaddexp(self, other)

    def lerp(self, end, weight):
        return _ops().lerp(self, end, weight)

    def clamp_min(self, min):
        return _ops().clamp_min(self, min)

    def clamp_max(self, max):
        return _ops().clamp_max(self, max)

    def outer(self, vec2):
        return _ops().outer(self, vec2)

    def addmm(self, mat1, mat2, *, beta=1, alpha=1):
        return _ops().addmm(self, mat1, mat2, beta=beta, alpha=alpha)

    def median(self, dim=None, keepdim=False):
        return _ops().median(self, dim, keepdim)

    def trace(self):
        return _ops().trace(self)

    def nan_to_num(self, nan=0.0, posinf=None, neginf=None):
        return _ops().nan_to_num(self, nan, posinf, neginf)

    def diff(self, n=1, dim=-1, prepend=None, append=None):
        return _ops().diff(self, n, dim, prepend, append)

    def bernoulli(self, *, generator=None):
        return _ops().bernoulli(self, generator=generator)

    @property
    def T(self):
        return _ops().permute(self, *reversed(range(self.ndim)))

    def any(self, dim=None, keepdim=False):
        """Whether any entry is non-zero, overall or along ``dim`` (an int or a tuple)."""
        return self._logical_reduce(np.any, dim, keepdim)

    def all(self, dim=None, keepdim=False):
        """Whether every entry is non-zero, overall or along ``dim`` (an int or a tuple)."""
        return self._logical_reduce(np.all, dim, keepdim)

    def _logical_reduce(self, reduce, dim, keepdim: bool) -> "Tensor":
        from .ops._util import normalize_dims
        axes = normalize_dims(dim, self.ndim, reduce.__name__)
        out = np.asarray(reduce(self._data, axis=axes, keepdims=bool(keepdim)))
        # as PyTorch: bool, except that a uint8 tensor gives uint8
        return wrap_array(out.astype(np.uint8) if self._data.dtype == np.uint8 else out)

    # -- logical operators (not differentiable) ----------------------------------------------
    def __and__(self, other):
        return self._compare(other, np.bitwise_and)

    def __or__(self, other):
        return self._compare(other, np.bitwise_or)

    def __xor__(self, other):
        return self._compare(other, np.bitwise_xor)

    # True | mask, 1 & flags: the operations are symmetric, so the reflected forms are the same
    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__

    def __invert__(self):
        if self._data.dtype.kind not in "biu":
            raise TypeError(f"~ (logical not) needs a bool or integer tensor, got dtype "
                            f"{self._data.dtype}. Hint: compare first, e.g. ~(x > 0).")
        return Tensor(np.invert(self._data))

    def where(self, condition, other) -> "Tensor":
        """This tensor where ``condition`` is True, else ``other`` (``torch.where(condition,
        self, other)``)."""
        return _ops().where(condition, self, other)

    def masked_fill(self, mask, value) -> "Tensor":
        """Entries where ``mask`` is True replaced by ``value`` (a number or a 0-d tensor,
        converted to this tensor's dtype, as PyTorch); differentiable w.r.t. self and value."""
        mask = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
        if isinstance(value, Tensor) and value.ndim != 0:
            raise ValueError(f"masked_fill(): value must be a number or a 0-d tensor, got a "
                             f"tensor of shape {value.shape}. Hint: for one value per entry "
                             f"use minnet.where(mask, values, x).")
        fill = _ops().astype(value, self.dtype) if isinstance(value, Tensor) \
            else Tensor(np.asarray(value, dtype=self.dtype))
        return _ops().where(Tensor(mask.astype(bool)), fill, self)

    # -- in-place updates ------------------------------------------------------------------------
    # As in PyTorch, a parameter may only be changed in place while no graph is
    # being recorded (``with minnet.no_grad(): p -= lr * p.grad``). Every in-place
    # change bumps the tensor's version; an op that saved the tensor for its backward
    # noted the version then, and backward() refuses if it has changed since.
    @property
    def _version(self) -> int:
        """How many times this tensor (or a view sharing its memory) was changed in place."""
        return 0 if self._version_box is None else self._version_box[0]

    def _bump_version(self, name: str) -> None:
        """Record an in-place change made by ``name`` (e.g. "add_", "SGD.step()")."""
        box = self._version_box
        if box is None:
            self._version_box = [1, name]
        else:
            box[0] += 1
            box[1] = name

    def _share_version(self, base: "Tensor") -> "Tensor":
        """Make this tensor (a view of ``base``'s memory) count versions with ``base``."""
        if base._version_box is None:
            base._version_box = [0, None]
        self._version_box = base._version_box
        return self

    def _check_inplace(self, name: str) -> None:
        if not (self.requires_grad and _state.grad_enabled):
            return
        if self.is_leaf:
            raise RuntimeError(
                f"{name}: a leaf tensor that requires grad (e.g. a parameter) is being changed "
                "in place while gradients are being recorded. Hint: do the update inside "
                "`with minnet.no_grad():` (as optimizers do), or write `x = x + ...` to make a "
                "new tensor.")
        raise RuntimeError(
            f"{name}: minnet does not support changing a tensor of the graph in place (ops may "
            "have saved its values for the backward pass). Hint: write `x = x + ...` instead.")

    def _write(self, name: str, result) -> "Tensor":
        result = np.asarray(result)
        if result.shape != self._data.shape:
            try:
                result = np.broadcast_to(result, self._data.shape)
            except ValueError:
                raise RuntimeError(f"{name}: the result has shape {result.shape}, which cannot be "
                                   f"written into a tensor of shape {self.shape}") from None
        if not np.can_cast(result.dtype, self._data.dtype, casting="same_kind"):
            raise RuntimeError(f"{name}: result type {result.dtype} can't be cast to this "
                               f"tensor's dtype {self._data.dtype}. Hint: convert with .float().")
        self._bump_version(name)
        if self._data.flags.writeable:
            np.copyto(self._data, result, casting="same_kind")
        else:  # e.g. a read-only broadcast view: give this tensor its own array
            self._data = result.astype(self._data.dtype, copy=True)
        return self

    def _inplace(self, name: str, ufunc, other) -> "Tensor":
        self._check_inplace(name)
        other = other._data if isinstance(other, Tensor) else other
        return self._write(name, ufunc(self._data, other))

    def __iadd__(self, other):
        return self._inplace("+=", np.add, other)

    def __isub__(self, other):
        return self._inplace("-=", np.subtract, other)

    def __imul__(self, other):
        return self._inplace("*=", np.multiply, other)

    def __itruediv__(self, other):
        return self._inplace("/=", np.true_divide, other)

    def _inplace_op(self, name: str, op, other) -> "Tensor":
        """In place via the op itself (for its checks, e.g. integer division by zero)."""
        self._check_inplace(name)
        with no_grad():
            result = op(wrap_array(self._data), other)
        return self._write(name, result._data)

    def __ifloordiv__(self, other):
        return self._inplace_op("//=", _ops().floor_divide, other)

    def __imod__(self, other):
        return self._inplace_op("%=", _ops().remainder, other)

    def floor_divide_(self, other) -> "Tensor":
        return self._inplace_op("floor_divide_", _ops().floor_divide, other)

    def remainder_(self, other) -> "Tensor":
        return self._inplace_op("remainder_", _ops().remainder, other)

    def fmod_(self, other) -> "Tensor":
        return self._inplace_op("fmod_", _ops().fmod, other)

    def add_(self, other, alpha=1) -> "Tensor":
        other = other._data if isinstance(other, Tensor) else other
        return self._inplace("add_", np.add, other if alpha == 1 else np.multiply(other, alpha))

    def sub_(self, other, alpha=1) -> "Tensor":
        other = other._data if isinstance(other, Tensor) else other
        return self._inplace("sub_", np.subtract, other if alpha == 1 else np.multiply(other, alpha))

    def mul_(self, other) -> "Tensor":
        return self._inplace("mul_", np.multiply, other)

    def div_(self, other, *, rounding_mode=None) -> "Tensor":
        if rounding_mode is not None:  # 'trunc' or 'floor', checked by div
            return self._inplace_op(
                "div_", lambda a, b: _ops().div(a, b, rounding_mode=rounding_mode), other)
        return self._inplace("div_", np.true_divide, other)

    def clamp_(self, min=None, max=None) -> "Tensor":
        self._check_inplace("clamp_")
        return self._write("clamp_", np.clip(self._data, min, max))

    clip_ = clamp_

    def copy_(self, source) -> "Tensor":
        self._check_inplace("copy_")
        return self._write("copy_", source._data if isinstance(source, Tensor) else source)

    # element-wise math in place: the op run on this tensor's values (no graph), written back
    def _inplace_unary(self, name: str, op, *args) -> "Tensor":
        self._check_inplace(name)
        return self._write(name, op(wrap_array(self._data), *args)._data)

    def abs_(self):
        return self._inplace_unary("abs_", _ops().abs)

    def neg_(self):
        return self._inplace_unary("neg_", _ops().neg)

    negative_ = neg_

    def exp_(self):
        return self._inplace_unary("exp_", _ops().exp)

    def log_(self):
        return self._inplace_unary("log_", _ops().log)

    def log1p_(self):
        return self._inplace_unary("log1p_", _ops().log1p)

    def sqrt_(self):
        return self._inplace_unary("sqrt_", _ops().sqrt)

    def rsqrt_(self):
        return self._inplace_unary("rsqrt_", _ops().rsqrt)

    def square_(self):
        return self._inplace_unary("square_", _ops().square)

    def reciprocal_(self):
        return self._inplace_unary("reciprocal_", _ops().reciprocal)

    def pow_(self, exponent):
        return self._inplace_unary("pow_", _ops().pow, exponent)

    def sign_(self):
        return self._inplace_unary("sign_", _ops().sign)

    def floor_(self):
        return self._inplace_unary("floor_", _ops().floor)

    def ceil_(self):
        return self._inplace_unary("ceil_", _ops().ceil)

    def round_(self):
        return self._inplace_unary("round_", _ops().round)

    def trunc_(self):
        return self._inplace_unary("trunc_", _ops().trunc)

    def sin_(self):
        return self._inplace_unary("sin_", _ops().sin)

    def cos_(self):
        return self._inplace_unary("cos_", _ops().cos)

    def sigmoid_(self):
        return self._inplace_unary("sigmoid_", _ops().sigmoid)

    def tanh_(self):
        return self._inplace_unary("tanh_", _ops().tanh)

    def relu_(self):
        return self._inplace_unary("relu_", _ops().relu)

    def erf_(self):
        return self._inplace_unary("erf_", _ops().erf)

    def nan_to_num_(self, nan=0.0, posinf=None, neginf=None):
        return self._inplace_unary("nan_to_num_", _ops().nan_to_num, nan, posinf, neginf)

    def lerp_(self, end, weight):
        return self._inplace_unary("lerp_", _ops().lerp, end, weight)

    def masked_fill_(self, mask, value):
        return self._inplace_unary("masked_fill_", Tensor.masked_fill, mask, value)

    def scatter_(self, dim, index, src=None, *, value=None, reduce=None):
        return self._inplace_unary("scatter_", lambda t: _ops().scatter(
            t, dim, index, src, value=value, reduce=reduce))

    def scatter_add_(self, dim, index, src):
        return self._inplace_unary("scatter_add_", _ops().scatter_add, dim, index, src)

    def index_add_(self, dim, index, source, *, alpha=1):
        """Add ``alpha * source``'s slices to this tensor's slices ``index`` along ``dim``
        (an index named twice adds twice)."""
        def add_slices(t):
            moved = np.moveaxis(t._data.copy(), dim, 0)
            values = np.moveaxis(np.asarray(getattr(source, "_data", source)), dim, 0) * alpha
            rows = np.asarray(getattr(index, "_data", index)).reshape(-1)
            if rows.size and (rows.min() < -len(moved) or rows.max() >= len(moved)) \
                    or values.shape != (rows.size,) + moved.shape[1:]:
                raise IndexError(f"index_add_(): index {rows.tolist()} and source "
                                 f"{np.shape(getattr(source, '_data', source))} do not fit dim "
                                 f"{dim} of shape {self.shape} (one source slice per index, "
                                 f"each index in [0, {len(moved)}))")
            np.add.at(moved, rows, values)
            return wrap_array(np.moveaxis(moved, 0, dim))
        return self._inplace_unary("index_add_", add_slices)

    def fill_(self, value) -> "Tensor":
        self._check_inplace("fill_")
        return self._write("fill_", np.full(self._data.shape, value, dtype=self._data.dtype))

    def zero_(self) -> "Tensor":
        """In-place fill with zeros (e.g. ``p.grad.zero_()``)."""
        return self.fill_(0)

    def uniform_(self, a=0.0, b=1.0, generator=None) -> "Tensor":
        from .nn.init import uniform_
        return uniform_(self, a, b, generator=generator)

    def normal_(self, mean=0.0, std=1.0, generator=None) -> "Tensor":
        from .nn.init import normal_
        return normal_(self, mean, std, generator=generator)

    # new tensors of this one's dtype, as PyTorch's new_zeros etc.
    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False) -> "Tensor":
        return _ops().zeros(*size, dtype=dtype or self.dtype, device=device,
                            requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False) -> "Tensor":
        return _ops().ones(*size, dtype=dtype or self.dtype, device=device,
                           requires_grad=requires_grad)

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
        return _ops().full(size, fill_value, dtype=dtype or self.dtype, device=device,
                           requires_grad=requires_grad)

    def new_tensor(self, data, dtype=None, device=None, requires_grad=False) -> "Tensor":
        return _ops().tensor(data, dtype=dtype or self.dtype, device=device,
                             requires_grad=requires_grad)

    def __setitem__(self, index, value) -> None:
        """``x[mask] = 0``: in place, with the same rules as the other in-place ops."""
        self._check_inplace("__setitem__")
        if isinstance(index, Tensor):
            index = index._data
        elif isinstance(index, tuple):
            index = tuple(i._data if isinstance(i, Tensor) else i for i in index)
        if not self._data.flags.writeable:
            self._data = self._data.copy()
        self._bump_version("__setitem__")
        self._data[index] = value._data if isinstance(value, Tensor) else value

    # -- devices: minnet has one, the CPU --------------------------------------------------------
    def cpu(self) -> "Tensor":
        return self


def _is_device(value) -> bool:
    from .utils.device import is_device
    return is_device(value)


def _check_device(device) -> None:
    from .utils.device import check_device
    check_device(device)


_ops_module = None


def _ops():
    """The ops namespace, imported lazily (ops import Tensor, so not at top level)."""
    global _ops_module
    if _ops_module is None:
        from . import ops
        _ops_module = ops
    return _ops_module


_engine_module = None


def _engine():
    """minnet/engine.py, imported on first use (it imports this module, so not at top level)."""
    global _engine_module
    if _engine_module is None:
        from . import engine
        _engine_module = engine
    return _engine_module


def _note_versions(tensors, saves_output: bool) -> tuple:
    """(tensor, its version now) for each tensor an op saved; (None, 0) stands for the output."""
    noted = [(t, 0 if t._version_box is None else t._version_box[0]) for t in tensors]
    if saves_output:
        noted.append((None, 0))
    return tuple(noted)


# --------------------------------------------------------------------------
# Helpers (the factories, torch.zeros etc., are in minnet/ops/creation.py)
# --------------------------------------------------------------------------
def allclose(a, b, rtol: float = 1e-5, atol: float = 1e-8) -> bool:
    return bool(np.allclose(a._data if isinstance(a, Tensor) else a,
                            b._data if isinstance(b, Tensor) else b, rtol=rtol, atol=atol))


def wrap_array(array: np.ndarray, requires_grad: bool = False) -> Tensor:
    """A leaf Tensor around ``array`` without copying it (internal use)."""
    view = Tensor.__new__(Tensor)
    view._data = array
    view._grad = None
    view.requires_grad = False
    view._parents = ()
    view._backward = None
    view.op = None
    view.module = None
    view._hooks = None
    view._retains_grad = False
    view._version_box = None
    view._saved_versions = ()
    if requires_grad:
        view.requires_grad_(True)
    return view


def as_tensor(value, like: Optional[Tensor] = None) -> Tensor:
    """Tensors pass through; numbers and arrays become constant leaf tensors.

    Python scalars take ``like``'s dtype so that ``x * 2`` keeps x float32.
    """
    if isinstance(value, Tensor):
        return value
    if like is not None and np.isscalar(value) and like._data.dtype.kind == "f":
        return Tensor(np.asarray(value, dtype=like._data.dtype))
    return Tensor(value)

