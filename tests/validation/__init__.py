"""The OCI validation suite (opencontainers/runtime-tools) run against pyrunc and runc: `make validate`."""
