"""minnet against PyTorch's own test samples (OpInfo), op by op.

    python benchmarks/opinfo_parity.py                 # every op minnet has under torch's name
    python benchmarks/opinfo_parity.py add softmax     # only these ops (OpInfo names)
    python benchmarks/opinfo_parity.py --list          # one line per sample that is not ok

PyTorch's test suite describes each operator by an ``OpInfo`` whose ``sample_inputs``
(and ``reference_inputs``) are the edge cases its own tests run: 0-d and empty tensors,
broadcasting, non-contiguous inputs, negative dims, keepdim, inf and nan. Its
``error_inputs`` are calls PyTorch refuses. For every op that minnet has under the
same name (``minnet.X``, ``Tensor.X``, ``minnet.nn.functional.X``) this script converts
each sample to minnet and compares:

* float64: values (rtol 1e-7), dtype and shape, and the gradients for a random upstream
  gradient (``torch.autograd.grad`` against minnet's ``backward``);
* float32, int64 and bool: values, dtype and shape of the forward pass;
* error inputs: minnet should raise too, with its own message (one that names the
  function), not NumPy's from deep inside, and not return a result.

Each outcome is counted as ``ok``, ``documented`` (a known difference kept on purpose,
listed with its reason in DOCUMENTED below), ``refused`` (minnet raises its own clear error,
or Python's "unexpected keyword argument": a form minnet does not support), ``crash``
(NumPy's or an internal error) or ``mismatch`` (a silent wrong answer: investigate).

A script, not a test: it needs PyTorch and its test helpers (``pip install torch
expecttest``); without them it says so and exits.
"""
from __future__ import annotations

import argparse
import collections
import os
import sys
import traceback
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
warnings.simplefilter("ignore")

try:
    import torch
    from torch.testing._internal.common_methods_invocations import op_db
except ImportError as missing:  # pragma: no cover - depends on the machine
    print(f"opinfo_parity.py skipped: it needs PyTorch and its test helpers ({missing}). "
          "Install with: pip install torch expecttest. minnet itself does not use torch.")
    sys.exit(0)

import numpy as np

import minnet
import minnet.nn.functional as MF

TORCH_TO_NUMPY = {torch.float64: np.float64, torch.float32: np.float32,
                  torch.float16: np.float16, torch.int64: np.int64, torch.int32: np.int32,
                  torch.int16: np.int16, torch.int8: np.int8, torch.uint8: np.uint8,
                  torch.bool: np.bool_}
TOLERANCE = {"float64": (1e-7, 1e-9), "float32": (2e-5, 1e-5), "int64": (2e-6, 1e-6),
             "bool": (2e-6, 1e-6)}  # integer inputs give float32 results in many ops

# ops whose values are random or uninitialised: only dtype and shape are compared
RANDOM = {"randn", "randn_like", "rand_like", "randint", "multinomial", "empty", "empty_like",
          "nn.functional.dropout"}

# known differences, kept on purpose: op -> (when it applies, why). "nan": the sample
# holds a nan; "indices": only the indices output (1) differs; "always".
DOCUMENTED = {
    "sign": ("nan", "sign(nan) is nan, as NumPy; PyTorch gives 0"),
    "abs": ("nan", "the gradient of abs at nan is nan; PyTorch gives 0"),
    "nn.functional.elu": ("nan", "the gradient of elu at nan is nan; PyTorch gives 0"),
    "topk": ("indices", "ties: which of equal entries comes first (PyTorch promises no order)"),
    "sort": ("indices", "ties: minnet's sort is stable, PyTorch's only with stable=True"),
    "half": ("always", "float64 -> float16 rounds once (NumPy); PyTorch goes via float32"),
}


class Unsupported(Exception):
    """A sample minnet cannot even be handed (a complex dtype, a memory format...)."""


# -- finding minnet's version of an op ------------------------------------------------------
def minnet_variants(op) -> list:
    """[(variant name, callable taking the sample's (input, *args, **kwargs))]."""
    name = op.name
    if name == "einsum":  # OpInfo passes (operands, equation)
        return [("function", lambda tensors, equation: minnet.einsum(equation, *tensors))]
    if name == "where":  # OpInfo passes (input, condition, other)
        return [("function", lambda x, condition, other: minnet.where(condition, x, other)),
                ("method", lambda x, condition, other: x.where(condition, other))]
    if name.startswith("nn.functional."):
        function = getattr(MF, name[len("nn.functional."):], None)
        if name == "nn.functional.embedding" and function is not None:  # (weight, indices)
            return [("F", lambda weight, indices, **kw: MF.embedding(indices, weight, **kw))]
        return [("F", function)] if function is not None else []
    if "." in name:
        return []
    if name.startswith("__") or name in ("T", "mT"):
        attribute = getattr(minnet.Tensor, name, None)
        if isinstance(attribute, property):
            return [("method", lambda x, _name=name: getattr(x, _name))]
        defined_here = name in vars(minnet.Tensor)  # (type's __ror__ is not Tensor's)
        return [("method", attribute)] if defined_here else []
    found = []
    function = getattr(minnet, name, None)
    if callable(function) and not isinstance(function, type) and op.op is not None:
        found.append(("function", function))
    method = getattr(minnet.Tensor, name, None)
    if callable(method) and op.method_variant is not None:
        found.append(("method", method))
    functional = getattr(MF, name, None)
    if callable(functional) and functional is not function:
        found.append(("F", functional))
    return found


# -- converting a sample ---------------------------------------------------------------------
def fresh_leaves(value, seen):
    """torch tensors that require grad -> fresh leaf copies (some samples hold expanded,
    stride-0 leaves, whose gradient torch reports differently)."""
    if isinstance(value, torch.Tensor):
        if id(value) not in seen:
            seen[id(value)] = (value.detach().clone().requires_grad_()
                               if value.requires_grad else value)
        return seen[id(value)]
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return type(value)(fresh_leaves(v, seen) for v in value)
    if isinstance(value, dict):
        return {key: fresh_leaves(v, seen) for key, v in value.items()}
    return value


def to_minnet(value, seen, leaves):
    """torch values -> minnet values; one torch tensor gives one minnet tensor."""
    if isinstance(value, torch.Tensor):
        if id(value) not in seen:
            if value.dtype not in TORCH_TO_NUMPY:
                raise Unsupported(f"dtype {value.dtype}")
            try:
                array = value.detach().numpy().copy()
            except ValueError as error:  # e.g. more than NumPy's 64 dims
                raise Unsupported(str(error)) from None
            seen[id(value)] = minnet.tensor(array, dtype=array.dtype,
                                            requires_grad=value.requires_grad)
            if value.requires_grad:
                leaves.append((value, seen[id(value)]))
        return seen[id(value)]
    if isinstance(value, torch.dtype):
        if value not in TORCH_TO_NUMPY:
            raise Unsupported(f"dtype {value}")
        return TORCH_TO_NUMPY[value]
    if isinstance(value, torch.Size):
        return tuple(value)
    if isinstance(value, torch.device):
        return "cpu"
    if isinstance(value, (torch.memory_format, torch.layout, torch.Generator, complex)):
        raise Unsupported(type(value).__name__)
    if isinstance(value, (list, tuple)):
        return type(value)(to_minnet(v, seen, leaves) for v in value)
    if isinstance(value, dict):
        return {key: to_minnet(v, seen, leaves) for key, v in value.items()}
    return value


def flat(result) -> list:
    if isinstance(result, (list, tuple)):
        return [item for part in result for item in flat(part)]
    return [result]


def describe(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"T{tuple(value.shape)}:{str(value.dtype)[6:]}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(describe(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}={describe(v)}" for k, v in value.items()) + "}"
    return repr(value)[:30]


# -- comparing -------------------------------------------------------------------------------
def compare(expected, got, rtol, atol, values: bool):
    """None when ``got`` (minnet) matches ``expected`` (torch), else what differs."""
    if not isinstance(expected, torch.Tensor):
        got = got.item() if isinstance(got, minnet.Tensor) and got.numel() == 1 else got
        if isinstance(got, minnet.Tensor):
            return f"got a Tensor of shape {got.shape}, torch a {type(expected).__name__}"
        same = got == expected or (isinstance(expected, float) and np.isclose(got, expected))
        return None if same else f"got {got!r:.30}, torch {expected!r:.30}"
    if not isinstance(got, minnet.Tensor):
        return f"got a {type(got).__name__}, not a Tensor"
    want, have = expected.detach().numpy(), got.numpy()
    if have.shape != want.shape:
        return f"shape {have.shape} vs {want.shape}"
    if have.dtype != want.dtype:
        return f"dtype {have.dtype} vs {want.dtype}"
    if not values:
        return None
    if want.dtype.kind == "f":
        close = np.allclose(have, want, rtol=rtol, atol=atol, equal_nan=True)
    else:
        close = np.array_equal(have, want)
    return None if close else "values differ"


def raised(error) -> dict:
    """Who raised: minnet with its own message ("refused"), or NumPy / an internal error
    such as an AttributeError ("crash"). Python's "unexpected keyword argument" names the
    function and the argument, so it counts as a clear refusal."""
    where = traceback.extract_tb(error.__traceback__)[-1].filename
    internal = isinstance(error, (AttributeError, KeyError, NameError, ZeroDivisionError,
                                  AssertionError, UnboundLocalError)) \
        or isinstance(error, IndexError) and "()" not in str(error)
    own = os.sep + "minnet" + os.sep in where and not internal
    clear = own or "unexpected keyword argument" in str(error)
    return {"status": "refused" if clear else "crash",
            "detail": f"{type(error).__name__}: {str(error)[:120]}"}


def run_sample(op, call, sample, dtype_name: str, values: bool) -> dict:
    seen_torch, seen, leaves = {}, {}, []
    t_input, t_args, t_kwargs = (fresh_leaves(part, seen_torch) for part in
                                 (sample.input, list(sample.args), dict(sample.kwargs)))
    m_input, m_args, m_kwargs = (to_minnet(part, seen, leaves)
                                 for part in (t_input, t_args, t_kwargs))
    try:
        expected = op.op(t_input, *t_args, **t_kwargs)
    except Exception:  # noqa: BLE001 - torch refuses its own sample (e.g. no derivative)
        return {"status": "skipped", "detail": "torch raises"}
    try:
        got = call(m_input, *m_args, **m_kwargs)
    except Exception as error:  # noqa: BLE001
        return raised(error)
    expected_parts, got_parts = flat(expected), flat(got)
    if len(expected_parts) != len(got_parts):
        return {"status": "mismatch", "detail": f"{len(got_parts)} outputs vs {len(expected_parts)}"}
    rtol, atol = TOLERANCE[dtype_name]
    for k, (e, g) in enumerate(zip(expected_parts, got_parts)):
        problem = compare(e, g, rtol, atol, values)
        if problem:
            return {"status": "mismatch", "detail": f"output {k}: {problem}"}
    if dtype_name != "float64" or not values:
        return {"status": "ok"}
    return compare_gradients(expected_parts, got_parts, leaves, rtol, atol)


def compare_gradients(expected_parts, got_parts, leaves, rtol, atol) -> dict:
    pairs = [(e, g) for e, g in zip(expected_parts, got_parts)
             if isinstance(e, torch.Tensor) and e.requires_grad and e.dtype.is_floating_point]
    leaves = [(t, m) for t, m in leaves if t.dtype.is_floating_point]
    if not pairs or not leaves:
        return {"status": "ok"}
    rng = np.random.default_rng(0)
    upstream = [rng.standard_normal(tuple(e.shape)) for e, _ in pairs]
    try:
        expected = torch.autograd.grad([e for e, _ in pairs], [t for t, _ in leaves],
                                       [torch.tensor(u) for u in upstream], allow_unused=True)
    except RuntimeError:  # e.g. "derivative for aten::remainder is not implemented"
        return {"status": "skipped", "detail": "torch has no derivative"}
    if not all(isinstance(g, minnet.Tensor) and g.requires_grad for _, g in pairs):
        if all(e is None or not e.any() for e in expected):
            return {"status": "ok"}
        return {"status": "mismatch", "detail": "minnet's output does not require grad"}
    try:
        total = sum(((g * minnet.tensor(u)).sum() for (_, g), u in zip(pairs, upstream)),
                    start=minnet.tensor(0.0, dtype=np.float64))
        total.backward()
    except Exception as error:  # noqa: BLE001
        return raised(error)
    for k, (want, (_, leaf)) in enumerate(zip(expected, leaves)):
        want = np.zeros(leaf.shape) if want is None else want.numpy()
        have = np.zeros(leaf.shape) if leaf.grad is None else leaf.grad.numpy()
        if not np.allclose(have, want, rtol=10 * rtol, atol=10 * atol, equal_nan=True):
            return {"status": "mismatch", "detail": f"gradient {k} differs"}
    return {"status": "ok"}


def run_error_input(call, error_input) -> dict:
    sample = error_input.sample_input
    seen, leaves = {}, []
    args = (to_minnet(part, seen, leaves)
            for part in (sample.input, list(sample.args), dict(sample.kwargs)))
    m_input, m_args, m_kwargs = args
    try:
        got = call(m_input, *m_args, **m_kwargs)
    except Exception as error:  # noqa: BLE001
        return raised(error)
    return {"status": "accepted", "detail": f"torch raises {error_input.error_type.__name__}; "
                                            f"minnet returned {type(got).__name__}"}


def has_nan(value) -> bool:
    if isinstance(value, torch.Tensor):
        return value.dtype.is_floating_point and bool(torch.isnan(value).any())
    if isinstance(value, (list, tuple)):
        return any(has_nan(v) for v in value)
    if isinstance(value, dict):
        return any(has_nan(v) for v in value.values())
    return isinstance(value, float) and value != value


def documented(op_name: str, record: dict, sample) -> bool:
    """Whether a mismatch is one of the known differences in DOCUMENTED."""
    when = DOCUMENTED.get(op_name, (None,))[0]
    return when == "always" \
        or when == "nan" and has_nan((sample.input, sample.args, sample.kwargs)) \
        or when == "indices" and record.get("detail", "").startswith("output 1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("ops", nargs="*", help="OpInfo names, e.g. add nn.functional.pad")
    parser.add_argument("--list", action="store_true", help="print every sample not ok")
    options = parser.parse_args()
    counts = collections.defaultdict(collections.Counter)
    errors = collections.defaultdict(collections.Counter)
    for op in op_db:
        full = op.name + (f".{op.variant_test_name}" if op.variant_test_name else "")
        if options.ops and op.name not in options.ops and full not in options.ops:
            continue
        variants = minnet_variants(op)
        for dtype_name in ("float64", "float32", "int64", "bool"):
            dtype = getattr(torch, dtype_name)
            if not variants or dtype not in op.supported_dtypes("cpu"):
                continue
            grads = dtype_name == "float64" and op.supports_autograd
            try:
                samples = list(op.reference_inputs("cpu", dtype, requires_grad=grads)
                               if grads else op.sample_inputs("cpu", dtype))
            except Exception:  # noqa: BLE001
                continue
            for sample in samples:
                if op.name.startswith("__") and not isinstance(sample.input, torch.Tensor):
                    continue  # Tensor.__rsub__(number, ...) unbound: NotImplemented in both
                text = (f"{describe(sample.input)} {describe(list(sample.args))} "
                        f"{describe(sample.kwargs)}")
                for variant, call in variants:
                    try:
                        record = run_sample(op, call, sample, dtype_name, op.name not in RANDOM
                                            and full not in RANDOM)
                    except Unsupported:
                        continue
                    if record["status"] in ("mismatch", "crash") and documented(full, record, sample):
                        record["status"] = "documented"
                    counts[full][record["status"]] += 1
                    if options.list and record["status"] not in ("ok", "skipped"):
                        print(f"  {full} {variant} {dtype_name} {text[:90]}: "
                              f"{record['status']} ({record.get('detail', '')})")
        try:
            error_inputs = list(op.error_inputs("cpu")) if variants else []
        except Exception:  # noqa: BLE001 - the op has no error inputs
            error_inputs = []
        for error_input in error_inputs:
            if "out" in error_input.sample_input.kwargs:
                continue  # out= errors are about memory shared with an input: not reproduced
            if op.name.startswith("__") and not isinstance(error_input.sample_input.input,
                                                           torch.Tensor):
                continue
            for variant, call in variants:
                try:
                    record = run_error_input(call, error_input)
                except Unsupported:
                    continue
                errors[full][record["status"]] += 1
                if options.list and record["status"] != "refused":
                    print(f"  {full} {variant} error input "
                          f"{describe(error_input.sample_input.input)}: {record['status']} "
                          f"({record.get('detail', '')})")
    report(counts, errors)


def report(counts, errors) -> None:
    columns = ("ok", "documented", "refused", "crash", "mismatch")
    print(f"\n{'op (OpInfo name)':34}" + "".join(f"{c:>11}" for c in columns)
          + "   error inputs: refused / crash / accepted")
    totals, error_totals = collections.Counter(), collections.Counter()
    for name in sorted(set(counts) | set(errors)):
        row, error_row = counts[name], errors[name]
        totals.update(row)
        error_totals.update(error_row)
        errs = (f"   {error_row['refused']} / {error_row['crash']} / {error_row['accepted']}"
                if error_row else "")
        print(f"{name:34}" + "".join(f"{row[c]:>11}" for c in columns) + errs)
    print(f"{'total (' + str(len(counts)) + ' ops)':34}"
          + "".join(f"{totals[c]:>11}" for c in columns)
          + f"   {error_totals['refused']} / {error_totals['crash']} / "
            f"{error_totals['accepted']}")
    print(f"torch {torch.__version__}; samples torch itself refuses: {totals['skipped']}")


if __name__ == "__main__":
    main()
