"""A deliberately broken runtime: a wrapper in front of a real one that drops a config field or a step.
Every conformance case names such a fault as its control; with it, the case must fail (or the case
checks nothing).

Faults, separated by ";":
    drop:<dotted.path>        create/run see the config without that field (exec --process: a process.* field)
    set:<dotted.path>=<json>  create/run see that field set to the value
    reverse:<dotted.path>     create/run see that list in reverse order
    swap:<path>=<path>        create/run see the two fields' values exchanged
    addhook:<kind>=<argv...>  create/run see one more hook (argv split on spaces)
    noop:<cmd>                the command does nothing and exits 0
    fail:<cmd>                the command does nothing and exits 1
    ok:<cmd>                  the command runs, and exits 0 whatever happened
    rc1:<cmd>                 the command runs, and exits 1 whatever happened
    then:<cmd>=<cmd2>         after <cmd> succeeds, <cmd2> runs on the same id (then:create=start)
    state:drop=<field>        `state` prints the document without that field
    state:set=<field>=<json>  `state` prints the document with that field replaced
    defer:create              create only records its call; start creates, then starts (config read late)
    leak:create               a failed create leaves a <root>/<id> directory behind
    preserve:create           create/run get an extra open fd 3 and --preserve-fds 1
    rmsources:delete          delete first removes the bind-mount sources the container used (below /tmp)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

WRAPPER = r'''#!{python} -I
"""A broken OCI runtime for conformance controls: {faults} in front of {real}."""
import json, os, shutil, subprocess, sys
REAL = {real!r}
FAULTS = [f.partition(":")[::2] for f in {faults!r}.split(";") if f]
VALUE_FLAGS = {{"--root", "--log", "--log-format", "--criu", "--bundle", "-b", "--pid-file", "--console-socket",
               "--preserve-fds", "--process", "-p", "--cwd", "--user", "-u", "--env", "-e", "--format", "-f"}}
argv = sys.argv[1:]
flags, i = {{}}, 0
while i < len(argv) and argv[i].startswith("-"):
    name, eq, value = argv[i].partition("=")
    if name in VALUE_FLAGS and not eq:
        i += 1
        value = argv[i]
    flags[name] = value
    i += 1
cmd, rest = (argv[i], argv[i + 1:]) if i < len(argv) else ("", [])
opts, positional, j = {{}}, [], 0
while j < len(rest):
    name, eq, value = rest[j].partition("=")
    if rest[j].startswith("-") and len(rest[j]) > 1:
        if name in VALUE_FLAGS and not eq:
            j += 1
            value = rest[j] if j < len(rest) else ""
        opts[name] = value
    else:
        positional.append(rest[j])
    j += 1
cid = positional[0] if positional else ""
root = flags.get("--root", "/run/runc")
bundle = opts.get("--bundle", opts.get("-b", os.getcwd()))


def real(*args, **kw):
    return subprocess.run([REAL, *args], **kw).returncode


def edit_config(change):
    path = os.path.join(bundle, "config.json")
    with open(path) as f:
        config = json.load(f)
    change(config)
    with open(path, "w") as f:
        json.dump(config, f)


def drop(config, dotted):
    *parents, last = dotted.split(".")
    for key in parents:
        config = config.get(key, {{}}) if isinstance(config, dict) else {{}}
    if isinstance(config, dict):
        config.pop(last, None)


def get(config, dotted):
    for key in dotted.split("."):
        config = config.get(key) if isinstance(config, dict) else None
    return config


def put(config, dotted, value):
    *parents, last = dotted.split(".")
    for key in parents:
        config = config.setdefault(key, {{}})
    config[last] = value


def deferred():
    return os.path.join(root, cid + ".deferred")


for kind, arg in FAULTS:
    target, _, extra = arg.partition("=")
    if cmd in ("create", "run") and kind == "drop":
        edit_config(lambda c: drop(c, arg))
    elif cmd == "exec" and kind == "drop" and arg.startswith("process.") and opts.get("--process", opts.get("-p")):
        path = opts.get("--process", opts.get("-p"))
        with open(path) as f:
            process = json.load(f)
        drop(process, arg.partition(".")[2])
        with open(path, "w") as f:
            json.dump(process, f)
    elif cmd in ("create", "run") and kind == "set":
        edit_config(lambda c: put(c, target, json.loads(extra)))
    elif cmd in ("create", "run") and kind == "reverse":
        edit_config(lambda c: put(c, arg, list(reversed(get(c, arg) or []))))
    elif cmd in ("create", "run") and kind == "swap":
        def swap(c):
            a, b = get(c, target), get(c, extra)
            put(c, target, b)
            put(c, extra, a)
        edit_config(swap)
    elif cmd in ("create", "run") and kind == "addhook":
        words = extra.split()
        edit_config(lambda c: c.setdefault("hooks", {{}}).setdefault(target, []).append(
            {{"path": words[0], "args": words}}))
    elif cmd in ("create", "run") and kind == "preserve":
        fd = os.open("/dev/null", os.O_RDONLY)
        if fd != 3:
            os.dup2(fd, 3)
        os.set_inheritable(3, True)
        argv.insert(i + 1, "--preserve-fds=1")
    elif kind == "noop" and cmd == target:
        sys.exit(0)
    elif kind == "fail" and cmd == target:
        sys.exit("broken runtime: " + cmd + " refused")
    elif kind in ("ok", "rc1") and cmd == target:
        real(*argv)
        sys.exit(0 if kind == "ok" else 1)
    elif kind == "then" and cmd == target:
        rc = real(*argv)
        if rc == 0:
            rc = real("--root", root, extra, cid)
        sys.exit(rc)
    elif kind == "state" and cmd == "state":
        r = subprocess.run([REAL, *argv], capture_output=True, text=True)
        sys.stderr.write(r.stderr)
        if r.returncode == 0:
            doc = json.loads(r.stdout)
            if target == "drop":
                doc.pop(extra, None)
            else:
                field, _, value = extra.partition("=")
                doc[field] = json.loads(value)
            sys.stdout.write(json.dumps(doc))
        sys.exit(r.returncode)
    elif kind == "defer" and cmd == "create":
        os.makedirs(root, exist_ok=True)
        with open(deferred(), "w") as f:
            json.dump({{"argv": argv, "out": os.readlink("/proc/self/fd/1"), "err": os.readlink("/proc/self/fd/2")}}, f)
        sys.exit(0)
    elif kind == "defer" and cmd == "start" and os.path.exists(deferred()):
        with open(deferred()) as f:
            call = json.load(f)
        os.unlink(deferred())
        with open(call["out"], "ab") as out, open(call["err"], "ab") as err:
            rc = subprocess.run([REAL, *call["argv"]], stdout=out, stderr=err, stdin=subprocess.DEVNULL).returncode
        if rc:
            sys.exit(rc)
    elif kind == "leak" and cmd == "create":
        rc = real(*argv)
        if rc:
            os.makedirs(os.path.join(root, cid), exist_ok=True)
        sys.exit(rc)
    elif kind == "rmsources" and cmd == "delete":
        r = subprocess.run([REAL, "--root", root, "state", cid], capture_output=True, text=True)
        if r.returncode == 0:
            with open(os.path.join(json.loads(r.stdout)["bundle"], "config.json")) as f:
                for m in json.load(f).get("mounts", []):
                    src = m.get("source", "")
                    if "bind" in m.get("options", []) + [m.get("type")] and src.startswith("/tmp/"):
                        shutil.rmtree(src, ignore_errors=True) if os.path.isdir(src) else os.unlink(src)
os.execv(REAL, [REAL, *argv])
'''


def write(real: str, where: Path, faults: str) -> Path:
    """The broken runtime at <where>/<real's name> (the same name, so that skips keyed on it still apply)."""
    where.mkdir(parents=True, exist_ok=True)
    exe = where / Path(real).name
    exe.write_text(WRAPPER.format(python=sys.executable, real=os.path.abspath(real), faults=faults))
    exe.chmod(0o755)
    return exe
