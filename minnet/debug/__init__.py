"""The training debugger: see docs/debugger.md.

* ``Monitor(model, optimizer)``   records what happens in every layer, step by step;
* ``diagnose(model, loss_fn, data, optimizer)`` a preflight and a short monitored run on a
  copy, returning a ``Report`` of ``Finding``s (codes from the failure catalogue, codes.py);
* ``detect_anomaly()``             the first NaN/Inf, its op, layer and source line;
* ``Setup``                        one runnable training setup (what scenarios return).

Anomaly mode lives in the core (``minnet/anomaly.py``, as PyTorch keeps it in
``torch.autograd``) and is re-exported here; the rest loads on first use.
"""
from ..anomaly import (AnomalyError, SourceLine, detect_anomaly, is_anomaly_check_nan_enabled,
                       is_anomaly_enabled, set_detect_anomaly)

_LAZY = {
    "Monitor": ("monitor", "Monitor"),
    "diagnose": ("setup", "diagnose"),
    "diagnose_setup": ("diagnosis", "diagnose_setup"),
    "Report": ("report", "Report"),
    "Finding": ("report", "Finding"),
    "Setup": ("setup", "Setup"),
    "CODES": ("codes", "CODES"),
    "Thresholds": ("thresholds", "Thresholds"),
}

__all__ = ["AnomalyError", "SourceLine", "detect_anomaly", "is_anomaly_check_nan_enabled",
           "is_anomaly_enabled", "set_detect_anomaly", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        import importlib
        module_name, attribute = _LAZY[name]
        value = getattr(importlib.import_module(f"{__name__}.{module_name}"), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'minnet.debug' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
