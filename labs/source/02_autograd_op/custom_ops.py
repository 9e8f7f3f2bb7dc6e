"""Lab 02 -- your own autograd ops: softplus, PReLU and layer norm as minnet Functions.

A custom op is a subclass of ``minnet.autograd.Function`` with two static
methods (the same API as ``torch.autograd.Function``, see docs/autograd.md):

* ``forward(ctx, *args)`` computes the output. Its arguments are what the user
  passed to ``apply``: Tensors (read their NumPy array as ``t.data``) and plain
  Python values (like ``eps``). Nothing inside forward is recorded: this op *is*
  the forward/backward pair. Keep what backward needs with
  ``ctx.save_for_backward(...)`` and return the output (a NumPy array or Tensor).
* ``backward(ctx, grad_output)`` gets ``dL/d(output)`` (a Tensor shaped like the
  output) and returns one gradient per argument of ``forward``, **in the same
  order**, each shaped like its argument; ``None`` for arguments without a
  gradient (plain numbers such as ``eps``). Read the saved values back with
  ``ctx.saved_tensors``.

Then ``Softplus.apply(x)`` builds a node of the graph, and ``loss.backward()``
calls your backward. Check every op with ``minnet.gradcheck.gradcheck`` in float64.
"""
import numpy as np

from minnet.autograd import Function


# ---------------------------------------------------------------------------
# Part 1: softplus(x) = log(1 + exp(x)), a smooth ReLU
# ---------------------------------------------------------------------------
class Softplus(Function):
    """softplus(x) = log(1 + exp(x)) elementwise; any shape -> same shape.

    Must be stable: softplus(1000) is 1000, not inf (exp(1000) overflows).
    Hint: log(1 + exp(x)) = max(x, 0) + log(1 + exp(-|x|)), and np.log1p.
    Its derivative is the sigmoid, 1 / (1 + exp(-x)).
    """

    @staticmethod
    def forward(ctx, x):
        ### BEGIN SOLUTION Softplus.forward: your code here
        x = x.detach().numpy()
        ctx.save_for_backward(x)
        return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad_output):
        ### BEGIN SOLUTION Softplus.backward: your code here
        (x,) = ctx.saved_tensors
        sigmoid = 0.5 * (1.0 + np.tanh(0.5 * x))    # = 1 / (1 + exp(-x)), without overflow
        return grad_output.numpy() * sigmoid
        ### END SOLUTION


# ---------------------------------------------------------------------------
# Part 2: PReLU, a leaky ReLU whose negative slope is learned
# ---------------------------------------------------------------------------
class PReLU(Function):
    """out = x where x > 0, slope * x elsewhere (as torch.nn.PReLU with one parameter).

    x: Tensor of any shape; slope: Tensor of shape (1,), a learnable parameter.
    backward returns (grad_x shaped like x, grad_slope shaped like slope).
    At exactly x = 0 use the x <= 0 branch (out = slope * x), as PyTorch does.
    """

    @staticmethod
    def forward(ctx, x, slope):
        ### BEGIN SOLUTION PReLU.forward: your code here
        x, slope = x.detach().numpy(), slope.detach().numpy()
        positive = x > 0
        ctx.save_for_backward(x, slope, positive)
        return np.where(positive, x, slope * x)
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad_output):
        ### BEGIN SOLUTION PReLU.backward: your code here
        x, slope, positive = ctx.saved_tensors
        grad = grad_output.numpy()
        grad_x = np.where(positive, grad, slope * grad)
        # the slope multiplies every negative entry: its gradient sums over all of them
        grad_slope = np.where(positive, 0.0, grad * x).sum().reshape(slope.shape)
        return grad_x, grad_slope
        ### END SOLUTION


# ---------------------------------------------------------------------------
# Part 3: layer norm over the last axis, with a learnable gain and bias
# ---------------------------------------------------------------------------
class LayerNorm(Function):
    """As torch.nn.functional.layer_norm(x, (D,), weight, bias, eps).

    x (..., D); weight (D,) the gain; bias (D,); eps a float.
    Each row x[..., :] is normalised by its own mean and *biased* variance
    (divide by D, not D - 1):
        x_hat = (x - mean) / sqrt(var + eps),      out = x_hat * weight + bias.
    backward returns (grad_x (..., D), grad_weight (D,), grad_bias (D,), None).
    """

    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        ### BEGIN SOLUTION LayerNorm.forward: your code here
        x, weight, bias = x.detach().numpy(), weight.detach().numpy(), bias.detach().numpy()
        mean = x.mean(axis=-1, keepdims=True)
        var = x.var(axis=-1, keepdims=True)           # biased, as PyTorch's layer_norm
        inv_std = 1.0 / np.sqrt(var + eps)
        x_hat = (x - mean) * inv_std
        ctx.save_for_backward(x_hat, inv_std, weight)
        return x_hat * weight + bias
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad_output):
        ### BEGIN SOLUTION LayerNorm.backward: your code here
        x_hat, inv_std, weight = ctx.saved_tensors
        grad = grad_output.numpy()
        batch_axes = tuple(range(grad.ndim - 1))       # every axis but the last
        grad_weight = (grad * x_hat).sum(axis=batch_axes)
        grad_bias = grad.sum(axis=batch_axes)
        d_xhat = grad * weight
        # x_hat depends on x directly and through the row's mean and variance:
        # each of the three paths leaves one term
        mean_term = d_xhat.mean(axis=-1, keepdims=True)
        var_term = x_hat * (d_xhat * x_hat).mean(axis=-1, keepdims=True)
        grad_x = inv_std * (d_xhat - mean_term - var_term)
        return grad_x, grad_weight, grad_bias, None
        ### END SOLUTION


# The user-facing functions (given: they only call apply).
def softplus(x):
    """softplus(x) for a Tensor x of any shape."""
    return Softplus.apply(x)


def prelu(x, slope):
    """PReLU of a Tensor x with a learnable slope Tensor of shape (1,)."""
    return PReLU.apply(x, slope)


def layer_norm(x, weight, bias, eps=1e-5):
    """Layer norm of x (..., D) over its last axis, gain weight (D,), bias (D,)."""
    return LayerNorm.apply(x, weight, bias, eps)


# ---------------------------------------------------------------------------
# Part 4: what a kink does to a gradient check
# ---------------------------------------------------------------------------
def kink_free(x, margin=1e-3):
    """A copy of the NumPy array x with every entry closer than ``margin`` to 0 moved out.

    Entries with |x| < margin become -margin if they are negative and +margin
    otherwise (0 becomes +margin); all other entries are unchanged. x itself is
    not modified. With margin much larger than the checker's eps (1e-6), no
    central difference x +- eps straddles PReLU's kink at 0.
    """
    ### BEGIN SOLUTION
    moved = np.array(x, dtype=np.float64)              # a copy: never change the caller's x
    near = np.abs(moved) < margin
    moved[near] = np.where(moved[near] < 0, -margin, margin)
    return moved
    ### END SOLUTION


def kinks_found(result):
    """The entries a gradient check flagged as sitting on a kink.

    result: what ``minnet.gradcheck.gradcheck`` returned. Returns a dict
    {input name: sorted list of index tuples}, e.g. {"x": [(0, 3), (2, 1)], "slope": []},
    with one key per checked input. Hint: each ``result.inputs[i]`` has a
    ``.name`` and a boolean mask ``.kink`` shaped like the input (see
    docs/gradcheck.md, "Reading the report").
    """
    ### BEGIN SOLUTION
    found = {}
    for check in result.inputs:
        mask = np.zeros(check.shape, dtype=bool) if check.kink is None else check.kink
        found[check.name] = sorted(tuple(int(i) for i in index) for index in np.argwhere(mask))
    return found
    ### END SOLUTION
