"""Optimizers, learning-rate schedulers and the LR range test (PyTorch's ``torch.optim``).

    optimizer = minnet.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = minnet.optim.lr_scheduler.StepLR(optimizer, step_size=10)
"""
from . import lr_scheduler
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .asgd import ASGD
from .lbfgs import LBFGS
from .lr_find import LRFindResult, lr_find
from .nadam import NAdam
from .optimizer import Optimizer, required
from .radam import RAdam
from .rmsprop import RMSprop
from .rprop import Rprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adadelta", "Adagrad", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "LBFGS", "Rprop", "ASGD",
           "RMSprop", "lr_scheduler", "lr_find",
           "LRFindResult", "required"]
