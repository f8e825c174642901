"""Wires cffi's build hook: the native shim is compiled in API mode at install time."""
from setuptools import setup

setup(cffi_modules=["pyrunc/_shim/build.py:ffi", "pyrunc/_shim/build_seccomp.py:ffi"])
