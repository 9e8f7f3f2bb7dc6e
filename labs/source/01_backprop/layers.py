"""Lab 01 -- backprop by hand: five layers and losses in plain NumPy, CS231n style.

Every layer is a pair of functions:

* ``<layer>_forward(inputs...) -> (out, cache)``: the output, and whatever the
  backward pass will need (the cache is yours: store exactly what you use);
* ``<layer>_backward(dout, cache) -> gradients``: given ``dout = dL/d(out)``
  (same shape as ``out``), return ``dL/d(input)`` for every input, in the
  forward's argument order, each with exactly the shape of its input.

The two losses compute both at once: ``loss, dx = softmax_loss(x, y)`` returns
the scalar loss and its gradient ``dL/dx``.

Check each function as you write it (see the lab's README)::

    from minnet.gradcheck import check_backward
    result = check_backward(affine_forward, affine_backward, x, w, b)
    print(result)          # the report: which input, which entries, the likely bug

Shapes use N for the batch, D for input features, M for output features and C
for classes. Use float64 arrays when you check gradients.
"""
import numpy as np


# ---------------------------------------------------------------------------
# Affine (fully connected) layer: out = x @ w + b
# ---------------------------------------------------------------------------
def affine_forward(x, w, b):
    """x (N, D), w (D, M), b (M,) -> out (N, M) = x @ w + b, cache.

    b is added to every row of x @ w (broadcasting).
    """
    ### BEGIN SOLUTION
    out = x @ w + b
    ### END SOLUTION
    cache = (x, w)
    return out, cache


def affine_backward(dout, cache):
    """dout (N, M) -> dx (N, D), dw (D, M), db (M,).

    Hint: write out = x @ w + b for one entry, out[n, m] = sum_d x[n, d] w[d, m] + b[m],
    and ask which out entries each x, w and b entry touches.
    """
    x, w = cache
    ### BEGIN SOLUTION
    dx = dout @ w.T                 # (N, M) @ (M, D): each x[n] feeds every out[n, m]
    dw = x.T @ dout                 # (D, N) @ (N, M): summed over the batch
    db = dout.sum(axis=0)           # b was broadcast over the N rows: sum them back
    ### END SOLUTION
    return dx, dw, db


# ---------------------------------------------------------------------------
# ReLU: out = max(0, x)
# ---------------------------------------------------------------------------
def relu_forward(x):
    """x (any shape) -> out = max(0, x) (same shape), cache."""
    ### BEGIN SOLUTION
    out = np.maximum(0, x)
    ### END SOLUTION
    cache = x
    return out, cache


def relu_backward(dout, cache):
    """dout (shape of x) -> dx (shape of x).

    At exactly x = 0 ReLU has no derivative: any slope from 0 to 1 is a subgradient
    there. Use 0, as PyTorch does (the gradient flows only where x > 0); 1 (a mask
    x >= 0) is accepted too.
    """
    x = cache
    ### BEGIN SOLUTION
    dx = dout * (x > 0)             # the mask comes from the input, not from dout
    ### END SOLUTION
    return dx


# ---------------------------------------------------------------------------
# Sigmoid: out = 1 / (1 + exp(-x))
# ---------------------------------------------------------------------------
def sigmoid_forward(x):
    """x (any shape) -> out = 1 / (1 + exp(-x)) (same shape), cache."""
    ### BEGIN SOLUTION
    out = 1.0 / (1.0 + np.exp(-x))
    return out, out                 # the backward needs only the output
    ### END SOLUTION


def sigmoid_backward(dout, cache):
    """dout (shape of x) -> dx (shape of x).

    Hint: sigma'(x) = sigma(x) (1 - sigma(x)) -- in terms of the *output*.
    """
    ### BEGIN SOLUTION
    out = cache
    dx = dout * out * (1.0 - out)
    ### END SOLUTION
    return dx


# ---------------------------------------------------------------------------
# Softmax cross-entropy loss, averaged over the batch
# ---------------------------------------------------------------------------
def softmax_loss(x, y):
    """x (N, C) class scores (logits), y (N,) integer labels in [0, C) -> loss, dx (N, C).

    loss = mean over the N samples of -log(softmax(x[n])[y[n]]).
    Must be stable: scores like 1000 must not overflow exp (no inf, no NaN,
    no RuntimeWarning). Hint: softmax(x) = softmax(x - max(x)) along each row.
    """
    ### BEGIN SOLUTION
    n_samples = x.shape[0]
    shifted = x - x.max(axis=1, keepdims=True)          # largest score per row is 0: exp <= 1
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(n_samples)
    loss = -log_probs[rows, y].mean()
    dx = np.exp(log_probs)                               # softmax probabilities
    dx[rows, y] -= 1.0                                   # d(-log p_y)/dx = p - onehot(y)
    dx /= n_samples                                      # the loss is a mean over the batch
    ### END SOLUTION
    return loss, dx


# ---------------------------------------------------------------------------
# Mean squared error, averaged over every entry
# ---------------------------------------------------------------------------
def mse_loss(x, target):
    """x (N, M) predictions, target (N, M) -> loss, dx (N, M).

    loss = mean over all N*M entries of (x - target)^2, as
    ``torch.nn.functional.mse_loss`` with its default reduction='mean'.
    """
    ### BEGIN SOLUTION
    diff = x - target
    loss = np.mean(diff ** 2)
    dx = 2.0 * diff / diff.size
    ### END SOLUTION
    return loss, dx
