"""The run log: every training or diagnosis run, recorded on disk and comparable.

``with RunLog.start("digits-mlp", config={"lr": 1e-3}, seed=0) as run:`` then
``run.log_step(step, loss=...)`` per step and ``run.finish(summary={...})``. A run is
``runs/<id>/run.json`` (config, seed, versions, status, summary, findings, process)
and ``metrics.json``, written atomically; run.json is written at the start, so a
"running" run whose process is gone (same host) is listed as "died". NaN/Inf are
stored as ``null`` and named in a ``"nonfinite"`` map (strict JSON); a damaged folder
is listed with what is wrong (``load_run`` raises ``DamagedRun``). CLI: ``minnet runs``.
"""
from __future__ import annotations

import json
import math
import os
import platform
import socket
import sys
import time
from typing import Optional

from .fileio import atomic_write, pid_alive

DEFAULT_ROOT = "runs"
RUN_FILE, METRICS_FILE = "run.json", "metrics.json"
FLUSH_EVERY_STEPS, FLUSH_EVERY_SECONDS = 100, 30.0
_NONFINITE_TEXT = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


class RunLogError(Exception):
    """A run that cannot be found or read; the message says which and why."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class RunNotFound(RunLogError, KeyError):
    """No run, or more than one, matches the id given."""


class DamagedRun(RunLogError, ValueError):
    """A run's run.json or metrics.json cannot be read; the message names the file."""


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


def nonfinite_text(value: float) -> str:
    """'nan', 'inf' or '-inf'."""
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def _pointer_part(key) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")


def _json_value(value, pointer: str = "", nonfinite: Optional[dict] = None):
    """Numbers, strings, lists and dicts as strict JSON can hold them.

    A NaN or infinite float becomes None, and ``nonfinite[pointer]`` says which it was;
    anything else unknown becomes its repr."""
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        value = value.tolist()
    if isinstance(value, bool) or value is None or isinstance(value, (str, int)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        if nonfinite is not None:
            nonfinite[pointer] = nonfinite_text(value)
        return None
    if isinstance(value, dict):
        return {str(k): _json_value(v, f"{pointer}/{_pointer_part(k)}", nonfinite)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(v, f"{pointer}/{i}", nonfinite) for i, v in enumerate(value)]
    return repr(value)


def _restore(document, nonfinite: dict):
    """Put the NaN/inf floats named by JSON pointers back into ``document`` (in place)."""
    for pointer, text in nonfinite.items():
        parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]
        node = document
        try:
            for part in parts[:-1]:
                node = node[int(part)] if isinstance(node, list) else node[part]
            last = parts[-1]
            if isinstance(node, list):
                node[int(last)] = _NONFINITE_TEXT[text]
            else:
                node[last] = _NONFINITE_TEXT[text]
        except (KeyError, IndexError, ValueError, TypeError):
            continue  # a map entry that does not fit: leave the null
    return document


def to_json(document, indent: Optional[int] = 2) -> str:
    """``document`` as strict JSON text (what ``--json`` prints): NaN/inf as null, named in
    a top-level "nonfinite" map of JSON pointers when ``document`` is a dict."""
    nonfinite: dict = {}
    encoded = _json_value(document, "", nonfinite)
    if nonfinite and isinstance(encoded, dict):
        encoded["nonfinite"] = {**encoded.get("nonfinite", {}), **nonfinite} \
            if isinstance(encoded.get("nonfinite"), dict) else nonfinite
    return json.dumps(encoded, indent=indent, allow_nan=False)


def _encode_series(series: dict) -> dict:
    values, nonfinite = series["values"], {}
    if not all(map(math.isfinite, values)):
        values = list(values)
        for index, value in enumerate(values):
            if not math.isfinite(value):
                values[index] = None
                nonfinite[str(index)] = nonfinite_text(value)
    encoded = {"steps": series["steps"], "values": values}
    if nonfinite:
        encoded["nonfinite"] = nonfinite
    return encoded


def _decode_series(series, path: str, name: str) -> dict:
    """A series as stored (or by an older minnet, with "nan" strings) -> floats."""
    if not isinstance(series, dict) or not isinstance(series.get("values"), list) \
            or not isinstance(series.get("steps"), list) \
            or len(series["values"]) != len(series["steps"]):
        raise DamagedRun(f"{path}: metric {name!r} is not a series of steps and values")
    nonfinite = series.get("nonfinite") or {}
    values = []
    for index, value in enumerate(series["values"]):
        if value is None:
            value = _NONFINITE_TEXT.get(nonfinite.get(str(index)), math.nan)
        elif isinstance(value, str) and value.strip().lower() in _NONFINITE_TEXT:
            value = _NONFINITE_TEXT[value.strip().lower()]   # written by an earlier minnet
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            raise DamagedRun(f"{path}: metric {name!r} holds {value!r} at position {index}, "
                             "not a number")
        values.append(float(value))
    return {"steps": series["steps"], "values": values}


def _safe_name(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_." else "-" for c in name.strip())
    return cleaned.strip("-.")[:80] or "run"


def _process_started(pid: int) -> Optional[str]:
    """When process ``pid`` started (Linux: clock ticks after boot), to tell a reused pid."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _this_process() -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname(),
            "started": _process_started(os.getpid())}


class RunLog:
    """One run's record. Make it with ``RunLog.start(...)``; use it as a context manager
    so a crash is recorded as status "failed" (Ctrl-C: "interrupted") with the error."""

    def __init__(self, directory: str, record: dict):
        self.directory = directory
        self.record = record
        self.metrics: dict = {}          # name -> {"steps": [...], "values": [...]}
        self._unflushed = 0
        self._logged = 0
        self._flushed_at = time.monotonic()

    @property
    def id(self) -> str:
        return self.record["id"]

    @classmethod
    def start(cls, name: str, config: Optional[dict] = None, seed: Optional[int] = None,
              root: str = DEFAULT_ROOT, kind: str = "training") -> "RunLog":
        """Create ``root/<timestamp>-<name>/`` and write its run.json (status "running")."""
        if not isinstance(name, str):
            raise TypeError(f"RunLog.start(): name must be a string, got {type(name).__name__}")
        if config is not None and not isinstance(config, dict):
            raise TypeError(f"RunLog.start(): config must be a dict, got "
                            f"{type(config).__name__}")
        if seed is not None and (isinstance(seed, bool) or not hasattr(seed, "__index__")):
            raise TypeError(f"RunLog.start(): seed must be an integer or None, got {seed!r}")
        if not isinstance(root, (str, os.PathLike)) or not os.fspath(root):
            raise TypeError(f"RunLog.start(): root must be a folder path, got {root!r}")
        root = os.fspath(root)
        if os.path.exists(root) and not os.path.isdir(root):
            raise NotADirectoryError(f"RunLog.start(): the run log folder {root!r} is a file")
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
                  "seed": None if seed is None else int(seed), "config": config or {},
                  "versions": package_versions(), "process": _this_process(),
                  "summary": {}, "findings": []}
        run = cls(os.path.join(root, run_id), record)
        run._write_record()
        return run

    # -- recording ---------------------------------------------------------------------------
    def log_step(self, step: int, **metrics) -> None:
        """Record metrics (numbers or 0-d Tensors/arrays) for ``step``. Written to disk every
        100 calls (later every tenth of the calls so far) or 30 seconds, and at `finish`."""
        if isinstance(step, bool) or not hasattr(step, "__index__"):
            raise TypeError(f"log_step(): step must be an integer, got {step!r}")
        for name, value in metrics.items():
            try:
                number = float(value.item() if hasattr(value, "item") else value)
            except (TypeError, ValueError):
                raise TypeError(f"log_step(): metric {name!r} must be a number or a 0-d "
                                f"tensor, got {type(value).__name__} {value!r:.60}") from None
            series = self.metrics.setdefault(name, {"steps": [], "values": []})
            series["steps"].append(int(step))
            series["values"].append(number)
        self._unflushed += 1
        self._logged += 1
        # metrics.json is rewritten whole: flushing every 100 calls made a long run
        # quadratic (timing: docs/performance.md). The interval grows with the run (a tenth of what
        # is logged), so writing costs O(steps) overall; the time limit bounds what a
        # killed run loses.
        if self._unflushed >= max(FLUSH_EVERY_STEPS, self._logged // 10) or \
                time.monotonic() - self._flushed_at > FLUSH_EVERY_SECONDS:
            self.flush()

    def add_findings(self, report) -> None:
        """Store a diagnosis report's findings (as dicts) with the run."""
        self.record["findings"] = [f.to_dict() for f in report.findings]

    def flush(self) -> None:
        atomic_write(os.path.join(self.directory, METRICS_FILE), json.dumps(
            {name: _encode_series(series) for name, series in self.metrics.items()},
            allow_nan=False))
        self._unflushed = 0
        self._flushed_at = time.monotonic()

    def finish(self, status: str = "completed", summary: Optional[dict] = None,
               error: Optional[str] = None) -> None:
        """Record the end of the run. If the metrics cannot be written (e.g. a full disk),
        run.json is still written with status "failed" and the reason, then the error is
        raised."""
        self.record["status"] = status
        self.record["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        if summary:
            self.record["summary"].update(summary)
        if error:
            self.record["error"] = error
        try:
            self.flush()
        except Exception as failure:
            self.record["status"] = "failed"
            self.record["error"] = ((error + "; ") if error else "") + \
                f"metrics.json could not be written: {type(failure).__name__}: {failure}"
            try:
                self._write_record()
            finally:
                raise failure
        self._write_record()

    def _write_record(self) -> None:
        nonfinite: dict = {}
        record = _json_value({k: v for k, v in self.record.items() if k != "nonfinite"}, "",
                             nonfinite)
        if nonfinite:
            record["nonfinite"] = nonfinite
        atomic_write(os.path.join(self.directory, RUN_FILE),
                     json.dumps(record, indent=2, allow_nan=False))

    def __enter__(self) -> "RunLog":
        return self

    def __exit__(self, kind, error, traceback) -> bool:
        if error is not None:
            status = "interrupted" if isinstance(error, KeyboardInterrupt) else "failed"
            if self.record["status"] == "running":
                self.finish(status, error=f"{kind.__name__}: {error}")
        elif self.record["status"] == "running":
            self.finish()
        return False


# -- reading -------------------------------------------------------------------------------------
def _read_json(path: str):
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except FileNotFoundError:
        raise DamagedRun(f"{path} is missing") from None
    except (OSError, UnicodeDecodeError) as error:
        raise DamagedRun(f"{path} cannot be read: {error}") from None
    if not text.strip():
        raise DamagedRun(f"{path} is empty (the disk was full, or it was cut short)")
    try:
        return json.loads(text)
    except ValueError as error:
        raise DamagedRun(f"{path} is not valid JSON ({error}): it was cut short or "
                         "edited") from None


def _read_record(directory: str) -> dict:
    """run.json of ``directory`` as a record whose "id" is the folder's name."""
    path = os.path.join(directory, RUN_FILE)
    record = _read_json(path)
    if not isinstance(record, dict):
        raise DamagedRun(f"{path} holds {type(record).__name__ if record is not None else 'null'}"
                         ", not a run record (a JSON object)")
    nonfinite = record.pop("nonfinite", None)
    if isinstance(nonfinite, dict):
        _restore(record, nonfinite)
    folder = os.path.basename(os.path.normpath(directory))
    if record.get("id") != folder:  # no id, or the folder was renamed: the folder wins
        if "id" in record:
            record["recorded_id"] = record["id"]
        record["id"] = folder
    for key, default in (("config", {}), ("summary", {}), ("findings", []),
                         ("versions", {})):
        if not isinstance(record.get(key), type(default)):
            record[key] = default
    record["findings"] = [f for f in record["findings"]
                          if isinstance(f, dict) and isinstance(f.get("code"), str)]
    _check_alive(record, directory)
    return record


def _check_alive(record: dict, directory: str) -> None:
    """A "running" run whose process is gone (same host) is marked "died"."""
    if record.get("status") != "running":
        return
    try:
        last = max(os.path.getmtime(os.path.join(directory, name))
                   for name in os.listdir(directory))
        heard = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(last))
    except (OSError, ValueError):
        heard = "?"
    process = record.get("process")
    if not isinstance(process, dict) or not isinstance(process.get("pid"), int):
        record["status_note"] = (f"no process recorded (an older minnet wrote it): it may "
                                 f"have died; last written {heard}")
        return
    if process.get("host") != socket.gethostname():
        record["status_note"] = f"on host {process.get('host')}; last written {heard}"
        return
    pid = process["pid"]
    same = pid_alive(pid) and (process.get("started") is None
                               or _process_started(pid) in (None, process.get("started")))
    if not same:
        record["status"] = "died"
        record["status_note"] = (f"process {pid} ended without finishing the record (killed, "
                                 f"out of memory or disk?); last written {heard}")


def _root(root, where: str) -> str:
    if not isinstance(root, (str, os.PathLike)) or not os.fspath(root):
        raise TypeError(f"{where}: root must be the run log's folder path, got {root!r}")
    return os.fspath(root)


def _run_folders(root: str) -> list:
    try:
        names = sorted(os.listdir(root))
    except FileNotFoundError:
        return []
    except OSError as error:
        raise RunNotFound(f"cannot read the run log folder {root!r}: {error}") from None
    return [name for name in names if not name.startswith(".")
            and os.path.isdir(os.path.join(root, name))]


def _resolve(run_id: str, root: str) -> str:
    """The folder name of the one run ``run_id`` names: the whole id, or a unique part."""
    if not isinstance(run_id, str) or not run_id or os.sep in run_id or \
            (os.altsep and os.altsep in run_id) or run_id in (".", ".."):
        raise RunNotFound(f"{run_id!r} is not a run id")
    if not os.path.isdir(root):
        raise RunNotFound(f"no run log folder {root!r} (nothing recorded there yet)")
    folders = _run_folders(root)
    if run_id in folders:
        return run_id
    matches = [name for name in folders if name.startswith(run_id)] or \
        [name for name in folders if run_id in name]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise RunNotFound(f"{run_id!r} matches {len(matches)} runs in {root!r}: "
                          f"{', '.join(matches[:10])}{' ...' if len(matches) > 10 else ''}; "
                          "give more of the id")
    raise RunNotFound(f"no run {run_id!r} in {root!r}; known runs: "
                      f"{', '.join(folders[-10:]) or 'none'}")


def load_run(run_id: str, root: str = DEFAULT_ROOT) -> dict:
    """A run's record with its metrics under "metrics".

    ``run_id`` is the folder's name or a unique part of it. Raises `RunNotFound` (a
    KeyError) for no or several matching runs, `DamagedRun` (a ValueError) naming the
    file for an unreadable run.json or metrics.json.
    """
    root = _root(root, "load_run()")
    directory = os.path.join(root, _resolve(run_id, root))
    record = _read_record(directory)
    metrics_path = os.path.join(directory, METRICS_FILE)
    record["metrics"] = {}
    if os.path.exists(metrics_path):
        stored = _read_json(metrics_path)
        if not isinstance(stored, dict):
            raise DamagedRun(f"{metrics_path} holds {type(stored).__name__}, not metrics "
                             "(a JSON object)")
        record["metrics"] = {name: _decode_series(series, metrics_path, name)
                             for name, series in stored.items()}
    return record


def list_runs(root: str = DEFAULT_ROOT) -> list:
    """Every run's record (without metrics), oldest first.

    A folder whose run.json cannot be read is listed as ``{"id": folder, "status":
    "damaged", "problem": "<file>: <what is wrong>"}``, so one bad folder hides no run."""
    root = _root(root, "list_runs()")
    runs = []
    for name in _run_folders(root):
        directory = os.path.join(root, name)
        try:
            runs.append(_read_record(directory))
        except DamagedRun as error:
            if not os.path.exists(os.path.join(directory, RUN_FILE)) and \
                    not os.listdir(directory):
                continue  # an empty folder: a run that had not written anything yet
            runs.append({"id": name, "status": "damaged", "problem": str(error),
                         "summary": {}, "findings": [], "config": {}})
    return runs


def last_value(record: dict, metric: str):
    series = record.get("metrics", {}).get(metric)
    if not series or not series.get("values"):
        return None
    return series["values"][-1]


def compare_runs(run_ids: list, root: str = DEFAULT_ROOT) -> dict:
    """What differs between runs: config keys with different values, last metric values,
    summaries and finding codes. Returns {"runs": ids, "config": {key: [values]}, ...}."""
    if isinstance(run_ids, str) or not run_ids:
        raise TypeError("compare_runs(): give a list of run ids")
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


# -- showing runs (``minnet runs``) -----------------------------------------------------------
def format_value(value) -> str:
    """A value as the run log's text shows it: floats to 4 significant digits, nan/inf."""
    if isinstance(value, float):
        return nonfinite_text(value) if not math.isfinite(value) else f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return str(value)


def format_listing(runs: list) -> list:
    """One line per run: id, status, summary, finding codes (damaged runs: the problem)."""
    lines = []
    for run in runs:
        if run.get("status") == "damaged":
            lines.append(f"{run['id']:<44} damaged    {run.get('problem')}")
            continue
        codes = sorted({f["code"] for f in run.get("findings", [])})
        summary = ", ".join(f"{k} {format_value(v)}" for k, v in run.get("summary", {}).items())
        lines.append(f"{run['id']:<44} {str(run.get('status', '?')):<10} {summary:<32} "
                     f"{', '.join(codes)}".rstrip())
    return lines


def format_run(record: dict) -> str:
    """``minnet runs show``: the record and, per metric, its steps, first and last values."""
    def pairs(mapping):
        return ", ".join(f"{k}={format_value(v)}" for k, v in mapping.items())

    lines = [f"{record['id']} ({record.get('kind')}, {record.get('status')})"]
    if record.get("status_note"):
        lines.append(f"  {record['status_note']}")
    if record.get("recorded_id"):
        lines.append(f"  recorded as {record['recorded_id']} (the folder was renamed)")
    lines += [f"  started {record.get('started')}, finished {record.get('finished')}",
              f"  seed {record.get('seed')}",
              f"  config: {pairs(record.get('config', {}))}",
              "  versions: " + ", ".join(f"{k} {v}" for k, v in record.get("versions", {}).items()
                                         if k != "platform"),
              f"  summary: {pairs(record.get('summary', {}))}"]
    if record.get("error"):
        lines.append(f"  error: {record['error']}")
    for name, series in record.get("metrics", {}).items():
        values = series["values"]
        if not values:
            lines.append(f"  {name}: empty")
            continue
        bad = sum(1 for v in values if not math.isfinite(v))
        lines.append(f"  {name}: {len(values)} steps, first {format_value(values[0])}, "
                     f"last {format_value(values[-1])}"
                     + (f" ({bad} not finite)" if bad else ""))
    for finding in record.get("findings", []):
        lines.append(f"  [{finding.get('severity')}] {finding['code']}: {finding.get('message')}")
    return "\n".join(lines)


def format_comparison(comparison: dict) -> str:
    """``minnet runs compare``: one column per run."""
    ids = comparison["runs"]
    width = max(18, max(len(i) for i in ids))
    label_width = 28
    lines = [f"{'':<{label_width}}" + "".join(f"{i[-width:]:>{width + 2}}" for i in ids)]

    def row(label, values):
        lines.append(f"{label[:label_width]:<{label_width}}"
                     + "".join(f"{format_value(v)[:width]:>{width + 2}}" for v in values))

    row("status", comparison["status"])
    row("seed", comparison["seed"])
    for key, values in comparison["config_differs"].items():
        row(f"config {key}", values)
    for name, values in comparison["last_metrics"].items():
        row(f"last {name}", values)
    for name, values in comparison["summary"].items():
        row(f"summary {name}", values)
    for index, codes in enumerate(comparison["findings"]):
        lines.append(f"findings of {ids[index]}: {', '.join(codes) or '-'}")
    if comparison["config_same"]:
        lines.append("same in all: " + ", ".join(f"{k}={format_value(v)}" for k, v in
                                                 comparison["config_same"].items()))
    return "\n".join(lines)


# -- what minnet's own runs record -----------------------------------------------------------
def setup_config(name: str, setup, steps) -> dict:
    """What a run log records about a setup: enough to tell two runs apart and redo one."""
    config = {"setup": name, "steps": steps, "batch_size": setup.batch_size,
              "shuffle": setup.shuffle,
              "model": " -> ".join(type(m).__name__ for _, m in setup.model.named_modules()
                                   if not m._modules) or type(setup.model).__name__,
              "parameters": sum(p._data.size for p in setup.model.parameters())}
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
    """Record a diagnosis in the run log: the setup's config, the losses of the steps that
    ran (not of the planned steps a stopped run never reached) and the findings. Returns
    the run id."""
    planned = report.context.steps if report.context is not None else report.run.get("steps")
    config = setup_config(name, setup, planned)
    losses = list(report.run.get("losses", []))
    ran = report.run.get("steps")
    if isinstance(ran, int):
        losses = losses[:ran]
    with RunLog.start(name, config=config, seed=setup.seed, root=root, kind="diagnosis") as run:
        for step, loss in enumerate(losses):
            run.log_step(step, loss=float(loss))
        run.add_findings(report)
        run.finish(summary={"first_loss": report.run.get("first_loss"),
                            "steps_run": ran, "errors": len(report.errors)})
    return run.id
