"""Optimizers, learning-rate schedulers and the LR range test (PyTorch's ``torch.optim``).

    optimizer = minnet.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = minnet.optim.lr_scheduler.StepLR(optimizer, step_size=10)
"""
from . import lr_scheduler
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .lr_find import LRFindResult, lr_find
from .optimizer import Optimizer, required
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adadelta", "Adagrad", "Adam", "AdamW", "RMSprop", "lr_scheduler", "lr_find",
           "LRFindResult", "required"]
