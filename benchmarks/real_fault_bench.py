"""Recall and false alarms of ``minnet.debug.diagnose`` on real practitioner faults.

    python benchmarks/real_fault_bench.py            # every case
    python benchmarks/real_fault_bench.py -v         # also each report's codes
    python benchmarks/real_fault_bench.py --only no_zero_grad
    python benchmarks/real_fault_bench.py --seeds 0 1 2 3 4   # verdict stability over seeds

For each case of benchmarks/real_faults/cases.py (a fault from a public source, rewritten
for minnet, with the codes that name its root cause written down before any run):

* **recall**: the broken program's report contains one of the expected codes
  (``hit``; ``hit at error/warning`` counts those not merely informational);
* **false alarms on fixes**: the program with the source's fix gets an ``error`` finding;
* **false alarms on trained models**: the fixed program, trained first for 600 steps as a
  user would, then diagnosed, gets an ``error`` finding;

plus healthy models (the README's moons MLP and thirteen others: regression, XOR, dropout,
logistic regression, a deep He-initialised ReLU net, imbalanced classes, a sine fit, a small
conv net, a GRU, standardised regression targets, AdamW, label smoothing), fresh and already
trained.
``diagnose`` is called with its default arguments (100 steps) and what each program
itself specifies (optimizer, batch size, train_step, evaluate, ...).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import minnet  # noqa: E402
from minnet import nn, optim  # noqa: E402
from minnet.debug import diagnose  # noqa: E402
from minnet.debug.context import data_arrays, match_model_dtype, run_training  # noqa: E402
from real_faults.cases import CASES  # noqa: E402

TRAIN_STEPS = 600   # how long the "already trained" variant trains before it is diagnosed (the README trains ~650)


def train_in_place(kwargs: dict, steps: int = TRAIN_STEPS) -> None:
    """Train the program's own model with its own optimizer and loop, as its user would."""
    X, y, options = data_arrays(kwargs["train_data"])
    X, y = match_model_dtype(kwargs["model"], X, y)
    optimizer = kwargs.get("optimizer") or optim.SGD(kwargs["model"].parameters(), lr=0.01)
    run_training(kwargs["model"], kwargs["loss_fn"], optimizer, X, y, steps=steps,
                 batch_size=kwargs.get("batch_size") or options.get("batch_size", 32),
                 shuffle=kwargs.get("shuffle", True), seed=1,
                 train_step=kwargs.get("train_step"), clip_grad_norm=kwargs.get("clip_grad_norm"))


def errors(report) -> list:
    return [f"{f.code}" + (f" [{f.layer}]" if f.layer else "") for f in report.errors]


def healthy_programs() -> dict:
    """Healthy setups: the README's example and a few ordinary models."""
    from minnet.data import make_moons
    programs = {}

    def readme():
        minnet.manual_seed(0)
        X, y = make_moons(n_samples=400, noise=0.1, seed=0)
        model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
        return dict(model=model, loss_fn=nn.CrossEntropyLoss(), train_data=(X, y),
                    optimizer=optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
    programs["readme_moons"] = readme

    def regression():
        minnet.manual_seed(1)
        rng = np.random.default_rng(1)
        X = rng.normal(size=(400, 5)).astype(np.float32)
        y = (np.sin(X[:, :1]) + 0.5 * X[:, 1:2] ** 2).astype(np.float32)
        model = nn.Sequential(nn.Linear(5, 32), nn.Tanh(), nn.Linear(32, 1))
        return dict(model=model, loss_fn=nn.MSELoss(), train_data=(X, y),
                    optimizer=optim.Adam(model.parameters(), lr=1e-2))
    programs["tanh_regression"] = regression

    def xor():
        minnet.manual_seed(2)
        X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
        y = np.array([0, 1, 1, 0], dtype=np.int64)
        model = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 2))
        return dict(model=model, loss_fn=nn.CrossEntropyLoss(), train_data=(X, y),
                    optimizer=optim.SGD(model.parameters(), lr=0.1))
    programs["xor_slow"] = xor

    def dropout_mlp():
        minnet.manual_seed(3)
        rng = np.random.default_rng(3)
        X = rng.normal(size=(500, 10)).astype(np.float32)
        y = (X[:, 0] * X[:, 1] + X[:, 2] > 0).astype(np.int64)
        model = nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Dropout(0.2), nn.Linear(64, 2))
        return dict(model=model, loss_fn=nn.CrossEntropyLoss(), train_data=(X, y),
                    optimizer=optim.Adam(model.parameters(), lr=1e-3))
    programs["dropout_mlp"] = dropout_mlp

    def logistic_regression():
        rng = np.random.default_rng(4)
        X = rng.normal(size=(400, 5)).astype(np.float32)
        y = (X @ rng.normal(size=5) > 0).astype(np.float32).reshape(-1, 1)
        minnet.manual_seed(4)
        model = nn.Linear(5, 1)
        return dict(model=model, loss_fn=nn.BCEWithLogitsLoss(), train_data=(X, y),
                    optimizer=optim.SGD(model.parameters(), lr=0.5))
    programs["logistic_regression"] = logistic_regression

    def deep_relu_he():
        rng = np.random.default_rng(5)
        X = rng.normal(size=(500, 16)).astype(np.float32)
        y = (np.sin(X[:, 0]) + X[:, 1] > 0).astype(np.int64)
        minnet.manual_seed(5)
        layers, width = [], 16
        for _ in range(8):
            layers += [nn.Linear(width, 64), nn.ReLU()]
            width = 64
        model = nn.Sequential(*layers, nn.Linear(64, 2))
        for layer in model:
            if isinstance(layer, nn.Linear):
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
                nn.init.zeros_(layer.bias)
        return dict(model=model, loss_fn=nn.CrossEntropyLoss(), train_data=(X, y),
                    optimizer=optim.Adam(model.parameters(), lr=1e-3))
    programs["deep_relu_he"] = deep_relu_he

    def imbalanced():
        rng = np.random.default_rng(6)
        y = np.where(rng.random(600) < 0.05, 1, 0)
        X = rng.normal(size=(600, 8)).astype(np.float32)
        X[y == 1] += 1.5
        minnet.manual_seed(6)
        model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
        return dict(model=model, loss_fn=nn.CrossEntropyLoss(), train_data=(X, y),
                    optimizer=optim.Adam(model.parameters(), lr=1e-2))
    programs["imbalanced_classes"] = imbalanced

    def sine_fit():
        rng = np.random.default_rng(7)
        X = rng.uniform(-3, 3, size=(400, 1)).astype(np.float32)
        minnet.manual_seed(7)
        model = nn.Sequential(nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(),
                              nn.Linear(32, 1))
        return dict(model=model, loss_fn=nn.MSELoss(), train_data=(X, np.sin(X)),
                    optimizer=optim.Adam(model.parameters(), lr=1e-2))
    programs["sine_fit"] = sine_fit

    def heavy_dropout_weight_decay():
        rng = np.random.default_rng(8)
        X = rng.normal(size=(400, 10)).astype(np.float32)
        y = (X[:, 0] > 0).astype(np.int64)
        minnet.manual_seed(8)
        model = nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Dropout(0.5), nn.Linear(64, 2))
        return dict(model=model, loss_fn=nn.CrossEntropyLoss(), train_data=(X, y),
                    optimizer=optim.SGD(model.parameters(), lr=0.05, momentum=0.9,
                                        weight_decay=1e-4))
    programs["dropout_half_weight_decay"] = heavy_dropout_weight_decay

    # -- kinds added with the third round of cases: a conv net, a GRU, standardised
    # -- regression targets, AdamW's decoupled weight decay, label smoothing
    def small_conv_net():
        from minnet.data import load_digits
        X, y = load_digits(return_X_y=True)
        X = (X / 16.0 - 0.5).astype(np.float32).reshape(-1, 1, 8, 8)
        minnet.manual_seed(9)
        model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Flatten(), nn.Linear(8 * 4 * 4, 10))
        return dict(model=model, loss_fn=nn.CrossEntropyLoss(), train_data=(X, y.astype(np.int64)),
                    optimizer=optim.Adam(model.parameters(), lr=1e-2))
    programs["small_conv_net"] = small_conv_net

    class LastStepGRU(nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = nn.GRU(3, 16, batch_first=True)
            self.head = nn.Linear(16, 2)

        def forward(self, x):
            out, _ = self.gru(x)
            return self.head(out[:, -1])

    def gru_classifier():
        rng = np.random.default_rng(10)
        X = rng.normal(size=(400, 12, 3)).astype(np.float32)
        y = (X[:, :, 0].sum(axis=1) > 0).astype(np.int64)
        minnet.manual_seed(10)
        model = LastStepGRU()
        return dict(model=model, loss_fn=nn.CrossEntropyLoss(), train_data=(X, y),
                    optimizer=optim.Adam(model.parameters(), lr=1e-2))
    programs["gru_classifier"] = gru_classifier

    def standardised_regression():
        rng = np.random.default_rng(11)
        X = rng.normal(size=(500, 6)).astype(np.float32)
        price = 250 + 40 * X[:, 0] - 25 * X[:, 1] * X[:, 2] + 5 * rng.normal(size=500)
        y = ((price - price.mean()) / price.std()).astype(np.float32).reshape(-1, 1)
        minnet.manual_seed(11)
        model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 1))
        return dict(model=model, loss_fn=nn.MSELoss(), train_data=(X, y),
                    optimizer=optim.SGD(model.parameters(), lr=0.05, momentum=0.9))
    programs["standardised_regression"] = standardised_regression

    def adamw_weight_decay():
        rng = np.random.default_rng(12)
        X = rng.normal(size=(500, 10)).astype(np.float32)
        y = (X[:, :3].sum(axis=1) > 0).astype(np.int64) + (X[:, 3] > 1).astype(np.int64)
        minnet.manual_seed(12)
        model = nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 3))
        return dict(model=model, loss_fn=nn.CrossEntropyLoss(), train_data=(X, y),
                    optimizer=optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.05))
    programs["adamw_weight_decay"] = adamw_weight_decay

    def label_smoothing():
        rng = np.random.default_rng(13)
        centres = rng.normal(0, 2.0, size=(5, 8))
        y = rng.integers(0, 5, 500)
        X = (centres[y] + rng.normal(size=(500, 8))).astype(np.float32)
        minnet.manual_seed(13)
        model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 5))
        return dict(model=model, loss_fn=nn.CrossEntropyLoss(label_smoothing=0.1),
                    train_data=(X, y.astype(np.int64)),
                    optimizer=optim.Adam(model.parameters(), lr=1e-2))
    programs["label_smoothing"] = label_smoothing
    return programs


def run_case(case, verbose: bool) -> dict:
    row = {"name": case.name}
    broken = diagnose(**case.build(True))
    hits = [f for f in broken.findings if f.code in case.expected]
    row["hit"] = bool(hits)
    row["hit_strong"] = any(f.severity != "info" for f in hits)
    row["broken_codes"] = [f"{f.severity[0].upper()}:{f.code}" for f in broken.findings]
    fixed = diagnose(**case.build(False))
    row["fixed_errors"] = errors(fixed)
    program = case.build(False)
    train_in_place(program)
    trained = diagnose(**program)
    row["trained_errors"] = errors(trained)
    if verbose:
        print(f"  broken: {' '.join(row['broken_codes'])}")
        print(f"  fixed:  {' '.join(f'{f.severity[0].upper()}:{f.code}' for f in fixed.findings)}")
        print(f"  trained:{' '.join(f'{f.severity[0].upper()}:{f.code}' for f in trained.findings)}")
    return row


def seed_stability(cases, seeds) -> int:
    """Broken and fixed program of each case diagnosed with each ``seed``: a hit (expected
    code at warning or error) on the broken one, no error on the fixed one. Prints one row
    per case (H hit, m miss, !codes an error on the fixed program); returns the problems."""
    problems = 0
    for case in cases:
        marks = []
        for seed in seeds:
            broken = diagnose(**case.build(True), seed=seed)
            fixed = diagnose(**case.build(False), seed=seed)
            hit = any(f.code in case.expected and f.severity != "info" for f in broken.findings)
            alarms = [f.code for f in fixed.errors]
            marks.append(("H" if hit else "m") + ("!" + ",".join(alarms) if alarms else ""))
            problems += (not hit) + bool(alarms)
        print(f"{case.name:50s} {' '.join(marks)}", flush=True)
    runs = len(cases) * len(seeds)
    print(f"\nseeds {seeds}: {problems} problem(s) in {runs} broken + {runs} fixed diagnoses")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--only", nargs="*", help="case names to run")
    parser.add_argument("--seeds", nargs="*", type=int,
                        help="instead: diagnose each case's broken and fixed program with each seed")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    cases = [c for c in CASES if not args.only or c.name in args.only]
    if args.seeds:
        seed_stability(cases, args.seeds)
        return 0
    rows = []
    start = time.time()
    for case in cases:
        row = run_case(case, args.verbose)
        rows.append(row)
        mark = "hit " if row["hit"] else "MISS"
        alarms = ""
        if row["fixed_errors"]:
            alarms += f"  fixed->error {row['fixed_errors']}"
        if row["trained_errors"]:
            alarms += f"  trained->error {row['trained_errors']}"
        print(f"{mark} {case.name:34s} expected {'/'.join(case.expected)}{alarms}", flush=True)
        if not row["hit"]:
            print(f"     reported: {' '.join(row['broken_codes']) or '(nothing)'}")
    healthy_rows = []
    if not args.only:
        for name, build in healthy_programs().items():
            fresh = errors(diagnose(**build()))
            program = build()
            train_in_place(program)
            trained = errors(diagnose(**program))
            healthy_rows.append((name, fresh, trained))
            print(f"healthy {name:22s} fresh errors {fresh or 'none'}; trained errors "
                  f"{trained or 'none'}", flush=True)
    n = len(rows)
    hit = sum(r["hit"] for r in rows)
    strong = sum(r["hit_strong"] for r in rows)
    fixed_alarm = sum(bool(r["fixed_errors"]) for r in rows)
    trained_alarm = sum(bool(r["trained_errors"]) for r in rows)
    print()
    print(f"cases: {n}")
    print(f"recall: {hit}/{n} = {100 * hit / max(n, 1):.0f}% (root cause named; "
          f"{strong}/{n} at warning or error)")
    print(f"false alarms, fixed programs with an error: {fixed_alarm}/{n}")
    print(f"false alarms, fixed programs trained first, with an error: {trained_alarm}/{n}")
    if healthy_rows:
        fresh_bad = sum(bool(f) for _, f, _ in healthy_rows)
        trained_bad = sum(bool(t) for _, _, t in healthy_rows)
        print(f"healthy models with an error: fresh {fresh_bad}/{len(healthy_rows)}, "
              f"trained {trained_bad}/{len(healthy_rows)}")
    print(f"({time.time() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
