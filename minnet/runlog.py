"""The run log: every training or diagnosis run, recorded on disk and comparable.

    from minnet.runlog import RunLog
    with RunLog.start("digits-mlp", config={"lr": 1e-3, "hidden": 128}, seed=0) as run:
        for step in range(steps):
            ...
            run.log_step(step, loss=loss.item(), lr=lr)
        run.finish(summary={"test_accuracy": 0.97})

Each run is a folder ``runs/<id>/`` holding ``run.json`` (config, seed, package
versions, status, summary, findings) and ``metrics.json`` (per-step metrics).
Both are written atomically (temporary file + rename), so a crash never leaves
half a file, and ``run.json`` is written at the start (status "running"), so a
run that died is still listed. ``minnet runs`` lists and compares them.
"""
from __future__ import annotations

import json
import math
import os
import platform
import sys
import time
from typing import Optional

from .fileio import atomic_write

DEFAULT_ROOT = "runs"
RUN_FILE, METRICS_FILE = "run.json", "metrics.json"


def package_versions() -> dict:
    """Versions of Python and the packages that change numbers (for reproducing a run)."""
    versions = {"python": platform.python_version(), "platform": platform.platform()}
    for name in ("minnet", "numpy", "numba", "matplotlib"):
        module = sys.modules.get(name)
        if module is None:
            try:
                module = __import__(name)
            except ImportError:
                versions[name] = None
                continue
        versions[name] = getattr(module, "__version__", "unknown")
    return versions


def _json_value(value):
    """Numbers, strings, lists and dicts as JSON can hold them (NaN/inf become strings)."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


def _safe_name(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_." else "-" for c in name.strip())
    return cleaned.strip("-.") or "run"


class RunLog:
    """One run's record. Make it with ``RunLog.start(...)``; use it as a context manager
    so a crash is recorded as status "failed" with the error."""

    def __init__(self, directory: str, record: dict):
        self.directory = directory
        self.record = record
        self.metrics: dict = {}          # name -> {"steps": [...], "values": [...]}
        self._unflushed = 0

    @property
    def id(self) -> str:
        return self.record["id"]

    @classmethod
    def start(cls, name: str, config: Optional[dict] = None, seed: Optional[int] = None,
              root: str = DEFAULT_ROOT, kind: str = "training") -> "RunLog":
        """Create ``root/<timestamp>-<name>/`` and write its run.json (status "running")."""
        os.makedirs(root, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        base = f"{stamp}-{_safe_name(name)}"
        run_id, counter = base, 1
        while True:  # two runs started in the same second get -2, -3, ...
            try:
                os.mkdir(os.path.join(root, run_id))
                break
            except FileExistsError:
                counter += 1
                run_id = f"{base}-{counter}"
        record = {"id": run_id, "name": name, "kind": kind, "status": "running",
                  "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "finished": None,
                  "seed": seed, "config": _json_value(config or {}),
                  "versions": package_versions(), "summary": {}, "findings": []}
        run = cls(os.path.join(root, run_id), record)
        run._write_record()
        return run

    # -- recording ---------------------------------------------------------------------------
    def log_step(self, step: int, **metrics) -> None:
        """Record metrics (floats or 0-d Tensors) for ``step``; flushed every 100 calls."""
        for name, value in metrics.items():
            value = float(value.item() if hasattr(value, "item") else value)
            series = self.metrics.setdefault(name, {"steps": [], "values": []})
            series["steps"].append(int(step))
            series["values"].append(value)
        self._unflushed += 1
        if self._unflushed >= 100:
            self.flush()

    def add_findings(self, report) -> None:
        """Store a diagnosis report's findings (as dicts) with the run."""
        self.record["findings"] = _json_value([f.to_dict() for f in report.findings])

    def flush(self) -> None:
        atomic_write(os.path.join(self.directory, METRICS_FILE),
                     json.dumps(_json_value(self.metrics)))
        self._unflushed = 0

    def finish(self, status: str = "completed", summary: Optional[dict] = None,
               error: Optional[str] = None) -> None:
        self.record["status"] = status
        self.record["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        if summary:
            self.record["summary"].update(_json_value(summary))
        if error:
            self.record["error"] = error
        self.flush()
        self._write_record()

    def _write_record(self) -> None:
        atomic_write(os.path.join(self.directory, RUN_FILE), json.dumps(self.record, indent=2))

    def __enter__(self) -> "RunLog":
        return self

    def __exit__(self, kind, error, traceback) -> bool:
        if error is not None:
            self.finish("failed", error=f"{kind.__name__}: {error}")
        elif self.record["status"] == "running":
            self.finish()
        return False


# -- reading -------------------------------------------------------------------------------------
def load_run(run_id: str, root: str = DEFAULT_ROOT) -> dict:
    """A run's record with its metrics under "metrics"; clear error for an unknown id."""
    directory = os.path.join(root, run_id)
    path = os.path.join(directory, RUN_FILE)
    if not os.path.exists(path):
        known = [r["id"] for r in list_runs(root)]
        matches = [k for k in known if run_id in k]
        if len(matches) == 1:  # a unique part of an id is enough
            return load_run(matches[0], root)
        raise KeyError(f"no run {run_id!r} in {root!r}; known runs: "
                       f"{', '.join(known[-10:]) or 'none'}")
    with open(path, encoding="utf-8") as file:
        record = json.load(file)
    metrics_path = os.path.join(directory, METRICS_FILE)
    record["metrics"] = {}
    if os.path.exists(metrics_path):
        with open(metrics_path, encoding="utf-8") as file:
            record["metrics"] = json.load(file)
    return record


def list_runs(root: str = DEFAULT_ROOT) -> list:
    """Every run's record (without metrics), oldest first; unreadable folders are skipped."""
    if not os.path.isdir(root):
        return []
    runs = []
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name, RUN_FILE)
        try:
            with open(path, encoding="utf-8") as file:
                runs.append(json.load(file))
        except (OSError, ValueError):
            continue
    return runs


def last_value(record: dict, metric: str):
    series = record.get("metrics", {}).get(metric)
    if not series or not series.get("values"):
        return None
    return series["values"][-1]


def compare_runs(run_ids: list, root: str = DEFAULT_ROOT) -> dict:
    """What differs between runs: config keys with different values, last metric values,
    summaries and finding codes. Returns {"runs": ids, "config": {key: [values]}, ...}."""
    records = [load_run(run_id, root) for run_id in run_ids]
    keys = sorted({key for record in records for key in record.get("config", {})})
    config = {key: [record.get("config", {}).get(key) for record in records] for key in keys}
    differing = {key: values for key, values in config.items()
                 if any(v != values[0] for v in values)}
    metric_names = sorted({name for record in records for name in record.get("metrics", {})})
    summary_names = sorted({name for record in records for name in record.get("summary", {})})
    return {
        "runs": [record["id"] for record in records],
        "seed": [record.get("seed") for record in records],
        "config_differs": differing,
        "config_same": {key: values[0] for key, values in config.items() if key not in differing},
        "last_metrics": {name: [last_value(record, name) for record in records]
                         for name in metric_names},
        "summary": {name: [record.get("summary", {}).get(name) for record in records]
                    for name in summary_names},
        "findings": [sorted({f["code"] for f in record.get("findings", [])}) for record in records],
        "status": [record.get("status") for record in records],
    }


# -- what minnet's own runs record -----------------------------------------------------------
def setup_config(name: str, setup, steps) -> dict:
    """What a run log records about a setup: enough to tell two runs apart and redo one."""
    config = {"setup": name, "steps": steps, "batch_size": setup.batch_size,
              "shuffle": setup.shuffle,
              "model": " -> ".join(type(m).__name__ for _, m in setup.model.named_modules()
                                   if not m._modules) or type(setup.model).__name__,
              "parameters": sum(p.data.size for p in setup.model.parameters())}
    if setup.optimizer is not None:
        config["optimizer"] = type(setup.optimizer).__name__
        group = setup.optimizer.param_groups[0]
        for key in ("lr", "momentum", "nesterov", "weight_decay", "betas", "eps", "alpha"):
            if key in group:
                config[key] = list(group[key]) if isinstance(group[key], tuple) else group[key]
    if setup.clip_grad_norm is not None:
        config["clip_grad_norm"] = setup.clip_grad_norm
    if setup.train_step is not None:
        config["train_step"] = getattr(setup.train_step, "__name__", "custom")
    return config


def record_diagnosis(report, setup, name: str, root: str = DEFAULT_ROOT) -> str:
    """Record a diagnosis in the run log: the setup's config, the short run's losses and
    the findings. Returns the run id."""
    planned = report.context.steps if report.context is not None else report.run.get("steps")
    config = setup_config(name, setup, planned)
    with RunLog.start(name, config=config, seed=setup.seed, root=root, kind="diagnosis") as run:
        for step, loss in enumerate(report.run.get("losses", [])):
            run.log_step(step, loss=float(loss))
        run.add_findings(report)
        run.finish(summary={"first_loss": report.run.get("first_loss"),
                            "steps_run": report.run.get("steps"), "errors": len(report.errors)})
    return run.id
