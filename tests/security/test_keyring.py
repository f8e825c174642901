"""The caller's session keyring: a container must not possess the keys of whoever started it.

Keys are not namespaced; a process reaches a key whose permissions are for its possessor only when
the key is in one of its keyrings, and the session keyring is inherited across fork and execve. runc
(standard init and setns init) therefore makes every container process join a session keyring of the
container's (`_ses.<id>`); `--no-new-keyring` keeps the caller's. The key is the test's own: a `user`
key in a session keyring made for the test, with possessor-only permissions, so that only possession
(not uid 0, not CAP_SYS_ADMIN) grants access; it is read on the host before and after.
"""

import ctypes
import json
import shutil
import subprocess
import sys
import uuid

import pytest

pytestmark = pytest.mark.root

# The attacker's tool, a static binary copied into the rootfs: what is its session keyring, can it
# read key argv[1], can it change it to argv[2]?
PROBE = r"""
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    char buf[512];
    long ses = syscall(SYS_keyctl, 0 /* GET_KEYRING_ID */, -3 /* session */, 0);
    long n = syscall(SYS_keyctl, 6 /* DESCRIBE */, ses, buf, sizeof(buf) - 1);
    buf[n > 0 ? (n < (long)sizeof(buf) ? n : (long)sizeof(buf) - 1) : 0] = 0;
    printf("session %ld %s\n", ses, buf);
    long key = atol(argv[1]);
    FILE *f = argv[1][0] == '/' ? fopen(argv[1], "r") : NULL; /* or a file holding the serial */
    if (f && fscanf(f, "%ld", &key) != 1)
        key = 0;
    n = syscall(SYS_keyctl, 11 /* READ */, key, buf, sizeof(buf) - 1);
    if (n >= 0) {
        buf[n < (long)sizeof(buf) ? n : (long)sizeof(buf) - 1] = 0;
        printf("read %s\n", buf);
    } else {
        printf("read failed %s\n", strerror(errno));
    }
    n = syscall(SYS_keyctl, 2 /* UPDATE */, key, argv[2], strlen(argv[2]));
    printf("update %s\n", n == 0 ? "done" : strerror(errno));
    return 0;
}
"""

# Run on the host between the test and the runtime: a session keyring of its own holding the secret,
# the runtime under it, then the secret read back (it still possesses it). Prints one JSON line last.
HOLDER = r"""
import ctypes, json, subprocess, sys
libc = ctypes.CDLL(None, use_errno=True)
SYS_add_key, SYS_keyctl = 248, 250

def keyctl(*args):
    r = libc.syscall(SYS_keyctl, *[ctypes.c_long(a) if isinstance(a, int) else a for a in args])
    if r < 0:
        raise OSError(ctypes.get_errno(), "keyctl")
    return r

def read(key):
    buf = ctypes.create_string_buffer(512)
    n = keyctl(11, key, buf, 512)
    return buf.raw[:n].decode()

name, payload, key_file = sys.argv[1].encode(), sys.argv[2].encode(), sys.argv[3]
session = keyctl(1, b"pyrunc-test-" + name)  # JOIN_SESSION_KEYRING: a new one, this process's
key = libc.syscall(SYS_add_key, b"user", name, payload, ctypes.c_size_t(len(payload)), ctypes.c_long(-3))
if key < 0:
    raise OSError(ctypes.get_errno(), "add_key")
keyctl(5, key, 0x3F000000)  # SETPERM: possessor only
before = read(key)
if key_file != "-":
    with open(key_file, "w") as f:
        f.write(str(key))
argv = [a.replace("@KEY@", str(key)) for a in sys.argv[4:]]
r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
print(json.dumps({"session": session, "key": key, "before": before, "after": read(key), "rc": r.returncode,
                  "out": r.stdout, "err": r.stderr}))
"""


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.fail("a C compiler is needed to build the keyctl probe (make deps installs gcc with python3-dev)")
    d = tmp_path_factory.mktemp("keyprobe")
    (d / "probe.c").write_text(PROBE)
    subprocess.run([cc, "-static", "-O2", "-o", d / "keyprobe", d / "probe.c"], check=True)
    return d / "keyprobe"


def holding_a_secret(rt, *args, key_file="-"):
    """Runs `<runtime> *args` under a new session keyring holding a possessor-only key ("@KEY@" in args
    becomes its serial, also written to `key_file`); returns what the holder saw: its session, the key,
    the payload before and after, and the runtime's result."""
    name = f"pyrunc-secret-{uuid.uuid4().hex[:12]}"
    cmd = [sys.executable, "-I", "-c", HOLDER, name, "s3cret " + name, str(key_file), rt.exe, "--root",
           str(rt.root), *map(str, args)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r
    seen = json.loads(r.stdout.splitlines()[-1])
    assert seen["before"] == "s3cret " + name
    return seen


def probed(out):
    """{"session": (serial, description), "read": ..., "update": ...} from the probe's lines."""
    lines = dict(line.split(" ", 1) for line in out.splitlines() if " " in line)
    serial, _, desc = lines["session"].partition(" ")
    return {"session": (int(serial), desc.rsplit(";", 1)[-1]), "read": lines["read"], "update": lines["update"]}


def keyring_container(container, probe):
    c = container("/keyprobe", "/keyid", "pwned")
    shutil.copy(probe, c.rootfs / "keyprobe")
    c.write()
    return c


def test_the_container_does_not_possess_the_callers_keys(container, rt, probe):
    """No CVE: modelled on runc's fix ad22e23 ("Create a new session key for every container", 2016),
    which stopped containers sharing the keyring structure of the process that created them. The
    container's program tries to read and to overwrite a possessor-only key in the caller's session
    keyring. Its session keyring is another (the container's), both attempts fail, and the key on the
    host is unchanged. Control: with --no-new-keyring the same program is in the caller's session keyring,
    reads the secret and overwrites it, which the host sees."""
    c = keyring_container(container, probe)
    seen = holding_a_secret(rt, "run", "--bundle", c.bundle, c.id, key_file=c.rootfs / "keyid")
    assert seen["rc"] == 0, seen
    got = probed(seen["out"])
    assert got["session"][0] != seen["session"]
    assert got["session"][1] == f"_ses.{c.id}"
    assert got["read"] == "failed Permission denied" and got["update"] == "Permission denied", got
    assert seen["after"] == seen["before"]

    control = keyring_container(container, probe)
    seen = holding_a_secret(rt, "run", "--bundle", control.bundle, "--no-new-keyring", control.id,
                            key_file=control.rootfs / "keyid")
    assert seen["rc"] == 0, seen
    got = probed(seen["out"])
    assert got["session"][0] == seen["session"], got
    assert got["read"] == seen["before"], got
    assert got["update"] == "done" and seen["after"] == "pwned", seen


def test_an_exec_process_does_not_possess_the_callers_keys(container, rt, probe):
    """No CVE (runc ad22e23, its setns init): the same attack from a process `exec`'d into a running
    container by a caller holding the secret:
    it joins the container's `_ses.<id>`, not the caller's session keyring. Control: in a container
    created with --no-new-keyring, an exec'd process keeps its caller's session keyring and reads the
    secret."""
    for no_new_keyring in (False, True):
        c = container("sleep", "1000")
        shutil.copy(probe, c.rootfs / "keyprobe")
        r = c.create(*(["--no-new-keyring"] if no_new_keyring else []))
        assert r.rc == 0, r
        assert c.start().rc == 0
        seen = holding_a_secret(rt, "exec", c.id, "/keyprobe", "@KEY@", "pwned")
        assert seen["rc"] == 0, seen
        got = probed(seen["out"])
        if no_new_keyring:
            assert got["session"][0] == seen["session"] and got["read"] == seen["before"], got
            assert seen["after"] == "pwned"
        else:
            assert got["session"][0] != seen["session"] and got["session"][1] == f"_ses.{c.id}", got
            assert got["read"] == "failed Permission denied" and got["update"] == "Permission denied", got
            assert seen["after"] == seen["before"]
        c.kill("KILL")


@pytest.mark.parametrize("userns", [False, True], ids=["host-users", "user-namespace"])
def test_the_init_and_exec_share_the_containers_keyring(container, rt, probe, userns):
    """No CVE, no attack: the protection must not cost what runc's `_ses.<id>` name is for. Processes
    exec'd into the container join the init's session keyring, also from a user namespace of the
    container's own (where keyring names are the namespace's), and it is not the caller's."""
    if userns and rt.name == "runc":
        pytest.skip("runc 1.1 makes `_ses.<id>` searchable by others only, in a user namespace: its exec, by then "
                    "the namespace's root (the owner), cannot find it and makes a new keyring")
    c = container("sleep", "1000")
    if userns:
        c.user_namespace()
    shutil.copy(probe, c.rootfs / "keyprobe")
    c.started()
    first = probed(rt("exec", c.id, "/keyprobe", "0", "x").out)
    second = probed(rt("exec", c.id, "/keyprobe", "0", "x").out)
    assert first["session"] == second["session"] and first["session"][1] == f"_ses.{c.id}"
    libc = ctypes.CDLL(None, use_errno=True)
    own = libc.syscall(250, ctypes.c_long(0), ctypes.c_long(-3), ctypes.c_long(0))  # our session keyring
    assert own != first["session"][0]
    c.kill("KILL")
