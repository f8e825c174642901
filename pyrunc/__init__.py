"""pyrunc: an OCI low-level container runtime in Python, a drop-in for runc."""

__version__ = "0.1.0"
OCI_VERSION = "1.3.0"

from pyrunc import bundle  # noqa: E402 - the modules after this one come from the bundle (bundle.py)

bundle.install(__path__[0])
