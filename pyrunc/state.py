"""The state store: one directory per container under the state root (default /run/pyrunc).

`<root>/<id>/state.json` is written atomically and never holds the status: the status is
derived from the live init process (pid plus its start time, so a recycled pid is never
mistaken for the container) and from whether the start socket still exists.
"""

import posix
import time

from pyrunc import OCI_VERSION, crashpoint, jsonio, uapi
from pyrunc.errors import PyruncError
from pyrunc.posixfs import exists, getenv, isdir, join, makedirs, read

DEFAULT_ROOT = "/run/pyrunc"


def default_root() -> str:
    """Where state lives without --root: runc's rule puts an unprivileged caller's under
    $XDG_RUNTIME_DIR (runc: $XDG_RUNTIME_DIR/runc), since /run is root's; without the variable
    runc falls back to its /run directory, which the caller then cannot use (state_root says so)."""
    if posix.geteuid() == 0:
        return DEFAULT_ROOT
    xdg = getenv("XDG_RUNTIME_DIR")
    return join(xdg, "pyrunc") if xdg else DEFAULT_ROOT


def state_root(given: str | None) -> str:
    """The state root of this command. An unprivileged caller's must be its own: a directory it
    cannot enter, or one another user owns (who could then read or change its containers), is
    refused in one line naming it, before anything is read or made there. Root reads any."""
    root = given or default_root()
    euid = posix.geteuid()
    if euid == 0:
        return root
    name = f"--root {root}" if given else f"state root {root}"
    hint = "" if given or getenv("XDG_RUNTIME_DIR") else \
        " (XDG_RUNTIME_DIR is unset: set it, or pass --root, as with runc)"
    try:
        st = posix.stat(root)
    except FileNotFoundError:
        return root
    except PermissionError:
        raise PyruncError(f"{name}: permission denied{hint}") from None
    if st.st_uid != euid:
        raise PyruncError(f"{name}: owned by uid {st.st_uid}, not by the caller (uid {euid}): an unprivileged "
                          f"caller's state must be in a directory of its own{hint}")
    if not posix.access(root, posix.R_OK | posix.W_OK | posix.X_OK):
        raise PyruncError(f"{name}: permission denied")
    return root

STATE_FILE = "state.json"
START_SOCKET = "start.sock"
LOCK_FILE = "lock"
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-.")


ID_MAX = 255  # NAME_MAX: the id names the container's state directory


def validate_id(container_id: str) -> None:
    """Letters, digits and `_+-.`, as runc accepts; never `.` or `..` (so no `/`, no NUL). runc sets
    no length of its own: the state directory's name meets NAME_MAX, here checked first and named."""
    if not container_id:
        raise PyruncError("container id cannot be empty")
    if container_id in (".", "..") or not _ID_CHARS.issuperset(container_id):
        shown = container_id.encode("utf-8", "backslashreplace").decode()
        raise PyruncError(f"invalid container id format: {shown[:300]}")
    if len(container_id) > ID_MAX:
        raise PyruncError(f"invalid container id: {len(container_id)} characters, the limit is {ID_MAX} "
                          "(it names the state directory: NAME_MAX)")


def proc_start_time(pid: int) -> tuple[int, str] | None:
    """(start time in clock ticks, state letter) of a process, or None when it is gone."""
    try:
        data = read(f"/proc/{pid}/stat")
    except OSError:
        return None
    fields = data[data.rindex(b")") + 2 :].split()
    return int(fields[19]), fields[0].decode()


def rfc3339_now() -> str:
    ns = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 1_000_000_000)) + f".{ns % 1_000_000_000:09d}Z"


class Container:
    """A container's directory in the state root and the record stored in it."""

    def __init__(self, root: str, container_id: str) -> None:
        validate_id(container_id)
        self.id = container_id
        self.dir = join(root, container_id)
        self.record: dict = {}
        self._lock_fd = -1
        self._fresh = False  # reserved by this process, nothing saved yet: the lock file is empty

    # -- existence and locking -------------------------------------------------------------
    def reserve(self) -> None:
        """Create the directory, refusing an id already in use; the caller then holds its lock.
        One mkdir when the state root exists (every create but the first)."""
        try:
            try:
                posix.mkdir(self.dir, 0o700)
            except FileNotFoundError:
                root = self.dir.rpartition("/")[0]
                try:
                    makedirs(root, 0o700, exist_ok=True, parents=0o700)
                except PermissionError:
                    raise PyruncError(f"cannot create the state root {root}: permission denied"
                                      + ("" if getenv("XDG_RUNTIME_DIR") else
                                         " (XDG_RUNTIME_DIR is unset: set it, or pass --root, as with runc)")) from None
                posix.mkdir(self.dir, 0o700)
        except FileExistsError:
            raise PyruncError(f"container with id exists: {self.id}") from None
        self.lock()
        self._fresh = True

    def exists(self) -> bool:
        return isdir(self.dir)

    def lock(self) -> None:
        """Serialise commands on one container with a POSIX lock on <dir>/lock: os.lockf needs
        no extension module, and a record lock is not inherited by the cloned init."""
        try:
            self._lock_fd = posix.open(f"{self.dir}/{LOCK_FILE}", posix.O_RDWR | posix.O_CREAT | posix.O_CLOEXEC, 0o600)
        except FileNotFoundError:
            raise PyruncError(f"container {self.id} does not exist") from None
        posix.lockf(self._lock_fd, posix.F_LOCK, 0)

    def create_in_progress(self) -> bool:
        """Another process holds the lock (a create not finished yet, rather than one that crashed)."""
        if self._lock_fd >= 0:
            return False
        try:
            fd = posix.open(f"{self.dir}/{LOCK_FILE}", posix.O_RDWR | posix.O_CLOEXEC)
        except OSError:
            return False
        try:
            posix.lockf(fd, posix.F_TEST, 0)
            return False
        except OSError:
            return True
        finally:
            posix.close(fd)

    def unlock(self) -> None:
        if self._lock_fd >= 0:
            posix.close(self._lock_fd)
            self._lock_fd = -1

    def load(self) -> "Container":
        """Lock and read the record; a missing container is an error naming `does not exist`."""
        self.lock()
        return self.read()

    def read(self) -> "Container":
        """Read the record without the lock: it is replaced atomically, never half-written. A
        holder of the lock whose state.json is still the lock file (save's first record: the
        file has two names) reads it through the lock's descriptor, since closing any other
        descriptor of that file would drop this process's POSIX lock."""
        try:
            st = posix.fstat(self._lock_fd) if self._lock_fd >= 0 else None
            if st is not None and st.st_nlink > 1:
                data = posix.pread(self._lock_fd, st.st_size, 0)
            else:
                data = read(f"{self.dir}/{STATE_FILE}")
            self.record = jsonio.loads(data.decode())
        except FileNotFoundError:
            self.record = {}
        return self

    def save(self, staged: str = "") -> None:
        """Write the record atomically: temp file, rename. No fsync, as runc: the record has to
        survive the runtime being killed, not the machine going down, which its container does
        not survive either (the spec is silent; an fsync cost 0.45 ms in create and 0.4 ms in
        delete's unlink on an ext4 /run). `staged`: what stage() wrote; when the record is
        still that, only the rename is left."""
        path = f"{self.dir}/{STATE_FILE}"
        text = jsonio.dumps(self.record)
        if staged and staged == text:
            posix.replace(f"{path}.next", path)
            return
        if self._fresh and self._first_save(path, text):
            return
        self._write(f"{path}.tmp", text)
        posix.replace(f"{path}.tmp", path)

    def _first_save(self, path: str, text: str) -> bool:
        """A new container's first record (create's, naming its cgroups before the first mkdir),
        written into the empty lock file, which is then linked as state.json: the name appears
        with the whole record, and no file is made (each new inode cost 0.15-1 ms on this host's
        ext4 /run, 7 us on tmpfs). A later save renames a new file over the name; read() copes
        with the lock file having it meanwhile. False when the link fails (the usual way then)."""
        self._fresh = False
        posix.pwrite(self._lock_fd, text.encode(), 0)
        try:
            posix.link(f"{self.dir}/{LOCK_FILE}", path)
        except OSError:
            posix.ftruncate(self._lock_fd, 0)
            return False
        return True

    def stage(self) -> str:
        """save()'s write ahead of time, beside the record, which stays as it is: create
        stages the final record while the init sets up, and save(staged=) renames it once the
        init is ready. Returns the text written."""
        text = jsonio.dumps(self.record)
        self._write(f"{self.dir}/{STATE_FILE}.next", text)
        return text

    @staticmethod
    def _write(path: str, text: str) -> None:
        fd = posix.open(path, posix.O_WRONLY | posix.O_CREAT | posix.O_TRUNC | posix.O_CLOEXEC, 0o600)
        try:
            posix.write(fd, text.encode())
        finally:
            posix.close(fd)

    def remove(self) -> None:
        """Delete the directory and everything in it: the two files it holds once its program
        has started by name, anything else (start.sock, a record's .tmp) by listing it when
        the rmdir finds more."""
        # The lock first: a reader that finds no record must not find a held lock either, or
        # it reports the container as still being created (test_races finds that order).
        for name in (LOCK_FILE, STATE_FILE):
            try:
                posix.unlink(f"{self.dir}/{name}")
            except FileNotFoundError:
                pass
        if crashpoint.AT:
            self._unlink_listed()
            crashpoint.reached("at:state_unlinked")
        try:
            posix.rmdir(self.dir)
        except OSError as e:
            if e.errno != uapi.ENOTEMPTY:
                raise
            self._unlink_listed()
            posix.rmdir(self.dir)
        self.unlock()

    def _unlink_listed(self) -> None:
        for name in posix.listdir(self.dir):
            posix.unlink(f"{self.dir}/{name}")

    # -- derived status --------------------------------------------------------------------
    def alive(self) -> bool:
        """The init recorded at create still runs (same pid and start time, not a zombie)."""
        pid = self.record.get("pid", 0)
        if not pid:
            return False
        found = proc_start_time(pid)
        return found is not None and found[0] == self.record.get("start_time") and found[1] not in "ZX"

    def status(self) -> str:
        if not self.record.get("pid"):
            return "creating" if self.create_in_progress() else "stopped"
        if not self.alive():
            return "stopped"
        if exists(f"{self.dir}/{START_SOCKET}"):
            return "created"
        if self.record.get("cgroups"):
            from pyrunc import cgroups

            if cgroups.frozen(self.record["cgroups"]):
                return "paused"  # not in the spec's list; runc reports it and clients rely on it
        return "running"

    def oci_state(self) -> dict:
        """The spec's state object plus the fields runc adds that clients read."""
        status = self.status()
        r = self.record
        return {
            "ociVersion": OCI_VERSION,
            "id": self.id,
            "pid": r.get("pid", 0) if status in ("created", "running", "paused") else 0,
            "status": status,
            "bundle": r.get("bundle", ""),
            "rootfs": r.get("rootfs", ""),
            "created": r.get("created", ""),
            "owner": owner_name(self.dir),
            "annotations": r.get("annotations") or {},
        }


def owner_name(path: str) -> str:
    """The user owning a state directory, as runc reports it (`#uid` when unnamed)."""
    import pwd

    try:
        uid = posix.stat(path).st_uid
    except OSError:
        return ""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"#{uid}"


def list_ids(root: str) -> list[str]:
    try:
        return sorted(n for n in posix.listdir(root) if isdir(join(root, n))
                      and not n.startswith("@"))  # the runtime's own: <root>/@network (netops.py)
    except FileNotFoundError:
        return []
