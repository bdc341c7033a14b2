"""The speed-up of the blocked matmul over the naive loop, for `make grade`'s table.

Prints one line, "<ratio>x at n=<n>": the best of several calls of each (after a first
call that compiles it), on one thread, for n x n float64 matrices. A measurement, not a
grade: no test asserts it, and it varies with the machine.
"""
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # exercises/, for grading
import grading  # noqa: E402

N, REPEAT = 512, 3


def best_seconds(fn, repeat=REPEAT):
    fn()  # compiles
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main():
    student = grading.load(__file__, "matmul")
    g = np.random.default_rng(0)
    a, b = g.standard_normal((N, N)), g.standard_normal((N, N))
    naive = best_seconds(lambda: student.matmul(a, b, kernel=student.matmul_naive))
    blocked = best_seconds(lambda: student.matmul(a, b))
    print(f"speed-up over the naive loop: {naive / blocked:.1f}x at n={N}")


if __name__ == "__main__":
    sys.exit(main())
