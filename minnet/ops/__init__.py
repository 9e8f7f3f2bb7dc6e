"""Differentiable operations, grouped by family.

Each op's backward sits right below its forward; see ``elementwise.add`` for
the pattern every op follows.
"""
from .activation import relu
from .elementwise import add, astype, div, exp, log, mul, neg, sub
from .linalg import linear, matmul
from .reduce import mean, sum
from .shape import clone, getitem, reshape
