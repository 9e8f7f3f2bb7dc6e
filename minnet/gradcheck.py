"""Check analytic gradients against central finite differences (minimal core).

The output of ``fn`` is reduced to a scalar ``L = sum(out * w)`` with a fixed
random ``w``; the analytic dL/dinput (from ``backward``) is compared with
``(L(x + eps) - L(x - eps)) / (2 eps)`` entry by entry, in float64.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .tensor import Tensor, no_grad


@dataclass
class InputCheck:
    name: str
    max_rel_error: float
    passed: bool


@dataclass
class GradcheckResult:
    passed: bool
    inputs: list = field(default_factory=list)

    def __bool__(self):
        return self.passed

    def __repr__(self):
        lines = [f"gradcheck: {'PASSED' if self.passed else 'FAILED'}"]
        for check in self.inputs:
            lines.append(f"  {check.name}: max relative error {check.max_rel_error:.3e}"
                         f" {'ok' if check.passed else 'MISMATCH'}")
        return "\n".join(lines)


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, n_samples=None, fast_mode=False,
              seed=0) -> GradcheckResult:
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = tuple(inputs)
    targets = [(f"input {i}", t) for i, t in enumerate(inputs)
               if isinstance(t, Tensor) and t.requires_grad]
    if hasattr(fn, "named_parameters"):
        targets += [(name, p) for name, p in fn.named_parameters()]
    rng = np.random.default_rng(seed)
    out = fn(*inputs)
    weights = rng.standard_normal(out.shape)

    def scalar_loss():
        with no_grad():
            return float(np.sum(fn(*inputs).data * weights))

    for _, t in targets:
        t.grad = None
    out = fn(*inputs)
    (out * Tensor(weights)).sum().backward()
    checks = []
    for name, t in targets:
        analytic = np.zeros_like(t.data) if t.grad is None else t.grad.data.copy()
        numeric = np.zeros_like(t.data)
        flat = t.data.reshape(-1)
        for i in range(flat.size):
            original = flat[i]
            flat[i] = original + eps
            plus = scalar_loss()
            flat[i] = original - eps
            minus = scalar_loss()
            flat[i] = original
            numeric.reshape(-1)[i] = (plus - minus) / (2 * eps)
        ok = np.allclose(analytic, numeric, atol=atol, rtol=rtol)
        rel = np.abs(analytic - numeric) / np.maximum(1e-8, np.abs(analytic) + np.abs(numeric))
        checks.append(InputCheck(name, float(rel.max()) if rel.size else 0.0, bool(ok)))
    return GradcheckResult(all(c.passed for c in checks), checks)
