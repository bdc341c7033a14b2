"""pytest, for the graders in this folder: grade the tree named by $MINIDL_STUDENT.

`pytest exercises/04_softmax_cross_entropy` grades the tree that holds this folder;
`tools/grade.py --student PATH` runs these graders on another tree (a student's), with
MINIDL_STUDENT=PATH. Either way that tree's minidl is the one imported, so the graders
test the student's own engine (see grading.py).
"""
import os
import sys

# One thread for BLAS and numba: the graders check results, not speed, and on a busy
# machine threads that wait for each other at every small product take minutes.
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                 "NUMBA_NUM_THREADS"):
    os.environ.setdefault(variable, "1")

# Exercise 12 runs its CUDA kernels in numba's simulator, which has to be chosen before
# numba.cuda is first imported (NUMBA_ENABLE_CUDASIM=0 in the environment runs them on a
# real GPU instead). tools/grade.py runs its grader (marked cudasim) in a process of its
# own with the variable set; for a plain `pytest exercises/...` it is set here, and numba,
# which reads its environment when imported, reads it again.
os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")
if "numba" in sys.modules and "numba.cuda" not in sys.modules:
    sys.modules["numba"].core.config.reload_config()

import numba  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import grading  # noqa: E402

threadpool_limits(limits=1)   # in case NumPy was loaded before the variables were set
numba.set_num_threads(1)
grading.use_student_tree()


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "cudasim: runs numba.cuda kernels in the CUDA simulator "
        "(tools/grade.py grades it in a process of its own, NUMBA_ENABLE_CUDASIM=1)")
