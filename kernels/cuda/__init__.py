"""The GPU kernels, written in Python with numba.cuda: the kernel table's "cuda" row.

    launch.py     how a kernel is started: on CuPy's arrays and current stream, or in
                  numba's CUDA simulator
    checks.py     the argument checks every kernel's caller makes first
    matmul.py     a tiled matrix product in shared memory, to read (the table's matmul
                  is CuPy's, which calls cuBLAS)
    conv.py       conv2d forward and both backwards: im2col and col2im kernels around
                  CuPy's matmul (cuBLAS), and a direct convolution kernel to read
    pool.py       max and average pooling, forward and backward, with PyTorch's options
    recurrent.py  one time step of an RNN, LSTM or GRU layer, forward and backward,
                  fused (the step's product with W_hh is CuPy's matmul: cuBLAS)
    fused.py      softmax, log_softmax, cross-entropy with class indices and relu,
                  forward and backward, one thread per row
    arrays.py     the conv2d and pooling computations written with CuPy array
                  operations only: the "cuda" row where numba cannot launch a kernel on
                  the arrays (the test stand-in for CuPy, outside the simulator)

Each kernel file says at its top which thread handles which data. The reference
for every kernel is the CPU version of the same name in kernels/conv.py,
pool.py, recurrent.py and fused.py (their "numpy" versions), and the functions
here take the same arguments: CuPy arrays, and (int, int) pairs for kernel,
stride, padding and dilation. The table's `where` and layer norm fields have no
kernel here: the "cuda" row runs their plain versions on CuPy arrays.

A kernel is compiled for the types it is called with (float32 or float64 arrays,
int64 sizes) the first time it is called with them, and numba keeps it for the
rest of the process. Without a GPU two things still check the kernels: numba's
CUDA simulator runs them on the CPU (NUMBA_ENABLE_CUDASIM=1, tests marked
cudasim), and numba compiles each one to PTX for every signature it is launched
with (tests/test_cuda_kernels.py), which finds the typing errors the simulator,
running them as plain Python, cannot. (So the kernels call no device functions:
numba compiles those only for the GPU it finds, and here there is none.)

Importing this package imports neither numba nor CuPy.
"""
