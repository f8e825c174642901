"""`pyrunc features`: what this runtime really implements (features.md), derived from the
tables the runtime itself uses, so the list cannot claim more than the code does."""

from pyrunc import OCI_VERSION, capabilities, hooks, mounts, namespaces


def features() -> dict:
    return {
        "ociVersionMin": "1.0.0",
        "ociVersionMax": OCI_VERSION,
        "hooks": list(hooks.KINDS),
        "mountOptions": mounts.all_options(),
        "linux": {
            "namespaces": list(namespaces.FLAGS),
            "capabilities": list(capabilities.NAMES),
            "cgroup": {"v1": True, "v2": True, "systemd": True, "systemdUser": True, "rdma": False},
            "seccomp": _seccomp(),
            "apparmor": {"enabled": True},  # the code is there (lsm.py); whether the host has it is another matter
            "selinux": {"enabled": True},
            "intelRdt": {"enabled": False},
            "mountExtensions": {"idmap": {"enabled": True}},
            "netDevices": {"enabled": True},
        },
        "annotations": {"org.opencontainers.runtime-spec.features": OCI_VERSION},
    }


def _seccomp() -> dict:
    """What pyrunc/seccomp.py recognizes; architectures only where this libseccomp has them."""
    from pyrunc import seccomp

    try:
        from pyrunc._seccomp import lib
    except ImportError:
        return {"enabled": False}
    archs = [name for name, arch in seccomp.ARCHS.items() if lib.seccomp_arch_resolve_name(arch.encode())]
    return {"enabled": True, "actions": sorted(seccomp.ACTIONS), "operators": sorted(seccomp.OPERATORS),
            "archs": sorted(archs), "knownFlags": sorted(seccomp.FLAGS), "supportedFlags": seccomp.supported_flags()}
