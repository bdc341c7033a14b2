"""Fit a straight line two ways: gradient descent with minidl, and the normal equations.

    y = w x + b.  Gradient descent walks downhill on the mean squared error;
    the normal equations (X^T X) theta = X^T y solve for the minimum at once.
Both should land on the same line.
"""
import numpy as np

import minidl as mdl

mdl.manual_seed(0)
rng = np.random.default_rng(0)
x = rng.uniform(-3, 3, size=200)
y = 2.5 * x - 1.0 + rng.normal(scale=0.5, size=200)

# --- gradient descent with the autograd engine
w = mdl.tensor(0.0, requires_grad=True)
b = mdl.tensor(0.0, requires_grad=True)
X, Y = mdl.tensor(x), mdl.tensor(y)
lr = 0.1
for step in range(300):
    loss = ((w * X + b - Y) ** 2).mean()
    w.grad = b.grad = None
    loss.backward()
    with mdl.no_grad():
        w.data -= lr * w.grad.data
        b.data -= lr * b.grad.data

# --- the normal equations, solved by least squares
A = np.stack([x, np.ones_like(x)], axis=1)
theta, *_ = np.linalg.lstsq(A, y, rcond=None)

print(f"{'method':<22}{'slope w':>10}{'intercept b':>14}")
print(f"{'gradient descent':<22}{w.item():>10.4f}{b.item():>14.4f}")
print(f"{'normal equations':<22}{theta[0]:>10.4f}{theta[1]:>14.4f}")
print(f"final MSE (GD): {loss.item():.4f}")
