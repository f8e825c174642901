"""pyrunc.testing: a kit to test any OCI runtime against bundles, by its command line.

Modules, one per concern (none imports pytest but plugin.py; nothing here is on `pyrunc run`'s path):
    runtime  Runtime, Result, State: the runtime's operations as typed calls
    bundle   Config (builder from runc's default spec or a dict), Bundle, Container
    rootfs   busybox-static or host binaries with their shared libraries
    view     the container's view: mountinfo, id maps, capabilities, cgroups, namespaces, seccomp, limits
    host     Snapshot: what containers could leave on the host, before and after
    plugin   the pytest plugin (entry point pytest11): --runtime, fixtures rt, container, bundle, ...
    suite    the packaged conformance suite run by `pyrunc conformance`
The common names are importable from the package itself (loaded on first use).
"""

_NAMES = {
    "Runtime": "runtime", "Result": "runtime", "State": "runtime",
    "Config": "bundle", "Bundle": "bundle", "Container": "bundle", "base_config": "bundle",
    "make_rootfs": "rootfs", "host_rootfs": "rootfs",
    "View": "view", "wait_for": "view", "alive": "view", "mountinfo": "view", "proc_status": "view",
    "Snapshot": "host",
}


def __getattr__(name):
    if name in _NAMES:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.{_NAMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
