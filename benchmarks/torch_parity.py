"""Parity report: minnet against PyTorch on identical inputs (float64, CPU).

    python benchmarks/torch_parity.py            # everything
    python benchmarks/torch_parity.py ops loss   # only sections whose name contains a word

For every item it builds the same inputs/parameters in both frameworks, runs
the forward pass, back-propagates the same random upstream gradient, and
prints the largest absolute difference of the forward values and of every
gradient, with PASS/FAIL against a tolerance (1e-10 relative to the size of
the reference values for float64 unless the item says otherwise).

This is a script, not a test: it needs torch, which minnet does not depend on.
"""
from __future__ import annotations

import inspect
import math
import os
import re
import sys
import traceback
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # pragma: no cover - depends on the machine
    sys.exit("torch_parity.py needs PyTorch (pip install torch): it compares minnet with it. "
             "minnet itself does not depend on torch.")

import numpy as np

import minnet
import minnet.nn as mnn
import minnet.nn.functional as MF
from minnet import ops as M
from minnet.ops import loss as ML

torch.set_default_dtype(torch.float64)
warnings.simplefilter("ignore")

RTOL = 1e-10
FLOAT32_RTOL = 2e-5  # float32 sections: rounding differs in the last bits of longer sums
FLOAT = [np.float64]  # the dtype of the floating inputs of check()
RESULTS = []  # (section, name, status, worst relative error, detail)
SECTION = ["?"]


# --------------------------------------------------------------------------
# harness
# --------------------------------------------------------------------------
def rng(seed=0):
    return np.random.default_rng(seed)


def to_np(value):
    if isinstance(value, torch.Tensor):
        return value.detach().numpy()
    if isinstance(value, minnet.Tensor):
        return value.numpy()
    return np.asarray(value)


def max_diff(a, b):
    """(max abs difference, scale of the reference) -- inf on shape mismatch."""
    a, b = to_np(a), to_np(b)
    if a.shape != b.shape:
        return math.inf, 1.0, f"shape {a.shape} vs torch {b.shape}"
    if a.dtype != b.dtype and not (a.dtype.kind == b.dtype.kind == "i"):
        return math.inf, 1.0, f"dtype {a.dtype} vs torch {b.dtype}"
    if a.size == 0:
        return 0.0, 1.0, ""
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    both_nan = np.isnan(a) & np.isnan(b)
    same_inf = np.isinf(a) & np.isinf(b) & (np.sign(a) == np.sign(b))
    ok = both_nan | same_inf
    if ((np.isnan(a) | np.isnan(b) | np.isinf(a) | np.isinf(b)) & ~ok).any():
        return math.inf, 1.0, "non-finite entries differ"
    diff = np.where(ok, 0.0, np.abs(a - b))
    finite_ref = np.abs(np.where(np.isfinite(b), b, 0.0))
    return float(diff.max()), float(finite_ref.max()), ""


def record(name, comparisons, tol=RTOL, note=""):
    """comparisons: list of (label, minnet value, torch value)."""
    worst_rel, parts, status = 0.0, [], "PASS"
    for label, mine, ref in comparisons:
        diff, scale, problem = max_diff(mine, ref)
        rel = diff / max(scale, 1e-300) if diff else 0.0
        # relative to the reference's size, with an absolute floor for values near 0
        passed = not problem and diff <= tol * max(scale, 1.0)
        worst_rel = max(worst_rel, rel)
        parts.append(f"{label}={diff:.1e}" + (f"({problem})" if problem else ""))
        if not passed:
            status = "FAIL"
    RESULTS.append((SECTION[0], name, status, worst_rel, " ".join(parts) + (
        f"  [{note}]" if note else "")))


def record_error(name, error):
    RESULTS.append((SECTION[0], name, "ERROR", math.inf,
                    f"{type(error).__name__}: {str(error).splitlines()[0][:160]}"))


def record_bool(name, ok, detail):
    RESULTS.append((SECTION[0], name, "PASS" if ok else "FAIL", 0.0, detail))


def check(name, mn_fn, th_fn, arrays, grad_for=None, tol=RTOL, seed=1, note="", extra=None):
    """Run ``fn(*tensors)`` in both frameworks and compare the output and gradients.

    arrays: NumPy inputs (copied into each framework). grad_for: indices of
    inputs that require grad (default: every floating one). The output is
    back-propagated with the same random upstream gradient in both.
    """
    try:
        if grad_for is None:
            grad_for = [i for i, a in enumerate(arrays) if np.asarray(a).dtype.kind == "f"]
        arrays = [np.array(a, dtype=FLOAT[0]) if np.asarray(a).dtype.kind == "f" else np.array(a)
                  for a in arrays]
        tol = tol if FLOAT[0] == np.float64 else max(tol, FLOAT32_RTOL)
        mn_in = [minnet.Tensor(np.array(a), requires_grad=i in grad_for)
                 for i, a in enumerate(arrays)]
        th_in = [torch.tensor(np.array(a), requires_grad=i in grad_for)
                 for i, a in enumerate(arrays)]
        mn_out = mn_fn(*mn_in)
        th_out = th_fn(*th_in)
        comparisons = [("out", mn_out, th_out)]
        if extra:
            comparisons += extra(mn_out, th_out)
        if grad_for and th_out.requires_grad:
            upstream = rng(seed).standard_normal(tuple(th_out.shape)).astype(FLOAT[0])
            th_out.backward(torch.tensor(upstream))
            mn_out.backward(upstream)
            for i in grad_for:
                th_grad = th_in[i].grad if th_in[i].grad is not None else torch.zeros_like(th_in[i])
                mn_grad = mn_in[i].grad if mn_in[i].grad is not None else np.zeros(arrays[i].shape)
                comparisons.append((f"d{i}", mn_grad, th_grad))
        record(name, comparisons, tol, note)
    except Exception as error:  # noqa: BLE001 - the report lists it
        record_error(name, error)
        if os.environ.get("PARITY_TRACE"):
            traceback.print_exc()


def section(name):
    SECTION[0] = name + (" [float32]" if FLOAT[0] == np.float32 else "")


def randn(*shape, seed=0, scale=1.0):
    return rng(seed).standard_normal(shape) * scale


def positive(*shape, seed=0):
    return rng(seed).uniform(0.5, 2.0, shape)


# --------------------------------------------------------------------------
# ops
# --------------------------------------------------------------------------
def ops_elementwise():
    section("ops.elementwise")
    a, b = randn(3, 5, 7), randn(5, 1, seed=1)
    for name in ("add", "sub", "mul", "div", "maximum", "minimum"):
        other = positive(5, 1, seed=1) if name == "div" else b
        check(f"{name} (3,5,7)x(5,1)", getattr(M, name), getattr(torch, name), [a, other])
        check(f"{name} (7,)x(3,1,7)", getattr(M, name), getattr(torch, name),
              [randn(7, seed=2), randn(3, 1, 7, seed=3) + (3 if name == "div" else 0)])
    ties = np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 5.0]])
    check("maximum ties", M.maximum, torch.maximum, [ties, np.array([1.0, 2.5, 3.0])])
    check("minimum ties", M.minimum, torch.minimum, [ties, np.array([1.0, 2.5, 3.0])])
    check("add scalar", lambda x: M.add(x, 2.5), lambda x: torch.add(x, 2.5), [a])
    check("rsub scalar", lambda x: 2.5 - x, lambda x: 2.5 - x, [a])
    check("rdiv scalar", lambda x: 2.5 / x, lambda x: 2.5 / x, [positive(3, 5)])
    check("neg", M.neg, torch.neg, [a])
    check("add alpha=0.5", lambda x, y: M.add(x, y, alpha=0.5),
          lambda x, y: torch.add(x, y, alpha=0.5), [a, b])
    check("sub alpha=3", lambda x, y: M.sub(x, y, alpha=3), lambda x, y: torch.sub(x, y, alpha=3),
          [a, b])
    for mode in ("trunc", "floor"):
        check(f"div rounding_mode={mode}", lambda x, y, m=mode: M.div(x, y, rounding_mode=m),
              lambda x, y, m=mode: torch.div(x, y, rounding_mode=m), [a * 5, b])
    for p in (2, 3, 0.5, -1.5, 0):
        check(f"pow x**{p}", lambda x, p=p: M.pow(x, p), lambda x, p=p: torch.pow(x, p),
              [positive(3, 5, 7)])
    check("pow x**3 negative base", lambda x: M.pow(x, 3), lambda x: torch.pow(x, 3), [a])
    check("pow tensor**tensor bcast", M.pow, torch.pow, [positive(3, 5), randn(5, seed=4)])
    check("pow number**tensor", lambda e: M.pow(2.0, e), lambda e: torch.pow(2.0, e), [b])
    check("pow 0**p (p>=0, p<0 grads)", M.pow, torch.pow,
          [np.array([0.0, 0.0, 0.0, 2.0]), np.array([0.0, 2.0, 0.5, 0.0])])
    for name in ("exp", "log", "sqrt", "abs"):
        x = positive(3, 5, 7) if name in ("log", "sqrt") else a
        check(name, getattr(M, name), getattr(torch, name), [x])
    check("abs at 0", M.abs, torch.abs, [np.array([0.0, -1.0, 2.0])])
    x = np.array([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0])
    check("clamp(-1, 1) incl. bounds", lambda t: M.clamp(t, -1.0, 1.0),
          lambda t: torch.clamp(t, -1.0, 1.0), [x])
    check("clamp(min only)", lambda t: M.clamp(t, min=0.0), lambda t: torch.clamp(t, min=0.0), [x])
    check("clamp(max only)", lambda t: M.clamp(t, max=0.0), lambda t: torch.clamp(t, max=0.0), [x])
    check("clamp(min > max)", lambda t: M.clamp(t, 1.0, -1.0),
          lambda t: torch.clamp(t, 1.0, -1.0), [x])
    check("clamp tensor bounds", M.clamp, torch.clamp,
          [randn(3, 5), randn(5, seed=1) - 0.5, randn(3, 1, seed=2) + 0.5])
    cond = rng(5).random((3, 5, 7)) > 0.5
    check("where bcast", lambda x, y: M.where(minnet.Tensor(cond), x, y),
          lambda x, y: torch.where(torch.tensor(cond), x, y), [a, randn(5, 1, seed=6)])
    check("where scalar other", lambda x: M.where(minnet.Tensor(cond), x, 0.0),
          lambda x: torch.where(torch.tensor(cond), x, 0.0), [a])


def ops_activation():
    section("ops.activation")
    a = randn(3, 5, 7)
    a[0, 0, :3] = 0.0  # the kinks
    for name in ("relu", "tanh", "sigmoid"):
        check(name, getattr(M, name), getattr(torch, name), [a])
    check("leaky_relu default", M.leaky_relu, TF.leaky_relu, [a])
    check("leaky_relu 0.2", lambda x: M.leaky_relu(x, 0.2), lambda x: TF.leaky_relu(x, 0.2), [a])
    check("elu default", M.elu, TF.elu, [a])
    check("elu alpha=0.7", lambda x: M.elu(x, 0.7), lambda x: TF.elu(x, 0.7), [a])
    extreme = np.array([-1e4, -800.0, -40.0, 0.0, 40.0, 800.0, 1e4])
    for name in ("sigmoid", "tanh"):
        check(f"{name} extreme", getattr(M, name), getattr(torch, name), [extreme])
    check("elu extreme", M.elu, TF.elu, [extreme])
    for dim in (0, 1, -1):
        check(f"softmax dim={dim}", lambda x, d=dim: M.softmax(x, d),
              lambda x, d=dim: torch.softmax(x, d), [a])
        check(f"log_softmax dim={dim}", lambda x, d=dim: M.log_softmax(x, d),
              lambda x, d=dim: torch.log_softmax(x, d), [a])
    logits = np.array([[1e4, -1e4, 0.0, 1e4], [-1e4, -1e4, -1e4, -1e4], [800.0, 0.0, -800.0, 1.0],
                       [1e-300, 0.0, -1e-300, 0.0]])
    check("softmax extreme logits (+-1e4, ties)", lambda x: M.softmax(x, 1),
          lambda x: torch.softmax(x, 1), [logits])
    check("log_softmax extreme logits (+-1e4, ties)", lambda x: M.log_softmax(x, 1),
          lambda x: torch.log_softmax(x, 1), [logits])
    minus_inf = np.array([[-np.inf, 0.0, 1.0], [-np.inf, -np.inf, 2.0], [-np.inf] * 3])
    check("softmax -inf entries / all -inf row", lambda x: M.softmax(x, 1),
          lambda x: torch.softmax(x, 1), [minus_inf])
    check("log_softmax -inf entries / all -inf row", lambda x: M.log_softmax(x, 1),
          lambda x: torch.log_softmax(x, 1), [minus_inf])
    check("F.softmax implicit dim 2-D", lambda x: MF.softmax(x), lambda x: TF.softmax(x), [a[0]])
    check("F.log_softmax implicit dim 3-D", lambda x: MF.log_softmax(x),
          lambda x: TF.log_softmax(x), [a])


def ops_reduce():
    section("ops.reduce")
    a = randn(3, 5, 7)
    ties = np.array([[1.0, 3.0, 3.0, -2.0, 3.0], [0.0, 0.0, 0.0, 0.0, 0.0], [-1.0, -5.0, -5.0, 2.0, 2.0]])
    for dim, keep in ((None, False), (0, False), (1, True), (-1, False), ((0, 2), False),
                      ((0, 2), True)):
        label = f"dim={dim} keepdim={keep}"
        kw_t = {} if dim is None else {"dim": dim, "keepdim": keep}
        kw_m = {} if dim is None else {"dim": dim, "keepdim": keep}
        check(f"sum {label}", lambda x: M.sum(x, **kw_m), lambda x: torch.sum(x, **kw_t), [a])
        check(f"mean {label}", lambda x: M.mean(x, **kw_m), lambda x: torch.mean(x, **kw_t), [a])
        for corr in (0, 1, 2):
            check(f"var {label} correction={corr}", lambda x: M.var(x, correction=corr, **kw_m),
                  lambda x: torch.var(x, correction=corr, **kw_t), [a])
            check(f"std {label} correction={corr}", lambda x: M.std(x, correction=corr, **kw_m),
                  lambda x: torch.std(x, correction=corr, **kw_t), [a])
        if dim is not None:
            check(f"logsumexp {label}", lambda x: M.logsumexp(x, dim, keep),
                  lambda x: torch.logsumexp(x, dim, keep), [a])
        check(f"amax ties {label}" if dim is None or isinstance(dim, int) and dim < 2 else
              f"amax {label}", lambda x: M.amax(x, **kw_m), lambda x: torch.amax(x, **kw_t),
              [ties if dim is None or (isinstance(dim, int) and dim in (0, 1, -1)) else a])
        check(f"amin {label}", lambda x: M.amin(x, **kw_m), lambda x: torch.amin(x, **kw_t),
              [-ties if dim is None or (isinstance(dim, int) and dim in (0, 1, -1)) else a])
    check("var unbiased=False positional", lambda x: M.var(x, 1, False),
          lambda x: torch.var(x, 1, False), [a])
    check("std unbiased default dim=0", lambda x: M.std(x, 0), lambda x: torch.std(x, 0), [a])
    check("var ties (constant rows)", lambda x: M.var(x, 1), lambda x: torch.var(x, 1),
          [np.array([[2.0, 2.0, 2.0], [1.0, 2.0, 3.0]])])
    check("std of constant row (grad nan?)", lambda x: M.std(x, 1), lambda x: torch.std(x, 1),
          [np.array([[2.0, 2.0, 2.0], [1.0, 2.0, 3.0]])], note="torch gives nan grad at std=0")
    check("max() full ties", lambda x: M.max(x), lambda x: torch.max(x), [ties])
    check("min() full ties", lambda x: M.min(x), lambda x: torch.min(x), [-ties])
    for dim, keep in ((0, False), (1, False), (1, True), (-1, True)):
        check(f"max(dim={dim}, keepdim={keep}) ties", lambda x: M.max(x, dim, keep).values,
              lambda x: torch.max(x, dim, keep).values, [ties],
              extra=lambda m, t, d=dim, k=keep: [])
        mi = M.max(minnet.Tensor(ties), dim, keep).indices
        ti = torch.max(torch.tensor(ties), dim, keep).indices
        record(f"max(dim={dim}, keepdim={keep}) indices", [("idx", mi, ti)], tol=0)
        check(f"min(dim={dim}, keepdim={keep}) ties", lambda x: M.min(x, dim, keep).values,
              lambda x: torch.min(x, dim, keep).values, [-ties])
        mi = M.min(minnet.Tensor(-ties), dim, keep).indices
        ti = torch.min(torch.tensor(-ties), dim, keep).indices
        record(f"min(dim={dim}, keepdim={keep}) indices", [("idx", mi, ti)], tol=0)
    check("max(a, b) binary", lambda x, y: M.max(x, y), lambda x, y: torch.max(x, y),
          [ties, ties[::-1].copy()])
    check("logsumexp extreme", lambda x: M.logsumexp(x, 1), lambda x: torch.logsumexp(x, 1),
          [np.array([[1e4, 1e4, -1e4], [-np.inf, 0.0, 1.0], [-1e308, -1e308, 0.0]])])
    check("argmax tensor method", lambda x: x.argmax(1), lambda x: x.argmax(1), [ties],
          grad_for=[])


def ops_shape():
    section("ops.shape")
    a = randn(3, 5, 7)
    check("reshape", lambda x: M.reshape(x, 7, -1), lambda x: torch.reshape(x, (7, -1)), [a])
    check("view", lambda x: x.view(15, 7), lambda x: x.view(15, 7), [a])
    check("transpose", lambda x: M.transpose(x, 0, 2), lambda x: torch.transpose(x, 0, 2), [a])
    check("permute", lambda x: M.permute(x, 2, 0, 1), lambda x: x.permute(2, 0, 1), [a])
    check("flatten(1)", lambda x: M.flatten(x, 1), lambda x: torch.flatten(x, 1), [a])
    check("flatten default", M.flatten, torch.flatten, [a])
    check("unsqueeze(-1)", lambda x: M.unsqueeze(x, -1), lambda x: torch.unsqueeze(x, -1), [a])
    b = randn(3, 1, 7, 1)
    check("squeeze()", M.squeeze, torch.squeeze, [b])
    check("squeeze(1)", lambda x: M.squeeze(x, 1), lambda x: torch.squeeze(x, 1), [b])
    check("squeeze(0) no-op", lambda x: M.squeeze(x, 0), lambda x: torch.squeeze(x, 0), [b])
    check("expand", lambda x: M.expand(x, 2, 3, 5, 7, 4), lambda x: x.expand(2, 3, 5, 7, 4), [b])
    check("expand -1", lambda x: M.expand(x, -1, 5, -1, 2), lambda x: x.expand(-1, 5, -1, 2), [b])
    check("clone", M.clone, torch.clone, [a])
    indices = [
        ("slice step", (slice(None), slice(1, None, 2))),
        ("int + ellipsis", (Ellipsis, 2)),
        ("None", (None, 1)),
        ("negative int", (-1,)),
        ("repeated ints [0,0,2,0]", (np.array([0, 0, 2, 0]),)),
        ("repeated ints dim1 [4,4,-1]", (slice(None), np.array([4, 4, -1]))),
        ("two arrays (pairs, repeated)", (np.array([0, 2, 0]), np.array([1, 1, 1]))),
        ("array + slice + int", (np.array([2, 2]), slice(0, 3), 6)),
        ("2-D int array", (np.array([[0, 1], [1, 0]]),)),
    ]
    for label, index in indices:
        check(f"getitem {label}", lambda x, i=index: M.getitem(x, i), lambda x, i=index: x[
            tuple(torch.tensor(k) if isinstance(k, np.ndarray) else k for k in i)], [a])
    mask = rng(3).random((3, 5, 7)) > 0.5
    check("getitem bool mask full", lambda x: M.getitem(x, mask),
          lambda x: x[torch.tensor(mask)], [a])
    mask1 = np.array([True, False, True])
    check("getitem bool mask dim0", lambda x: M.getitem(x, mask1),
          lambda x: x[torch.tensor(mask1)], [a])
    check("getitem bool mask Tensor", lambda x: x[minnet.Tensor(mask1)],
          lambda x: x[torch.tensor(mask1)], [a])
    check("getitem list index", lambda x: x[[1, 1, 0]], lambda x: x[[1, 1, 0]], [a])
    check("cat dim=1", lambda x, y, z: M.cat([x, y, z], 1), lambda x, y, z: torch.cat([x, y, z], 1),
          [randn(3, 2, 7), randn(3, 5, 7, seed=1), randn(3, 1, 7, seed=2)])
    check("cat dim=-1", lambda x, y: M.cat([x, y], -1), lambda x, y: torch.cat([x, y], -1),
          [randn(3, 2), randn(3, 5, seed=1)])
    check("cat same tensor twice", lambda x: M.cat([x, x], 0), lambda x: torch.cat([x, x], 0),
          [randn(3, 2)])
    for dim in (0, 1, -1):
        check(f"stack dim={dim}", lambda x, y, d=dim: M.stack([x, y], d),
              lambda x, y, d=dim: torch.stack([x, y], d), [randn(3, 5), randn(3, 5, seed=1)])
    x4 = randn(2, 3, 5, 7)
    pads = [
        ("constant", (2, 1), None), ("constant", (1, 2, 3, 0), 1.5), ("constant", (-1, 2, 0, -2), None),
        ("constant", (1, 1, 1, 1, 1, 1), None),
        ("reflect", (3, 2, 4, 1), None), ("replicate", (3, 2, 4, 1), None),
        ("circular", (3, 2, 4, 1), None), ("circular", (5, 7, 3, 3), None),
        ("replicate", (6, 0, 0, 9), None),
    ]
    for mode, pad, value in pads:
        mkw = {} if value is None else {"value": value}
        tkw = {} if value is None else {"value": value}
        check(f"pad {mode} {pad}" + (f" value={value}" if value else ""),
              lambda x, p=pad, m=mode: M.pad(x, p, m, **mkw),
              lambda x, p=pad, m=mode: TF.pad(x, p, m, **tkw), [x4])
    for mode in ("reflect", "replicate", "circular"):
        check(f"F.pad {mode} 3-D (2, 3)", lambda x, m=mode: MF.pad(x, (2, 3), m),
              lambda x, m=mode: TF.pad(x, (2, 3), m), [randn(2, 3, 7)])


def ops_linalg():
    section("ops.linalg")
    shapes = [((3, 5), (5, 7)), ((7,), (7,)), ((7,), (7, 5)), ((3, 7), (7,)),
              ((2, 3, 5), (5, 7)), ((5,), (2, 5, 3)), ((2, 1, 3, 5), (4, 5, 7)),
              ((2, 3, 5), (2, 5, 7)), ((3, 5, 7), (7,))]
    for i, (sa, sb) in enumerate(shapes):
        check(f"matmul {sa}@{sb}", M.matmul, torch.matmul, [randn(*sa, seed=i), randn(*sb, seed=9 + i)])
    check("operator @", lambda x, y: x @ y, lambda x, y: x @ y, [randn(3, 5), randn(5, 2, seed=1)])
    check("linear with bias", M.linear, TF.linear, [randn(2, 3, 5), randn(7, 5, seed=1), randn(7, seed=2)])
    check("linear no bias", M.linear, TF.linear, [randn(3, 5), randn(7, 5, seed=1)])
    check("linear 1-D input", M.linear, TF.linear, [randn(5), randn(7, 5, seed=1), randn(7, seed=2)])


def ops_conv():
    section("ops.conv")
    try:
        from minnet.ops import conv as MC
    except ImportError as error:
        record_error("import minnet.ops.conv", error)
        return
    x = randn(2, 3, 7, 11)
    w = randn(5, 3, 3, 2, seed=1)
    bias = randn(5, seed=2)
    for stride, padding in ((1, 0), (2, 1), ((2, 3), (1, 0)), (1, (2, 1)), (3, 2)):
        check(f"conv2d stride={stride} padding={padding}",
              lambda a, b, c, s=stride, p=padding: MC.conv2d(a, b, c, s, p),
              lambda a, b, c, s=stride, p=padding: TF.conv2d(a, b, c, s, p), [x, w, bias])
    check("conv2d no bias", lambda a, b: MC.conv2d(a, b), lambda a, b: TF.conv2d(a, b), [x, w])
    check("conv2d padding='same'", lambda a, b, c: MC.conv2d(a, b, c, padding="same"),
          lambda a, b, c: TF.conv2d(a, b, c, padding="same"), [x, randn(5, 3, 3, 4, seed=1), bias])
    check("conv2d padding='valid'", lambda a, b, c: MC.conv2d(a, b, c, padding="valid"),
          lambda a, b, c: TF.conv2d(a, b, c, padding="valid"), [x, w, bias])
    check("conv2d unbatched (C,H,W)", lambda a, b, c: MC.conv2d(a, b, c, 1, 1),
          lambda a, b, c: TF.conv2d(a, b, c, 1, 1), [x[0], w, bias])
    ties = np.round(randn(2, 3, 7, 11, seed=5))  # many equal entries in the windows
    for kernel, stride, padding, ceil in ((2, None, 0, False), (3, 2, 1, False), ((3, 2), (2, 1), (1, 0), False),
                                          (3, 2, 0, True), (2, 3, 1, True), (3, 1, 1, False)):
        label = f"k={kernel} s={stride} p={padding} ceil={ceil}"
        check(f"max_pool2d {label}",
              lambda a, k=kernel, s=stride, p=padding, c=ceil: MC.max_pool2d(a, k, s, p, ceil_mode=c),
              lambda a, k=kernel, s=stride, p=padding, c=ceil: TF.max_pool2d(a, k, s, p, ceil_mode=c), [x])
        check(f"max_pool2d ties {label}",
              lambda a, k=kernel, s=stride, p=padding, c=ceil: MC.max_pool2d(a, k, s, p, ceil_mode=c),
              lambda a, k=kernel, s=stride, p=padding, c=ceil: TF.max_pool2d(a, k, s, p, ceil_mode=c), [ties])
        for include in (True, False):
            check(f"avg_pool2d {label} count_include_pad={include}",
                  lambda a, k=kernel, s=stride, p=padding, c=ceil, i=include:
                  MC.avg_pool2d(a, k, s, p, c, i),
                  lambda a, k=kernel, s=stride, p=padding, c=ceil, i=include:
                  TF.avg_pool2d(a, k, s, p, c, i), [x])
    check("avg_pool2d divisor_override=5", lambda a: MC.avg_pool2d(a, 3, 2, 1, divisor_override=5),
          lambda a: TF.avg_pool2d(a, 3, 2, 1, divisor_override=5), [x])
    m_out, m_idx = MC.max_pool2d(minnet.Tensor(ties), 3, 2, 1, return_indices=True)
    t_out, t_idx = TF.max_pool2d(torch.tensor(ties), 3, 2, 1, return_indices=True)
    record("max_pool2d return_indices (ties)", [("idx", m_idx, t_idx)], tol=0)
    check("max_pool2d unbatched", lambda a: MC.max_pool2d(a, 2), lambda a: TF.max_pool2d(a, 2), [x[0]])


# --------------------------------------------------------------------------
# nn layers (same state dict in both)
# --------------------------------------------------------------------------
def _state_to_numpy(module):
    return {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}


def _compare_state_layout(name, mn_module, th_module):
    mine = {k: tuple(v.shape) for k, v in mn_module.state_dict().items()}
    ref = {k: tuple(v.shape) for k, v in th_module.state_dict().items()}
    record_bool(f"{name} state_dict names/shapes", list(mine.items()) == list(ref.items()),
                "same" if mine == ref else f"minnet {mine} torch {ref}")


def layer_check(name, mn_module, th_module, x, train=True, steps=1, tol=RTOL):
    """Load torch's state into minnet, run forward/backward ``steps`` times, compare all."""
    try:
        th_module = th_module.double()
        mn_module = mn_module.double() if hasattr(mn_module, "double") else mn_module
        _compare_state_layout(name, mn_module, th_module)
        mn_module.load_state_dict(_state_to_numpy(th_module))
        mn_module.train(train)
        th_module.train(train)
        comparisons = []
        for step in range(steps):
            xs = x + step * 0.3
            mt = minnet.Tensor(xs.copy(), requires_grad=True)
            tt = torch.tensor(xs.copy(), requires_grad=True)
            mo, to = mn_module(mt), th_module(tt)
            upstream = rng(10 + step).standard_normal(tuple(to.shape))
            to.backward(torch.tensor(upstream))
            mo.backward(upstream)
            comparisons += [(f"out{step}", mo, to), (f"dx{step}", mt.grad, tt.grad)]
        mn_params = dict(mn_module.named_parameters())
        for pname, p in th_module.named_parameters():
            comparisons.append((f"d{pname}", mn_params[pname].grad, p.grad))
        th_state = th_module.state_dict()
        for key, value in mn_module.state_dict().items():
            if key in th_state and "weight" not in key and "bias" not in key:
                comparisons.append((key, value, th_state[key]))
        record(name, comparisons, tol)
    except Exception as error:  # noqa: BLE001
        record_error(name, error)
        if os.environ.get("PARITY_TRACE"):
            traceback.print_exc()


def nn_layers():
    section("nn layers")
    torch.manual_seed(0)
    layer_check("Linear(5,7)", mnn.Linear(5, 7), torch.nn.Linear(5, 7), randn(3, 5))
    layer_check("Linear(5,7,bias=False) 3-D input", mnn.Linear(5, 7, bias=False),
                torch.nn.Linear(5, 7, bias=False), randn(2, 3, 5))
    if hasattr(mnn, "Conv2d"):
        layer_check("Conv2d(3,5,3,stride=2,padding=1)", mnn.Conv2d(3, 5, 3, stride=2, padding=1),
                    torch.nn.Conv2d(3, 5, 3, stride=2, padding=1), randn(2, 3, 7, 11))
        layer_check("Conv2d(3,5,(3,2),bias=False)", mnn.Conv2d(3, 5, (3, 2), bias=False),
                    torch.nn.Conv2d(3, 5, (3, 2), bias=False), randn(2, 3, 7, 11))
    for train in (True, False):
        mode = "train" if train else "eval"
        bn1, tbn1 = mnn.BatchNorm1d(5), torch.nn.BatchNorm1d(5)
        with torch.no_grad():
            tbn1.weight.uniform_(0.5, 1.5)
            tbn1.bias.uniform_(-0.5, 0.5)
            tbn1.running_mean.uniform_(-1, 1)
            tbn1.running_var.uniform_(0.5, 2)
        layer_check(f"BatchNorm1d(5) {mode} x4 steps (N,C)", bn1, tbn1, randn(7, 5) * 2 + 1,
                    train=train, steps=4)
        layer_check(f"BatchNorm1d(5) {mode} (N,C,L)", mnn.BatchNorm1d(5), torch.nn.BatchNorm1d(5),
                    randn(3, 5, 7), train=train, steps=3)
        bn2, tbn2 = mnn.BatchNorm2d(3, momentum=0.3, eps=1e-3), torch.nn.BatchNorm2d(3, momentum=0.3, eps=1e-3)
        with torch.no_grad():
            tbn2.weight.uniform_(0.5, 1.5)
            tbn2.bias.uniform_(-0.5, 0.5)
        layer_check(f"BatchNorm2d(3, momentum=0.3, eps=1e-3) {mode} x4 steps", bn2, tbn2,
                    randn(2, 3, 5, 7), train=train, steps=4)
    layer_check("BatchNorm1d(5, momentum=None) cumulative x4", mnn.BatchNorm1d(5, momentum=None),
                torch.nn.BatchNorm1d(5, momentum=None), randn(7, 5), steps=4)
    layer_check("BatchNorm2d(3, bias=False)", mnn.BatchNorm2d(3, bias=False),
                torch.nn.BatchNorm2d(3, bias=False), randn(2, 3, 5, 7), steps=2)
    layer_check("BatchNorm1d(5, affine=False)", mnn.BatchNorm1d(5, affine=False),
                torch.nn.BatchNorm1d(5, affine=False), randn(7, 5), steps=2)
    layer_check("BatchNorm1d(5, track_running_stats=False) eval",
                mnn.BatchNorm1d(5, track_running_stats=False),
                torch.nn.BatchNorm1d(5, track_running_stats=False), randn(7, 5), train=False)
    layer_check("Dropout(0.3) eval", mnn.Dropout(0.3), torch.nn.Dropout(0.3), randn(3, 5), train=False)
    layer_check("Flatten()", mnn.Flatten(), torch.nn.Flatten(), randn(2, 3, 5, 7))
    layer_check("Flatten(0, 2)", mnn.Flatten(0, 2), torch.nn.Flatten(0, 2), randn(2, 3, 5, 7))
    x = randn(3, 5, 7)
    for mn_cls, th_cls, args in ((mnn.ReLU, torch.nn.ReLU, ()), (mnn.Tanh, torch.nn.Tanh, ()),
                                 (mnn.Sigmoid, torch.nn.Sigmoid, ()),
                                 (mnn.LeakyReLU, torch.nn.LeakyReLU, (0.1,)),
                                 (mnn.ELU, torch.nn.ELU, (0.5,)), (mnn.Softmax, torch.nn.Softmax, (1,)),
                                 (mnn.LogSoftmax, torch.nn.LogSoftmax, (-1,)),
                                 (mnn.Identity, torch.nn.Identity, ())):
        layer_check(f"{mn_cls.__name__}{args}", mn_cls(*args), th_cls(*args), x)
    if hasattr(mnn, "MaxPool2d"):
        layer_check("MaxPool2d(3, 2, 1)", mnn.MaxPool2d(3, 2, 1), torch.nn.MaxPool2d(3, 2, 1),
                    randn(2, 3, 7, 11))
        layer_check("AvgPool2d(3, 2, 1, count_include_pad=False)",
                    mnn.AvgPool2d(3, 2, 1, count_include_pad=False),
                    torch.nn.AvgPool2d(3, 2, 1, count_include_pad=False), randn(2, 3, 7, 11))
    seq_t = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.BatchNorm1d(7), torch.nn.ReLU(),
                                torch.nn.Dropout(0.2), torch.nn.Linear(7, 3))
    seq_m = mnn.Sequential(mnn.Linear(5, 7), mnn.BatchNorm1d(7), mnn.ReLU(), mnn.Dropout(0.2),
                           mnn.Linear(7, 3))
    layer_check("Sequential MLP eval", seq_m, seq_t, randn(11, 5), train=False)


# --------------------------------------------------------------------------
# losses
# --------------------------------------------------------------------------
def losses():
    section("losses")
    reductions = ("mean", "sum", "none")
    logits = randn(7, 5)
    labels = rng(1).integers(0, 5, 7)
    labels_ignore = labels.copy()
    labels_ignore[[1, 4]] = 2  # ignore_index=2 drops rows 1 and 4 and every class-2 target
    weight = positive(5, seed=3).astype(FLOAT[0])
    logits_nd = randn(3, 5, 2, 7)
    labels_nd = rng(4).integers(0, 5, (3, 2, 7))
    probs_target = TF.softmax(torch.tensor(randn(7, 5, seed=5)), 1).numpy()

    def ce_case(label, x, y, **kw):
        mkw, tkw = dict(kw), dict(kw)
        for key in ("weight",):
            if key in kw:
                mkw[key] = minnet.Tensor(kw[key])
                tkw[key] = torch.tensor(kw[key])
        check(label, lambda a, b: ML.cross_entropy(a, b, **mkw),
              lambda a, b: TF.cross_entropy(a, b, **tkw), [x, y], grad_for=[0])

    for red in reductions:
        ce_case(f"cross_entropy {red}", logits, labels, reduction=red)
        ce_case(f"cross_entropy weight {red}", logits, labels, weight=weight, reduction=red)
        ce_case(f"cross_entropy weight+ls0.1+ignore {red}", logits, labels_ignore, weight=weight,
                label_smoothing=0.1, ignore_index=2, reduction=red)
        ce_case(f"cross_entropy ls0.2 {red}", logits, labels, label_smoothing=0.2, reduction=red)
        ce_case(f"cross_entropy (N,C,d1,d2) weight+ls {red}", logits_nd, labels_nd, weight=weight,
                label_smoothing=0.15, reduction=red)
        ce_case(f"cross_entropy probs target {red}", logits, probs_target, reduction=red)
        ce_case(f"cross_entropy probs target weight+ls {red}", logits, probs_target, weight=weight,
                label_smoothing=0.3, reduction=red)
        logp = torch.log_softmax(torch.tensor(logits), 1).numpy()
        check(f"nll_loss weight+ignore {red}",
              lambda a, b: ML.nll_loss(a, b, minnet.Tensor(weight), ignore_index=2, reduction=red),
              lambda a, b: TF.nll_loss(a, b, torch.tensor(weight), ignore_index=2, reduction=red),
              [logp, labels_ignore], grad_for=[0])
        check(f"nll_loss (N,C,d) {red}", lambda a, b: ML.nll_loss(a, b, reduction=red),
              lambda a, b: TF.nll_loss(a, b, reduction=red), [randn(3, 5, 7), labels_nd[:, 0]],
              grad_for=[0])
    ce_case("cross_entropy unbatched (C,)", logits[0], np.array(labels[0]))
    ce_case("cross_entropy all ignored (mean -> nan)", logits, np.full(7, -100))
    ce_case("cross_entropy extreme logits +-1e4", np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]]),
            np.array([1, 0]))
    masked = np.array([[-np.inf, 0.3, 1.0, -np.inf], [-np.inf, -np.inf, 2.0, 0.5], [0.1, 0.2, 0.3, 0.4]])
    for red in reductions:
        ce_case(f"cross_entropy -inf masked logits {red}", masked, np.array([2, 3, 0]), reduction=red)
        ce_case(f"cross_entropy -inf masked logits ls0.1 {red}", masked, np.array([2, 3, 0]),
                label_smoothing=0.1, reduction=red)
    check("relu at nan", M.relu, torch.relu, [np.array([np.nan, -1.0, 0.0, 2.0])])
    ce_case("cross_entropy probs target (N,C,d)", logits_nd,
            TF.softmax(torch.tensor(randn(3, 5, 2, 7, seed=8)), 1).numpy(), weight=weight)
    pred, target = randn(3, 5, 7), randn(3, 5, 7, seed=1)
    for red in reductions:
        check(f"mse_loss {red}", lambda a, b: ML.mse_loss(a, b, reduction=red),
              lambda a, b: TF.mse_loss(a, b, reduction=red), [pred, target])
        check(f"l1_loss {red} (with zero diffs)", lambda a, b: ML.l1_loss(a, b, reduction=red),
              lambda a, b: TF.l1_loss(a, b, reduction=red), [pred, np.where(pred > 1, pred, target)])
        ew = positive(3, 5, 7, seed=9).astype(FLOAT[0])
        for name in ("mse_loss", "l1_loss"):
            check(f"{name} weight= {red}",
                  lambda a, b, n=name: getattr(ML, n)(a, b, reduction=red, weight=minnet.Tensor(ew)),
                  lambda a, b, n=name: getattr(TF, n)(a, b, reduction=red, weight=torch.tensor(ew)),
                  [pred, target], grad_for=[0, 1])
        for beta in (1.0, 0.5, 0.0, 2.0):
            check(f"smooth_l1 beta={beta} {red}",
                  lambda a, b, be=beta: ML.smooth_l1_loss(a, b, reduction=red, beta=be),
                  lambda a, b, be=beta: TF.smooth_l1_loss(a, b, reduction=red, beta=be),
                  [pred, target])
        p = rng(2).uniform(0.01, 0.99, (3, 5))
        t = rng(3).uniform(0, 1, (3, 5))
        w = positive(5, seed=4).astype(FLOAT[0])
        check(f"bce {red}", lambda a, b: ML.binary_cross_entropy(a, b, reduction=red),
              lambda a, b: TF.binary_cross_entropy(a, b, reduction=red), [p, t])
        check(f"bce weight {red}",
              lambda a, b: ML.binary_cross_entropy(a, b, minnet.Tensor(w), reduction=red),
              lambda a, b: TF.binary_cross_entropy(a, b, torch.tensor(w), reduction=red), [p, t])
        x = randn(3, 5, scale=3)
        check(f"bce_with_logits {red}",
              lambda a, b: ML.binary_cross_entropy_with_logits(a, b, reduction=red),
              lambda a, b: TF.binary_cross_entropy_with_logits(a, b, reduction=red), [x, t])
        pw = (positive(5, seed=6) * 2).astype(FLOAT[0])
        check(f"bce_with_logits weight+pos_weight {red}",
              lambda a, b: ML.binary_cross_entropy_with_logits(
                  a, b, minnet.Tensor(w), reduction=red, pos_weight=minnet.Tensor(pw)),
              lambda a, b: TF.binary_cross_entropy_with_logits(
                  a, b, torch.tensor(w), reduction=red, pos_weight=torch.tensor(pw)), [x, t])
    check("bce at p=0/1 (log clamp)", lambda a, b: ML.binary_cross_entropy(a, b),
          lambda a, b: TF.binary_cross_entropy(a, b),
          [np.array([0.0, 1.0, 0.5, 1e-20]), np.array([1.0, 0.0, 0.3, 1.0])], grad_for=[0],
          note="torch clamps the gradient differently at exactly 0/1")
    check("bce_with_logits extreme", lambda a, b: ML.binary_cross_entropy_with_logits(a, b),
          lambda a, b: TF.binary_cross_entropy_with_logits(a, b),
          [np.array([-1e4, 1e4, 800.0, -800.0, 0.0]), np.array([1.0, 0.0, 1.0, 0.0, 0.5])])
    check("mse_loss target grad", lambda a, b: ML.mse_loss(a, b), lambda a, b: TF.mse_loss(a, b),
          [pred, target], grad_for=[0, 1])
    check("bce_with_logits target grad pos_weight",
          lambda a, b: ML.binary_cross_entropy_with_logits(a, b, pos_weight=minnet.Tensor(np.full(5, 3.0, FLOAT[0]))),
          lambda a, b: TF.binary_cross_entropy_with_logits(a, b, pos_weight=torch.tensor(np.full(5, 3.0, FLOAT[0]))),
          [randn(3, 5), rng(3).uniform(0, 1, (3, 5))], grad_for=[0, 1])
    check("cross_entropy probs target grad wrt target",
          lambda a, b: ML.cross_entropy(a, b, label_smoothing=0.1),
          lambda a, b: TF.cross_entropy(a, b, label_smoothing=0.1), [logits, probs_target],
          grad_for=[0, 1])
    # the loss modules
    mods = [("CrossEntropyLoss(weight, ls, ignore)",
             mnn.CrossEntropyLoss(minnet.Tensor(weight), ignore_index=2, label_smoothing=0.1),
             torch.nn.CrossEntropyLoss(torch.tensor(weight), ignore_index=2, label_smoothing=0.1),
             logits, labels_ignore),
            ("NLLLoss(reduction=sum)", mnn.NLLLoss(reduction="sum"), torch.nn.NLLLoss(reduction="sum"),
             logits, labels),
            ("MSELoss", mnn.MSELoss(), torch.nn.MSELoss(), pred, target),
            ("L1Loss(sum)", mnn.L1Loss(reduction="sum"), torch.nn.L1Loss(reduction="sum"), pred, target),
            ("SmoothL1Loss(beta=0.5)", mnn.SmoothL1Loss(beta=0.5), torch.nn.SmoothL1Loss(beta=0.5),
             pred, target),
            ("BCELoss", mnn.BCELoss(), torch.nn.BCELoss(), rng(2).uniform(0.01, 0.99, (3, 5)),
             rng(3).uniform(0, 1, (3, 5))),
            ("BCEWithLogitsLoss(pos_weight)", mnn.BCEWithLogitsLoss(pos_weight=minnet.Tensor(np.full(5, 2.0, FLOAT[0]))),
             torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(np.full(5, 2.0, FLOAT[0]))), randn(3, 5),
             rng(3).uniform(0, 1, (3, 5)))]
    for label, mn_mod, th_mod, x, y in mods:
        check(label, lambda a, b, m=mn_mod: m(a, b), lambda a, b, t=th_mod: t(a, b), [x, y],
              grad_for=[0])


# --------------------------------------------------------------------------
# optimizers, schedulers, clipping
# --------------------------------------------------------------------------
def _twin_models(seed=0, dtype=np.float64):
    torch.manual_seed(seed)
    th = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3))
    mn = mnn.Sequential(mnn.Linear(5, 7), mnn.Tanh(), mnn.Linear(7, 3))
    th = th.double() if dtype == np.float64 else th.float()
    mn = mn.double() if dtype == np.float64 else mn.float()
    mn.load_state_dict(_state_to_numpy(th))
    return mn, th


def _groups(model, framework_lr_scale, extra):
    """Two param groups: first layer with its own lr (and options), the rest default."""
    first = list(model[0].parameters())
    rest = list(model[2].parameters())
    return [dict(params=first, lr=0.05 * framework_lr_scale, **extra), dict(params=rest)]


def optim_case(label, mn_cls, th_cls, kwargs, group_extra=None, steps=10, tol=1e-9,
               dtype=np.float64, same_grads=False):
    try:
        mn, th = _twin_models(dtype=dtype)
        mn_opt = mn_cls(_groups(mn, 1.0, group_extra or {}), **kwargs)
        th_opt = th_cls(_groups(th, 1.0, group_extra or {}), **kwargs)
        x = randn(11, 5, seed=3).astype(dtype)
        y = rng(4).integers(0, 3, 11)
        comparisons = []
        for step in range(steps):
            for opt, model, out_fn in ((mn_opt, mn, None), (th_opt, th, None)):
                opt.zero_grad()
            xs = (x + 0.1 * step).astype(dtype)
            mo = mn(minnet.Tensor(xs))
            to = th(torch.tensor(xs))
            ML.cross_entropy(mo, y).backward()
            TF.cross_entropy(to, torch.tensor(y)).backward()
            if same_grads:  # isolate the update rule from float32 rounding in backward
                for p_m, p_t in zip(mn.parameters(), th.parameters()):
                    p_m.grad = minnet.Tensor(p_t.grad.numpy().copy())
            mn_opt.step()
            th_opt.step()
        for (name, p_m), (_, p_t) in zip(mn.named_parameters(), th.named_parameters()):
            comparisons.append((name, p_m, p_t))
        record(label, comparisons, tol, note=f"{steps} steps, params after" + (
            ", torch's gradients copied in each step" if same_grads else ""))
    except Exception as error:  # noqa: BLE001
        record_error(label, error)
        if os.environ.get("PARITY_TRACE"):
            traceback.print_exc()


def optimizers():
    section("optim")
    O, TO = minnet.optim, torch.optim
    cases = [
        ("SGD lr=0.1", O.SGD, TO.SGD, dict(lr=0.1), None),
        ("SGD momentum=0.9", O.SGD, TO.SGD, dict(lr=0.1, momentum=0.9), None),
        ("SGD momentum nesterov", O.SGD, TO.SGD, dict(lr=0.1, momentum=0.9, nesterov=True), None),
        ("SGD momentum dampening=0.3 wd=0.01", O.SGD, TO.SGD,
         dict(lr=0.1, momentum=0.8, dampening=0.3, weight_decay=0.01), None),
        ("SGD maximize momentum wd", O.SGD, TO.SGD,
         dict(lr=0.1, momentum=0.5, weight_decay=0.1, maximize=True), None),
        ("SGD group momentum override", O.SGD, TO.SGD, dict(lr=0.1), dict(momentum=0.9)),
        ("Adam default", O.Adam, TO.Adam, dict(lr=0.01), None),
        ("Adam amsgrad wd", O.Adam, TO.Adam, dict(lr=0.01, amsgrad=True, weight_decay=0.05), None),
        ("Adam betas/eps maximize", O.Adam, TO.Adam,
         dict(lr=0.02, betas=(0.8, 0.9), eps=1e-6, maximize=True), None),
        ("Adam group betas override", O.Adam, TO.Adam, dict(lr=0.01), dict(betas=(0.5, 0.6))),
        ("AdamW default", O.AdamW, TO.AdamW, dict(lr=0.01), None),
        ("AdamW wd=0.1 amsgrad", O.AdamW, TO.AdamW, dict(lr=0.01, weight_decay=0.1, amsgrad=True), None),
        ("RMSprop default", O.RMSprop, TO.RMSprop, dict(lr=0.01), None),
        ("RMSprop centered", O.RMSprop, TO.RMSprop, dict(lr=0.01, centered=True), None),
        ("RMSprop momentum", O.RMSprop, TO.RMSprop, dict(lr=0.01, momentum=0.9), None),
        ("RMSprop centered+momentum+wd+alpha", O.RMSprop, TO.RMSprop,
         dict(lr=0.01, alpha=0.9, centered=True, momentum=0.5, weight_decay=0.01), None),
        ("RMSprop maximize", O.RMSprop, TO.RMSprop, dict(lr=0.01, maximize=True), None),
    ]
    for label, mn_cls, th_cls, kwargs, group_extra in cases:
        optim_case(label, mn_cls, th_cls, kwargs, group_extra)
    # float32 (the default dtype): the same rounding as torch's float32 arithmetic is hoped
    # for; forward/backward sums may differ in the last bit, so allow a few float32 ulps
    for label, mn_cls, th_cls, kwargs, group_extra in cases:
        optim_case(label + " [float32]", mn_cls, th_cls, kwargs, group_extra, tol=1e-6,
                   dtype=np.float32, same_grads=True)


def _lr_sequence(opt, scheduler, steps, metrics=None):
    lrs = []
    for step in range(steps):
        opt.step()
        if metrics is None:
            scheduler.step()
        else:
            scheduler.step(metrics[step])
        lrs.append([g["lr"] for g in opt.param_groups])
    return np.array(lrs)


def schedulers():
    section("lr_scheduler")
    S, TS = minnet.optim.lr_scheduler, torch.optim.lr_scheduler
    metrics = [1.0, 0.9, 0.95, 0.95, 0.95, 0.95, 0.8, 0.85, 0.85, 0.85, 0.85, 0.85, 0.7, 0.7,
               0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7]
    cases = [
        ("StepLR(7, 0.5)", "StepLR", dict(step_size=7, gamma=0.5), None, 30),
        ("StepLR(3) default gamma", "StepLR", dict(step_size=3), None, 12),
        ("ExponentialLR(0.9)", "ExponentialLR", dict(gamma=0.9), None, 30),
        ("CosineAnnealingLR(T_max=10) past T_max", "CosineAnnealingLR", dict(T_max=10), None, 35),
        ("CosineAnnealingLR(T_max=7, eta_min=0.01)", "CosineAnnealingLR",
         dict(T_max=7, eta_min=0.01), None, 30),
        ("MultiStepLR([3, 8], 0.3)", "MultiStepLR", dict(milestones=[3, 8], gamma=0.3), None, 12),
        ("ReduceLROnPlateau(patience=2)", "ReduceLROnPlateau", dict(patience=2), metrics, 25),
        ("ReduceLROnPlateau(max, factor=.5, cooldown=1, threshold_mode=abs, min_lr)",
         "ReduceLROnPlateau", dict(mode="max", factor=0.5, patience=1, cooldown=1,
                                   threshold=0.01, threshold_mode="abs", min_lr=0.02),
         [-m for m in metrics], 25),
        ("ReduceLROnPlateau(patience=0, eps)", "ReduceLROnPlateau",
         dict(patience=0, factor=0.5, eps=0.02), metrics, 25),
    ]
    for label, cls_name, kwargs, metric_seq, steps in cases:
        try:
            mn, th = _twin_models()
            mo = minnet.optim.SGD(_groups(mn, 1.0, {}), lr=0.1)
            to = torch.optim.SGD(_groups(th, 1.0, {}), lr=0.1)
            mlr = _lr_sequence(mo, getattr(S, cls_name)(mo, **kwargs), steps, metric_seq)
            tlr = _lr_sequence(to, getattr(TS, cls_name)(to, **kwargs), steps, metric_seq)
            record(label, [("lrs", mlr, tlr)], 1e-12)
        except Exception as error:  # noqa: BLE001
            record_error(label, error)


def clipping():
    section("clip_grad")
    try:
        from minnet.nn import utils as MU
    except ImportError as error:
        record_error("import minnet.nn.utils", error)
        return
    for norm_type in (2.0, 1.0, 3.0, float("inf")):
        for max_norm in (0.1, 100.0):
            label = f"clip_grad_norm_(max_norm={max_norm}, norm_type={norm_type})"
            try:
                mn, th = _twin_models()
                x = randn(11, 5, seed=3)
                y = rng(4).integers(0, 3, 11)
                ML.cross_entropy(mn(minnet.Tensor(x)), y).backward()
                TF.cross_entropy(th(torch.tensor(x)), torch.tensor(y)).backward()
                mt = MU.clip_grad_norm_(mn.parameters(), max_norm, norm_type)
                tt = torch.nn.utils.clip_grad_norm_(th.parameters(), max_norm, norm_type)
                comparisons = [("total_norm", mt, tt)]
                for (n, pm), (_, pt) in zip(mn.named_parameters(), th.named_parameters()):
                    comparisons.append((f"grad {n}", pm.grad, pt.grad))
                record(label, comparisons, 1e-12)
            except Exception as error:  # noqa: BLE001
                record_error(label, error)
    try:
        mn, th = _twin_models()
        x = randn(11, 5, seed=3) * 5
        y = rng(4).integers(0, 3, 11)
        ML.cross_entropy(mn(minnet.Tensor(x)), y).backward()
        TF.cross_entropy(th(torch.tensor(x)), torch.tensor(y)).backward()
        MU.clip_grad_value_(mn.parameters(), 0.05)
        torch.nn.utils.clip_grad_value_(th.parameters(), 0.05)
        record("clip_grad_value_(0.05)", [(f"grad {n}", pm.grad, pt.grad) for (n, pm), (_, pt)
                                          in zip(mn.named_parameters(), th.named_parameters())],
               1e-12)
    except Exception as error:  # noqa: BLE001
        record_error("clip_grad_value_", error)


# --------------------------------------------------------------------------
# initialisation
# --------------------------------------------------------------------------
def init_checks():
    section("nn.init")
    from torch.nn import init as TI
    I = mnn.init
    nonlinearities = [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None),
                      ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2), ("selu", None)]
    for nl, param in nonlinearities:
        # (torch returns the int 1 for linear-like names; the value is what matters)
        record(f"calculate_gain({nl}, {param})", [("gain", float(I.calculate_gain(nl, param)),
                                                   float(TI.calculate_gain(nl, param)))], 1e-15)
    shapes = [(257, 131), (67, 31, 3, 5)]
    for shape in shapes:
        mfan = I._calculate_fan_in_and_fan_out(minnet.Tensor(np.empty(shape)))
        tfan = TI._calculate_fan_in_and_fan_out(torch.empty(shape))
        record_bool(f"fan_in/fan_out {shape}", tuple(mfan) == tuple(tfan), f"{mfan} vs {tfan}")

    def stat_case(label, fill, shape, expect_bound=None, expect_std=None, expect_mean=0.0):
        """Compare the sample's bound/std with torch's formula (statistical tolerance)."""
        t = minnet.Tensor(np.empty(shape))
        fill(t)
        v = t.numpy().ravel()
        parts, ok = [], True
        n = v.size
        if expect_bound is not None:
            hi = np.abs(v).max()
            # max of n uniforms on [-b, b] is within b * (1 - 10/n) of b with high probability
            ok &= hi <= expect_bound * (1 + 1e-12) and hi >= expect_bound * (1 - 20.0 / n)
            parts.append(f"max|w|={hi:.5g} bound={expect_bound:.5g}")
            expect_std = expect_bound / math.sqrt(3)
        std = v.std()
        # sampling error of the std is about std / sqrt(2n): allow 6 of them
        ok &= abs(std - expect_std) <= 6 * expect_std / math.sqrt(2 * n)
        ok &= abs(v.mean() - expect_mean) <= 6 * expect_std / math.sqrt(n)
        parts.append(f"std={std:.5g} expected={expect_std:.5g} mean={v.mean():.2g}")
        record_bool(label, bool(ok), " ".join(parts))

    g = lambda: np.random.default_rng(123)  # noqa: E731
    for shape in shapes:
        fan_in, fan_out = TI._calculate_fan_in_and_fan_out(torch.empty(shape))
        for gain in (1.0, 2.5):
            b = gain * math.sqrt(6.0 / (fan_in + fan_out))
            stat_case(f"xavier_uniform_ gain={gain} {shape}",
                      lambda t, gn=gain: I.xavier_uniform_(t, gain=gn, generator=g()), shape, b)
            stat_case(f"xavier_normal_ gain={gain} {shape}",
                      lambda t, gn=gain: I.xavier_normal_(t, gain=gn, generator=g()), shape,
                      expect_std=gain * math.sqrt(2.0 / (fan_in + fan_out)))
        for mode in ("fan_in", "fan_out"):
            fan = fan_in if mode == "fan_in" else fan_out
            for nl, a in (("leaky_relu", 0), ("leaky_relu", math.sqrt(5)), ("relu", 0),
                          ("tanh", 0), ("linear", 0), ("selu", 0)):
                std = TI.calculate_gain(nl, a) / math.sqrt(fan)
                stat_case(f"kaiming_uniform_ {mode} {nl} a={a:.3g} {shape}",
                          lambda t, m=mode, n=nl, aa=a: I.kaiming_uniform_(
                              t, a=aa, mode=m, nonlinearity=n, generator=g()),
                          shape, math.sqrt(3) * std)
                stat_case(f"kaiming_normal_ {mode} {nl} a={a:.3g} {shape}",
                          lambda t, m=mode, n=nl, aa=a: I.kaiming_normal_(
                              t, a=aa, mode=m, nonlinearity=n, generator=g()),
                          shape, expect_std=std)
    stat_case("kaiming_uniform_ defaults (257,131)",
              lambda t: I.kaiming_uniform_(t, generator=g()), (257, 131),
              math.sqrt(3) * TI.calculate_gain("leaky_relu", 0) / math.sqrt(131))
    stat_case("uniform_ defaults U(0,1)", lambda t: I.uniform_(t, generator=g()), (200, 100), 1.0,
              expect_mean=0.5) if False else None
    t = minnet.Tensor(np.empty((200, 100)))
    I.uniform_(t, generator=g())
    record_bool("uniform_ defaults in [0,1)", t.numpy().min() >= 0 and t.numpy().max() < 1 and
                abs(t.numpy().mean() - 0.5) < 0.01, f"min={t.numpy().min():.3g} max={t.numpy().max():.3g}")
    t = minnet.Tensor(np.empty((200, 100)))
    I.normal_(t, generator=g())
    record_bool("normal_ defaults N(0,1)", abs(t.numpy().std() - 1) < 0.02 and abs(t.numpy().mean()) < 0.02,
                f"mean={t.numpy().mean():.3g} std={t.numpy().std():.4g}")
    t = minnet.Tensor(np.empty((200, 100)))
    I.trunc_normal_(t, mean=0.5, std=2.0, a=-1.0, b=3.0, generator=g())
    tt = TI.trunc_normal_(torch.empty(2000, 1000), mean=0.5, std=2.0, a=-1.0, b=3.0).numpy()
    record_bool("trunc_normal_(0.5, 2, -1, 3) vs torch sample", t.numpy().min() >= -1 and
                t.numpy().max() <= 3 and abs(t.numpy().mean() - tt.mean()) < 0.03 and
                abs(t.numpy().std() - tt.std()) < 0.03,
                f"mean {t.numpy().mean():.4f}/{tt.mean():.4f} std {t.numpy().std():.4f}/{tt.std():.4f}")
    # default initialisation of the layers: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias
    layer_cases = [("Linear(131, 257)", lambda: mnn.Linear(131, 257, generator=g()), 131)]
    if hasattr(mnn, "Conv2d"):
        layer_cases.append(("Conv2d(31, 67, (3,5))",
                            lambda: mnn.Conv2d(31, 67, (3, 5), generator=g()), 31 * 15))
    for label, make, fan_in in layer_cases:
        layer = make()
        bound = 1 / math.sqrt(fan_in)
        w = layer.weight.numpy().ravel()
        b = layer.bias.numpy().ravel()
        ok = (np.abs(w).max() <= bound and np.abs(w).max() > bound * (1 - 20 / w.size)
              and abs(w.std() - bound / math.sqrt(3)) < 6 * bound / math.sqrt(3) / math.sqrt(2 * w.size)
              and np.abs(b).max() <= bound and np.abs(b).max() > bound * 0.8)
        record_bool(f"{label} default init bounds", bool(ok),
                    f"max|w|={np.abs(w).max():.5g} max|b|={np.abs(b).max():.5g} bound={bound:.5g} "
                    f"std(w)={w.std():.5g} expected={bound / math.sqrt(3):.5g}")
        record_bool(f"{label} default dtype float32", layer.weight.numpy().dtype == np.float32,
                    str(layer.weight.numpy().dtype))


# --------------------------------------------------------------------------
# default argument values
# --------------------------------------------------------------------------
def _split_signature(sig):
    return ({n: p.default for n, p in sig.parameters.items()
             if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)},
            [n for n, p in sig.parameters.items()
             if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)])


def _doc_signatures(fn):
    """Signatures of a torch builtin, parsed from the 'name(args) -> Tensor' lines of its doc."""
    name = getattr(fn, "__name__", "")
    found = []
    for line in (getattr(fn, "__doc__", None) or "").splitlines():
        match = re.match(rf"\s*{re.escape(name)}\((.*)\)\s*(->.*)?$", line)
        if not match:
            continue
        try:
            namespace = {}
            exec(f"def _f({match.group(1)}): pass", {"Tensor": object, "Optional": object,
                                                     "Union": object, "List": object,
                                                     "inf": math.inf}, namespace)
            found.append(_split_signature(inspect.signature(namespace["_f"])))
        except Exception:  # noqa: BLE001 - a doc line that is not Python
            continue
    return found


def _defaults(fn):
    """A list of (defaults by name, positional names), one per overload; [] if unknown."""
    try:
        return [_split_signature(inspect.signature(fn))]
    except (TypeError, ValueError):
        found = _doc_signatures(fn)
        if found:
            return found
        # torch.relu / torch.log_softmax are builtins without a signature or docstring:
        # their documented twin in torch.nn.functional has the same parameters
        import torch.nn.functional as functional
        twin = getattr(functional, getattr(fn, "__name__", ""), None)
        if twin is not None and twin is not fn:
            try:
                return [_split_signature(inspect.signature(twin))]
            except (TypeError, ValueError):
                return _doc_signatures(twin)
        return []


def _same_default(a, b):
    empty = inspect.Parameter.empty
    if a is empty or b is empty:
        return a is b
    try:
        if isinstance(a, (tuple, list)) or isinstance(b, (tuple, list)):
            return tuple(a) == tuple(b)
        return a == b or (a is None and b is None)
    except Exception:  # noqa: BLE001
        return repr(a) == repr(b)


# names that exist only on one side for a reason (NumPy aliases, minnet extras, torch-only knobs)
_IGNORED = {"axis", "keepdims", "generator", "out", "device", "dtype", "memory_format", "layout",
            "pin_memory", "foreach", "fused", "differentiable", "capturable", "verbose", "inplace",
            "_stacklevel"}


def signature_checks():
    section("signatures")
    pairs = []
    for name in ("add", "sub", "mul", "div", "pow", "exp", "log", "sqrt", "abs", "clamp", "clip",
                 "maximum", "minimum", "where", "neg", "sum", "mean", "var", "std", "amax", "amin",
                 "logsumexp", "reshape", "transpose", "permute", "flatten", "unsqueeze", "squeeze",
                 "cat", "stack", "matmul", "softmax", "log_softmax", "relu", "tanh", "sigmoid"):
        pairs.append((f"ops.{name}", getattr(M, name), getattr(torch, name)))
    for name in ("linear", "relu", "leaky_relu", "elu", "tanh", "sigmoid", "softmax", "log_softmax",
                 "dropout", "batch_norm", "pad", "mse_loss", "l1_loss", "smooth_l1_loss",
                 "cross_entropy", "nll_loss", "binary_cross_entropy",
                 "binary_cross_entropy_with_logits", "conv2d", "max_pool2d", "avg_pool2d"):
        if hasattr(MF, name):
            pairs.append((f"F.{name}", getattr(MF, name), getattr(TF, name)))
        else:
            RESULTS.append((SECTION[0], f"F.{name}", "MISSING", 0.0, "not in minnet.nn.functional"))
    for name in ("Linear", "Conv2d", "BatchNorm1d", "BatchNorm2d", "Dropout", "Flatten", "ReLU",
                 "LeakyReLU", "ELU", "Tanh", "Sigmoid", "Softmax", "LogSoftmax", "MaxPool2d",
                 "AvgPool2d", "CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss", "SmoothL1Loss",
                 "BCELoss", "BCEWithLogitsLoss", "Sequential"):
        if hasattr(mnn, name):
            pairs.append((f"nn.{name}", getattr(mnn, name).__init__, getattr(torch.nn, name).__init__))
    for name in ("calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "zeros_",
                 "ones_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_"):
        pairs.append((f"init.{name}", getattr(mnn.init, name), getattr(torch.nn.init, name)))
    try:
        from minnet.nn import utils as MU
        for name in ("clip_grad_norm_", "clip_grad_value_"):
            pairs.append((f"utils.{name}", getattr(MU, name), getattr(torch.nn.utils, name)))
    except ImportError:
        pass
    for name in ("SGD", "Adam", "AdamW", "RMSprop"):
        pairs.append((f"optim.{name}", getattr(minnet.optim, name).__init__,
                      getattr(torch.optim, name).__init__))
    for name in ("StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "ReduceLROnPlateau",
                 "LambdaLR"):
        pairs.append((f"lr_scheduler.{name}", getattr(minnet.optim.lr_scheduler, name).__init__,
                      getattr(torch.optim.lr_scheduler, name).__init__))
    for label, mine, ref in pairs:
        m, overloads = _defaults(mine), _defaults(ref)
        if not m or not overloads:
            RESULTS.append((SECTION[0], label, "SKIP", 0.0, "no inspectable signature"))
            continue
        m_def, m_pos = m[0]
        best = None
        for t_def, t_pos in overloads:  # report against the overload that fits best
            problems, renamed = [], []
            # positional parameters: same names in the same order
            t_lead = [n for n in t_pos if n not in _IGNORED and n != "self"]
            m_lead = [n for n in m_pos if n not in _IGNORED and n != "self"][:len(t_lead)]
            renamed_to = {tn: mn_name for tn, mn_name in zip(t_lead, m_lead) if tn != mn_name}
            renamed = [f"{mn_name}->{tn}" for tn, mn_name in renamed_to.items()]
            for name, default in t_def.items():
                if name in _IGNORED or name == "self":
                    continue
                if name in renamed_to:
                    continue
                if name == "correction" and m_def.get(name, 0) is None:
                    continue  # None means "from unbiased", which defaults to 1 as torch's does
                if name not in m_def:
                    problems.append(f"missing {name}" + (
                        "" if default is inspect.Parameter.empty else f"={default!r}"))
                elif default is not inspect.Parameter.empty and \
                        not _same_default(m_def[name], default):
                    problems.append(f"{name}: minnet default {m_def[name]!r}, torch {default!r}")
            score = (len(problems), len(renamed))
            if best is None or score < best[0]:
                best = (score, problems, renamed)
        _, problems, renamed = best
        details = problems + ([f"positional names differ: {', '.join(renamed)}"] if renamed else [])
        status = "PASS" if not problems and not renamed else ("DIFF" if problems else "NAMES")
        RESULTS.append((SECTION[0], label, status, 0.0, "; ".join(details) or "same"))


# --------------------------------------------------------------------------
def float32_pass():
    """The op and loss checks again in float32: dtypes must match torch's, values to ~1e-5."""
    FLOAT[0] = np.float32
    try:
        for function in (ops_elementwise, ops_activation, ops_reduce, ops_shape, ops_linalg,
                         ops_conv, losses):
            function()
    finally:
        FLOAT[0] = np.float64


SECTIONS = [("ops", [ops_elementwise, ops_activation, ops_reduce, ops_shape, ops_linalg]),
            ("conv", [ops_conv]), ("nn", [nn_layers]), ("loss", [losses]),
            ("optim", [optimizers]), ("sched", [schedulers]), ("clip", [clipping]),
            ("init", [init_checks]), ("signatures", [signature_checks]),
            ("float32", [float32_pass])]


def main(argv):
    wanted = argv[1:]
    for key, functions in SECTIONS:
        if wanted and not any(w in key for w in wanted):
            continue
        for function in functions:
            function()
    width = max(len(r[1]) for r in RESULTS) + 2
    counts = {}
    current = None
    for sec, name, status, rel, detail in RESULTS:
        if sec != current:
            print(f"\n== {sec} ==")
            current = sec
        counts[status] = counts.get(status, 0) + 1
        show_rel = f"rel={rel:.1e}" if rel not in (0.0, math.inf) else ""
        print(f"{status:7s} {name:{width}s} {show_rel:12s} {detail}")
    print("\n" + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    return 1 if counts.get("FAIL") or counts.get("ERROR") else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
