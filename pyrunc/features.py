"""`pyrunc features`: what this runtime really implements (features.md), derived from the
tables the runtime itself uses, so the list cannot claim more than the code does."""

from pyrunc import OCI_VERSION, capabilities, hooks, mounts, namespaces


def features() -> dict:
    return {
        "ociVersionMin": "1.0.0",
        "ociVersionMax": OCI_VERSION,
        "hooks": list(hooks.KINDS),
        "mountOptions": sorted(set(mounts.FLAG_OPTIONS) | set(mounts.PROPAGATION)),
        "linux": {
            "namespaces": list(namespaces.FLAGS),
            "capabilities": list(capabilities.NAMES),
            "cgroup": {"v1": True, "v2": True, "systemd": False, "systemdUser": False, "rdma": False},
            "seccomp": {"enabled": False},
            "apparmor": {"enabled": False},
            "selinux": {"enabled": False},
            "intelRdt": {"enabled": False},
            "mountExtensions": {"idmap": {"enabled": False}},
            "netDevices": {"enabled": False},
        },
        "annotations": {"org.opencontainers.runtime-spec.features": OCI_VERSION},
    }
