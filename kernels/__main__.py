"""python -m minidl.kernels --warm: compile every numba kernel ahead (see compiling.py)."""
import argparse
import time

from . import compiling


def main():
    parser = argparse.ArgumentParser(prog="python -m minidl.kernels",
                                     description="minidl's numba kernels")
    parser.add_argument("--warm", action="store_true",
                        help="compile every kernel now (or load it from the cache)")
    args = parser.parse_args()
    if not args.warm:
        parser.print_help()
        return
    start = time.perf_counter()
    compiling.warm()
    print(f"minidl kernels ready in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
