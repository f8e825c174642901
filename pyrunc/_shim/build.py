"""cffi API-mode build of the native shim (run by setup.py at install time)."""
import os

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))

ffi = FFI()
with open(os.path.join(HERE, "shim.h")) as header:
    ffi.cdef(header.read())
ffi.set_source(
    "pyrunc._native",
    '#include "shim.h"',
    sources=[os.path.relpath(os.path.join(HERE, "shim.c"))],
    include_dirs=[HERE],
    extra_compile_args=["-O2", "-Wall"],
)

if __name__ == "__main__":
    ffi.compile(verbose=True)
