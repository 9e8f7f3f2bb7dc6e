"""An example script for ``minnet doctor``: your own training setup, diagnosed.

    minnet doctor docs/examples/doctor_setup.py            # report, saved to reports/
    minnet doctor docs/examples/doctor_setup.py --verify   # also try each mechanical fix
    minnet doctor docs/examples/doctor_setup.py --json     # the report as JSON

The contract: the file defines ``setup()`` taking no arguments and returning
one of

* a ``minnet.debug.Setup`` (all options: batch size, your own train_step, ...),
* a dict of Setup's fields, e.g. ``{"model": m, "loss_fn": f, "optimizer": o,
  "train_data": (X, y)}``,
* a tuple ``(model, loss_fn, optimizer, train_data)`` or
  ``(model, loss_fn, optimizer, train_data, val_data)``.

``train_data`` / ``val_data`` are ``(X, y)`` NumPy arrays, a Dataset or a
DataLoader. ``minnet doctor`` imports the file (with its folder on sys.path, so
your own modules import), calls ``setup()`` once and diagnoses a copy: your
model is not trained. Keep module-level code free of training runs: put the
work in ``setup()`` and a ``__main__`` block.

This one trains a small MLP on two moons with its own training step. It has a
mistake on purpose (see ``train_step``): run the doctor, read the finding,
apply the fix, run it again.
"""
import minnet
from minnet import nn, optim
from minnet.data import Standardizer, make_moons, train_test_split
from minnet.debug import Setup

SEED = 0


def train_step(model, loss_fn, optimizer, X, y):
    """One training step, as in your own loop. X, y arrive as Tensors (one mini-batch).

    The mistake: no optimizer.zero_grad(), so backward() adds this batch's
    gradient to every earlier one. Fix: call optimizer.zero_grad() first.
    """
    loss = loss_fn(model(X), y)
    loss.backward()
    optimizer.step()
    return loss


def evaluate(model, X, y):
    """Your evaluation code: the doctor checks it runs the model in eval mode."""
    model.eval()
    with minnet.no_grad():
        output = model(minnet.tensor(X))
    model.train()
    return output.numpy()


def setup() -> Setup:
    X, y = make_moons(n_samples=600, noise=0.15, seed=SEED)
    X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.25, seed=SEED)
    scaler = Standardizer().fit(X_train)          # statistics of the training split only
    X_train, X_val = scaler.transform(X_train), scaler.transform(X_val)
    minnet.manual_seed(SEED)
    model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                          nn.Linear(32, 2))
    return Setup(model=model, loss_fn=nn.CrossEntropyLoss(),
                 optimizer=optim.SGD(model.parameters(), lr=0.3),
                 train_data=(X_train, y_train), val_data=(X_val, y_val),
                 batch_size=32, steps=150, seed=SEED,
                 train_step=train_step, evaluate=evaluate,
                 preprocessing={"standardizer": scaler}, name="moons MLP, own train_step")


if __name__ == "__main__":
    # `python doctor_setup.py` trains the setup itself; `minnet doctor` only imports it.
    run = setup().train()
    print(f"loss: first {run.losses[0]:.3f}, last {run.losses[-1]:.3f}")
