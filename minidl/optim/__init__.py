"""Optimizers (gradient descent and its adaptive relatives) and learning-rate schedules."""
from . import lr_scheduler
from .adaptive import Adagrad, Adam, AdamW, RMSprop
from .optimizer import Optimizer
from .sgd import GD, SGD

__all__ = ["Optimizer", "GD", "SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "lr_scheduler"]
