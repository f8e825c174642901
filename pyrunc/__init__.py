"""pyrunc: an OCI low-level container runtime in Python, a drop-in for runc."""

__version__ = "0.1.0"
OCI_VERSION = "1.3.0"
