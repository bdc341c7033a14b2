"""A scalar autograd engine, micrograd-sized: what minidl does for arrays, for one number.

A Value holds a number (`data`), the gradient of the output with respect to it (`grad`,
0 until backward fills it), the Values it was computed from (`parents`) and `_backward`,
a function that hands this Value's grad on to its parents: the chain rule for one
operation. For z = x * y, once z.grad is known, x.grad += y * z.grad and
y.grad += x * z.grad. The += matters: a Value used twice collects both shares.

backward() on the output sets its grad to 1 (dz/dz), puts the Values in topological
order (every Value after the Values it was made from) and calls each one's `_backward`
from the output back to the inputs, so that a Value's grad is complete before it is
handed on.

    x, y = Value(2.0), Value(-3.0)
    z = x * y + x.tanh()
    z.backward()
    x.grad, y.grad          # -3 + (1 - tanh(2)^2), 2
"""
import math


class Value:
    """One number in a computation, with its gradient and where it came from."""

    def __init__(self, data, parents=(), op=""):
        self.data = float(data)
        self.grad = 0.0
        self.parents = tuple(parents)
        self.op = op
        self._backward = lambda: None   # a leaf hands nothing on

    def __repr__(self):
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g})"

    # ---------------------------------------------------------------- the operations
    def __add__(self, other):
        other = as_value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            # BEGIN SOLUTION
            self.grad += out.grad
            other.grad += out.grad
            # END SOLUTION
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = as_value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():
            # BEGIN SOLUTION
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
            # END SOLUTION
        out._backward = _backward
        return out

    def __pow__(self, exponent):
        """self ** exponent, for a constant (int or float) exponent."""
        if not isinstance(exponent, (int, float)):
            raise TypeError(f"Value ** exponent: the exponent must be a number, "
                            f"got {type(exponent).__name__}")
        out = Value(self.data ** exponent, (self,), f"**{exponent}")

        def _backward():
            # BEGIN SOLUTION
            self.grad += exponent * self.data ** (exponent - 1) * out.grad
            # END SOLUTION
        out._backward = _backward
        return out

    def exp(self):
        out = Value(math.exp(self.data), (self,), "exp")

        def _backward():
            # BEGIN SOLUTION
            self.grad += out.data * out.grad
            # END SOLUTION
        out._backward = _backward
        return out

    def tanh(self):
        out = Value(math.tanh(self.data), (self,), "tanh")

        def _backward():
            # BEGIN SOLUTION
            self.grad += (1.0 - out.data ** 2) * out.grad
            # END SOLUTION
        out._backward = _backward
        return out

    def relu(self):
        out = Value(max(self.data, 0.0), (self,), "relu")

        def _backward():
            # BEGIN SOLUTION
            self.grad += (self.data > 0) * out.grad
            # END SOLUTION
        out._backward = _backward
        return out

    # ---------------------------------------------------------------- made of the above
    def __neg__(self):
        return self * -1.0

    def __sub__(self, other):
        return self + (-as_value(other))

    def __truediv__(self, other):
        return self * as_value(other) ** -1

    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def __rsub__(self, other):
        return as_value(other) - self

    def __rtruediv__(self, other):
        return as_value(other) / self

    # ---------------------------------------------------------------- the walk
    def backward(self):
        """Fill .grad of every Value behind this one with d self / d value."""
        # BEGIN SOLUTION
        order = topological_order(self)
        self.grad = 1.0
        for value in reversed(order):
            value._backward()
        # END SOLUTION


def as_value(x):
    return x if isinstance(x, Value) else Value(x)


def topological_order(root):
    """Every Value behind `root` (root included) once, each after all of its parents."""
    # BEGIN SOLUTION
    order, seen = [], set()

    def visit(value):                 # depth first: parents go into the list first
        if id(value) in seen:
            return
        seen.add(id(value))
        for parent in value.parents:
            visit(parent)
        order.append(value)

    visit(root)
    return order
    # END SOLUTION
