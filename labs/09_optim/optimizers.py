"""Lab 09, part 1: the update rules of SGD, SGD with momentum and Adam, in NumPy.

Each function updates ONE parameter array ``param`` from its gradient ``grad``
(same shape, any shape) and returns the new parameter as a new array. Momentum
and Adam also remember things between steps: they keep them in ``state``, a dict
that is empty before the first step and that you fill and update in place (the
caller passes the same dict at every step, one dict per parameter), exactly like
``optimizer.state[param]`` in PyTorch and minnet.

Follow PyTorch's rules exactly (``torch.optim.SGD`` and ``torch.optim.Adam``):
the graded tests compare your numbers with ``minnet.optim.SGD`` / ``minnet.optim.Adam``
over several steps. Weight decay is the L2 penalty ``0.5 * weight_decay * ||p||^2``
folded into the gradient, ``g = grad + weight_decay * param``, for all three.

Do not change ``param``, ``grad`` or the arrays you keep in ``state`` in place
where the caller could see it: compute new arrays and store them.
"""
import numpy as np


def sgd_step(param, grad, lr, weight_decay=0.0):
    """Plain SGD: ``p <- p - lr * g`` with ``g = grad + weight_decay * p``.

    param, grad: float arrays of the same shape. Returns the new param (a new array).
    """
    # YOUR CODE HERE
    raise NotImplementedError("sgd_step: your code here")


def momentum_step(param, grad, state, lr, momentum=0.9, dampening=0.0, weight_decay=0.0):
    """SGD with (heavy-ball) momentum, PyTorch's rule.

        g   = grad + weight_decay * p
        buf = g                                        at the first step (state is empty)
        buf = momentum * buf + (1 - dampening) * g     at every later step
        p   = p - lr * buf

    ``state["momentum_buffer"]`` holds buf between steps. Note the first step: PyTorch
    starts the buffer at the gradient itself (not at zero), so the first step of
    momentum SGD is exactly a plain SGD step, dampening or not.
    Returns the new param (a new array).
    """
    # YOUR CODE HERE
    raise NotImplementedError("momentum_step: your code here")


def adam_step(param, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    """Adam (Kingma & Ba 2015) with PyTorch's rule (L2 weight decay, not AdamW).

        t   = number of this step: 1 at the first step, 2 at the second, ...
        g   = grad + weight_decay * p
        m   = beta1 * m + (1 - beta1) * g           (m starts at 0)
        v   = beta2 * v + (1 - beta2) * g * g       (v starts at 0)
        m_hat = m / (1 - beta1 ** t)                bias corrections: m and v start at
        v_hat = v / (1 - beta2 ** t)                0, so early on they are too small
        p   = p - lr * m_hat / (sqrt(v_hat) + eps)

    Keep ``state["step"]`` (the int t), ``state["exp_avg"]`` (m) and
    ``state["exp_avg_sq"]`` (v) between steps. eps goes OUTSIDE the square root.
    Returns the new param (a new array).
    """
    beta1, beta2 = betas
    # YOUR CODE HERE
    raise NotImplementedError("adam_step: your code here")
