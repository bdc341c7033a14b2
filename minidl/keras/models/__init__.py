"""Models: the functional Model, Sequential, and their training loop."""
from .functional import Model
from .sequential import Sequential
