"""OCI bundles built in code: a config (runc's default spec, or any dict) edited through a builder, a
rootfs (busybox-static or host binaries), and a Container that acts on the bundle through a Runtime.

    config = Config.default(["sh", "-c", "echo hi"]).set("hostname", "box").namespace("user")
    bundle = Bundle(tmp / "b", config); bundle.write()
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

from pyrunc.specgen import DEFAULT_CAPS, default_config

from .console import ConsoleReader, SocketPeer, close_every_console, receive_state
from .rootfs import APPLETS, BUSYBOX, host_rootfs, make_rootfs
from .users import as_user, reachable_runtime, user_bundle
from .view import View, alive, mountinfo, ns_inode, proc_status, wait_for

CAPS = DEFAULT_CAPS
HOOK_KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")


def base_config(args):
    """The content of `runc spec` (runc 1.1.5: `pyrunc spec`'s config with runc's ociVersion and
    hostname), with process.terminal false and the given args."""
    cfg = default_config()
    cfg.update(ociVersion="1.0.2-dev", hostname="runc")
    cfg["process"].update(terminal=False, args=list(args))
    return Config(cfg)


class Config(dict):
    """config.json as a dict, with builder methods that return self so that edits chain. Paths are dotted
    ("linux.resources.pids.limit"); intermediate objects are made as needed."""

    @classmethod
    def default(cls, args=("true",)) -> Config:
        """runc's default spec (`runc spec`), terminal off, running args."""
        return base_config(args)

    @classmethod
    def from_dict(cls, doc: dict) -> Config:
        return cls(copy.deepcopy(doc))

    @classmethod
    def load(cls, path) -> Config:
        return cls(json.loads(Path(path).read_text()))

    def get_path(self, path: str, default=None):
        node = self
        for key in path.split("."):
            if not isinstance(node, dict) or key not in node:
                return default
            node = node[key]
        return node

    def set(self, path: str, value) -> Config:
        *parents, last = path.split(".")
        node = self
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
        return self

    def drop(self, path: str) -> Config:
        """Remove a field if present (what a runtime that ignores it would see)."""
        *parents, last = path.split(".")
        node = self.get_path(".".join(parents)) if parents else self
        if isinstance(node, dict):
            node.pop(last, None)
        return self

    def args(self, *argv) -> Config:
        return self.set("process.args", list(argv))

    def env(self, *pairs) -> Config:
        self["process"].setdefault("env", []).extend(pairs)
        return self

    @property
    def namespaces(self) -> list:
        return self.setdefault("linux", {}).setdefault("namespaces", [])

    def namespace(self, ns_type, path=None) -> Config:
        """Add (or replace) a namespace entry; path=None creates a new namespace."""
        self.namespaces[:] = [n for n in self.namespaces if n["type"] != ns_type]
        self.namespaces.append({"type": ns_type} | ({"path": str(path)} if path else {}))
        return self

    def drop_namespace(self, ns_type) -> Config:
        """Inherit the runtime's namespace of this type (and, for uts, set no hostname)."""
        self.namespaces[:] = [n for n in self.namespaces if n["type"] != ns_type]
        if ns_type == "uts":
            self.pop("hostname", None)
        return self

    def user_namespace(self, uid_maps=((0, 100000, 65536),), gid_maps=None) -> Config:
        self.namespace("user")
        as_json = lambda maps: [{"containerID": c, "hostID": h, "size": s} for c, h, s in maps]  # noqa: E731
        self["linux"]["uidMappings"] = as_json(uid_maps)
        self["linux"]["gidMappings"] = as_json(gid_maps or uid_maps)
        return self

    def mount(self, destination, type, source, options=()) -> Config:  # noqa: A002 - the spec's name
        self.setdefault("mounts", []).append({"destination": destination, "type": type, "source": str(source),
                                              "options": list(options)})
        return self

    def hook(self, kind, path, args=None, env=None, timeout=None) -> Config:
        entry = {"path": str(path)}
        entry |= {k: v for k, v in (("args", args), ("env", env), ("timeout", timeout)) if v is not None}
        self.setdefault("hooks", {}).setdefault(kind, []).append(entry)
        return self

    def resources(self, **groups) -> Config:
        """linux.resources.<group> = value for each keyword (memory={"limit": ...}, pids={"limit": 10})."""
        res = self.setdefault("linux", {}).setdefault("resources", {})
        res.update(groups)
        return self


class Bundle:
    """A bundle directory: <path>/config.json and <path>/rootfs (busybox unless told otherwise)."""

    def __init__(self, path, config: dict | None = None, args=("true",), rootfs: bool = True):
        """rootfs=False: an empty rootfs directory, for host_rootfs() or your own."""
        self.path = Path(path)
        self.rootfs = self.path / "rootfs"
        if config is None:
            config = base_config(args)
        self.config = config if isinstance(config, Config) else Config.from_dict(config)
        self.rootfs.mkdir(parents=True, exist_ok=True)
        if rootfs:
            make_rootfs(self.rootfs)

    def write(self) -> Path:
        (self.path / "config.json").write_text(json.dumps(self.config, indent=2, default=str))
        return self.path


class Container(Bundle):
    """A bundle at <workdir>/<id> plus the runtime calls that act on it.

    The container's stdout/stderr for create/run -d go to <workdir>/<id>.out and .err."""

    def __init__(self, rt, workdir, cid, args, config: dict | None = None, busybox: bool = True):
        super().__init__(Path(workdir) / cid, config, args, rootfs=busybox)
        self.rt, self.id, self.dir = rt, cid, Path(workdir)
        self.bundle = self.path
        self.stdout, self.stderr = self.dir / f"{cid}.out", self.dir / f"{cid}.err"

    # --- config tweaks (the Config builder's, plus what the rootfs needs)
    @property
    def namespaces(self):
        return self.config.namespaces

    def namespace(self, ns_type, path=None):
        self.config.namespace(ns_type, path)

    def drop_namespace(self, ns_type):
        self.config.drop_namespace(ns_type)

    def user_namespace(self, uid_maps=((0, 100000, 65536),), gid_maps=None):
        self.config.user_namespace(uid_maps, gid_maps)

    def mount(self, destination, type, source, options=()):  # noqa: A002 - the spec's name
        """Append a mount; its destination directory is made in the rootfs (the spec does not ask the
        runtime to create it)."""
        (self.rootfs / destination.lstrip("/")).mkdir(parents=True, exist_ok=True)
        self.config.mount(destination, type, source, options)

    def bind(self, source, destination, *options):
        self.mount(destination, "bind", source, ["rbind", *options])

    def hook(self, kind, path, args=None, env=None, timeout=None):
        self.config.hook(kind, path, args, env, timeout)

    # --- runtime calls
    def create(self, *flags, **kw):
        self.write()
        return self.rt("create", "--bundle", self.bundle, *flags, self.id,
                       stdout=self.stdout, stderr=self.stderr, **kw)

    def run(self, *flags, **kw):
        """Foreground unless flags say otherwise; the container's stdio is the runtime's."""
        self.write()
        if "-d" in flags or "--detach" in flags:
            kw = {"stdout": self.stdout, "stderr": self.stderr} | kw
        return self.rt("run", "--bundle", self.bundle, *flags, self.id, **kw)

    def start(self, **kw):
        return self.rt("start", self.id, **kw)

    def kill(self, *signal, **kw):
        return self.rt("kill", self.id, *signal, **kw)

    def delete(self, *flags, **kw):
        return self.rt("delete", *flags, self.id, **kw)

    def state(self):
        r = self.rt("state", self.id)
        assert r.rc == 0 and not r.err, r
        return json.loads(r.out)

    def wait_status(self, status, timeout=10.0):
        return wait_for(lambda: (s := self.state())["status"] == status and s, timeout, f"{self.id} {status}")

    def started(self):
        """create + start, asserting both succeed; returns the container's host pid."""
        for r in (self.create(), self.start()):
            assert r.rc == 0, r
        return self.state()["pid"]

    def terminal_output(self) -> str:
        """process.terminal on: create with a console socket, start, and return what the program
        wrote on its terminal once it has stopped (the console's master end, as runc hands it over)."""
        self.config["process"]["terminal"] = True
        reader = ConsoleReader(self.dir / "console.sock")
        r = self.create("--console-socket", self.dir / "console.sock")
        assert r.rc == 0, r
        assert self.start().rc == 0
        self.wait_status("stopped")
        return reader.text()

    def view(self) -> View:
        """The init's view (mountinfo, id maps, capabilities, cgroups, namespaces, seccomp, limits)."""
        return View(self.state()["pid"])

    def output(self):
        return self.stdout.read_text()

    def finish(self):
        """Wait for the program to exit, delete the container, return what it wrote to stdout."""
        self.wait_status("stopped")
        r = self.delete()
        assert r.rc == 0, r
        return self.output()

    def applied_or_refused(self, applied) -> None:
        """create + start, then applied(View) must hold; or create fails with a message and leaves nothing.
        For a field a runtime may not support: runtime.md, "If the runtime cannot apply a property as
        specified in the configuration, it MUST generate an error"; it may never accept and ignore it."""
        r = self.create()
        if r.rc != 0:
            assert r.err.strip() and self.state_dir_gone(), r
            return
        assert self.start().rc == 0
        assert applied(View(self.state()["pid"])), "accepted but not applied"

    def assert_refused(self, r, one_line=False):
        """The call failed with a message, and no container of this id exists."""
        assert r.rc != 0, r
        assert r.err.strip(), f"no error message: {r}"
        assert not one_line or len(r.err.strip().splitlines()) == 1, f"not a one-line message: {r}"
        s = self.rt("state", self.id)
        assert s.rc != 0 and "does not exist" in s.err, s
        assert self.state_dir_gone()

    def state_dir_gone(self):
        """No entry named after the container (`<id>`, `<id>.json`...) is left in the state root."""
        root = self.rt.root
        return not root.exists() or all(p.name.partition(".")[0] != self.id for p in root.iterdir())


# Every name the tests imported from tests/conformance/bundle.py, so that `conformance.bundle` ->
# `pyrunc.testing.bundle` is the whole port; they live in the module of their concern.
__all__ = ["APPLETS", "BUSYBOX", "CAPS", "HOOK_KINDS", "Bundle", "Config", "ConsoleReader", "Container", "SocketPeer",
           "View",
           "alive", "as_user", "base_config", "close_every_console", "host_rootfs", "make_rootfs", "mountinfo",
           "ns_inode", "proc_status", "reachable_runtime", "receive_state", "user_bundle", "wait_for"]
