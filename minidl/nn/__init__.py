"""Layers and models: Module, Parameter, containers, and the layers built on minidl.functional."""
from . import init
from .module import Module, ModuleList, Parameter, Sequential
