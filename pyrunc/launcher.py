"""Writes the `pyrunc` command: a small C launcher (pyrunc/_shim/launcher.c) that starts the
venv's interpreter with -I -S, or, without a C compiler, an equivalent Python script.

Site processing costs about 2 ms on every command, and pip's console script needs it to
find site-packages; the launcher puts the package's own directory on sys.path instead. The C
version (static where libc.a is installed) also starts the kernel's cgroup grace period before
the interpreter starts for `create` and `run` (see launcher.c). Run as `python -m pyrunc.launcher PATH` after
`pip install`. cli.run() leaves through posix._exit: tearing the interpreter down costs
milliseconds and nothing needs it.

It also writes the package's modules into one file of code objects (write_bundle), which the
launcher's first statement puts in front of the import system (pyrunc.use_bundle).
"""

import ast
import marshal
import os
import subprocess
import sys
import types
from importlib.util import MAGIC_NUMBER

import pyrunc

# The interpreter's program, after -IS -c: the cycle collector held off, the package's directory
# on sys.path, the bundle, the command. A command allocates some 5,000 objects that could hold
# cycles (run, with all its imports), and the default threshold (700) ran 10 to 14 collections
# of them, 0.4 ms for start and 1.5 ms for run; at 50,000 none runs in a short command, and a
# long one (run waiting on its container, events) still collects. The package is loaded from its
# known file (module_from_spec, the function importlib.util re-exports, from its frozen home) and
# the directory goes last on sys.path: a command that needs nothing else from there (start,
# delete, state, kill) never lists it, and the standard library's extension modules (_json,
# _socket) are found before it is searched (0.13 ms of each command's imports).
BOOT = ("import gc; gc.set_threshold(50000); import sys, _frozen_importlib as b, _frozen_importlib_external as e; "
        "sys.path.append({libdir!r}); s = e.spec_from_file_location('pyrunc', {libdir!r} + '/pyrunc/__init__.py', "
        "submodule_search_locations=[{libdir!r} + '/pyrunc']); m = sys.modules['pyrunc'] = b.module_from_spec(s); "
        "s.loader.exec_module(m); m.use_bundle(); from pyrunc.cli import run; run()")
SCRIPT = """#!{python} -IS
{boot}
"""
# Not bundled: the test kit (imported by pytest, not by a command) and the build scripts.
UNBUNDLED = ("testing", "_shim")
# Bundled too, from where they are installed: the pure-Python modules of other distributions that
# create and run import (python-prctl, kernel.preload), checked against their sources like the
# package's own. Its path search, stat calls and .pyc read cost 0.15 ms on every create and run.
OTHERS = ("prctl",)
# Imported by the shim's compiled cffi modules (pyrunc._native, pyrunc._seccomp) as they load.
COMPILED_IMPORTS = ("_cffi_backend",)


def write(path: str, python: str = sys.executable, libdir: str = "", compiled: bool = True) -> None:
    """Replace `path` with the launcher for `python` and the package in `libdir` (this one's by
    default); the Python script instead of the C launcher without a compiler or `compiled`."""
    libdir = libdir or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    source = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_shim", "launcher.c")
    tmp = path + ".tmp"
    compiler = os.environ.get("CC", "cc")
    boot = BOOT.format(libdir=libdir)
    command = [compiler, "-O2", "-Wall", "-o", tmp, f'-DPYTHON="{python}"', f'-DLIBDIR="{libdir}"',
               f'-DBOOT="{boot}"', source]
    if os.uname().machine == "x86_64":  # launcher.c's fast_entry: the plain exec before libc starts
        # It runs before TLS exists: no stack protector, whatever the compiler's default.
        command += ["-Wl,-e,pyrunc_entry", "-fno-stack-protector"]
    # Static where libc.a is installed: no dynamic loader on every command (0.3 of its 0.95 ms here).
    built = compiled and os.path.exists(source) and "'" not in libdir and any(
        subprocess.run(command + flags, check=False, stderr=subprocess.DEVNULL if flags else None).returncode == 0
        for flags in (["-static"], []))
    if not built:
        with open(tmp, "w") as f:
            f.write(SCRIPT.format(python=python, boot=boot))
    os.chmod(tmp, 0o755)
    os.replace(tmp, path)


def bundled_modules(package: str) -> dict[str, tuple[str, bool]]:
    """{module name: (source path, is a package)} for every module of the package in directory
    `package` but the top package itself (imported before the bundle is used) and UNBUNDLED."""
    out = {}
    for directory, subdirs, files in os.walk(package):
        rel = os.path.relpath(directory, package)
        subdirs[:] = sorted(d for d in subdirs if d not in UNBUNDLED and d != "__pycache__"
                            and os.path.exists(os.path.join(directory, d, "__init__.py")))
        prefix = "pyrunc" if rel == "." else "pyrunc." + rel.replace(os.sep, ".")
        for name in sorted(files):
            if not name.endswith(".py") or (rel == "." and name == "__init__.py"):
                continue
            is_package = name == "__init__.py"
            out[prefix if is_package else f"{prefix}.{name[:-3]}"] = (os.path.join(directory, name), is_package)
    return out


def other_modules() -> dict[str, tuple[str, bool]]:
    """{module: (source path, False)} for OTHERS found installed as plain .py modules."""
    from importlib.util import find_spec

    out = {}
    for name in OTHERS:
        spec = find_spec(name)
        if spec is not None and (spec.origin or "").endswith(".py") and spec.submodule_search_locations is None:
            out[name] = (spec.origin, False)
    return out


def without_docstrings(tree: ast.Module) -> ast.Module:
    """`tree` without the docstrings of its module, classes and functions (a body of only a
    docstring becomes `pass`): nothing reads them at run time, and they were 6% of the code
    a `run` unmarshals and keeps. Unlike -OO, assert statements and `if __debug__` stay."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            value = first.value if isinstance(first, ast.Expr) else None
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                node.body[0:1] = [] if len(node.body) > 1 else [ast.copy_location(ast.Pass(), first)]
    return tree


def without_annotations(tree: ast.Module) -> ast.Module:
    """`tree` without its functions' parameter and return annotations: nothing reads a function's
    __annotations__ at run time, and without `from __future__ import annotations` each def
    evaluates them (list[str] makes a GenericAlias) into a tuple it keeps (callgrind: importing
    what `run` imports, 34.78 M -> 33.88 M instructions). Annotations in class bodies stay."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            arguments = node.args
            for arg in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, arguments.vararg,
                        arguments.kwarg):
                if arg is not None:
                    arg.annotation = None
            node.returns = None
    return tree


def _varint(value: int, out: bytearray) -> None:
    """`value` in the location table's varint: 6-bit chunks, low first, 0x40 where more follow."""
    while value >= 64:
        out.append(0x40 | (value & 63))
        value >>= 6
    out.append(value)


def with_lines_only(code: types.CodeType) -> types.CodeType:
    """`code` (and the code it holds) with a location table of line numbers only, one entry per
    run of up to 8 code units on a line (the format of CPython 3.11's Objects/locations.md): what
    -X no_debug_ranges keeps (co_positions gives no columns, tracebacks no ^^^ marks), in a third
    of the size, since 3.11's compiler writes an entry per instruction (212 -> 75 KB for the package)."""
    runs: list[list] = []  # [code units, line or None]
    for start, end, line in code.co_lines():
        if runs and runs[-1][1] == line:
            runs[-1][0] += (end - start) // 2
        else:
            runs.append([(end - start) // 2, line])
    table, previous = bytearray(), code.co_firstlineno
    for units, line in runs:
        while units:
            n = min(units, 8)
            units -= n
            if line is None:
                table.append(0x80 | 15 << 3 | n - 1)  # no location
            else:
                table.append(0x80 | 13 << 3 | n - 1)  # no columns: the line's signed delta follows
                delta, previous = line - previous, line
                _varint(-delta << 1 | 1 if delta < 0 else delta << 1, table)
    consts = tuple(with_lines_only(k) if isinstance(k, types.CodeType) else k for k in code.co_consts)
    return code.replace(co_linetable=bytes(table), co_consts=consts)


def module_imports(tree: ast.Module, name: str, is_package: bool) -> list[str]:
    """The modules that importing module `name` (its source parsed as `tree`) loads by its
    unconditional module-level imports, in statement order, each after its parent package (its own
    parent first): `from x import y` counts x.y too, which the caller keeps only where it is a module."""
    package = name if is_package else name.rpartition(".")[0]
    names = [name.rpartition(".")[0]]
    for node in tree.body:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            base = ".".join(filter(None, (base, node.module)))
            names += [base] + [f"{base}.{alias.name}" for alias in node.names]
    parts = (n.split(".") for n in names if n)
    return list(dict.fromkeys(".".join(p[:i]) for p in parts for i in range(1, len(p) + 1)))


def load_orders(imports: dict[str, list[str]]) -> dict[str, tuple[str, ...]]:
    """For each module of `imports` ({module: the modules of `imports` it imports, in order}), the
    modules its import loads before its own code runs, each after those it imports: depth first in
    statement order, the order the import system reaches them in. () for a module on or reaching an
    import cycle, where that order depends on which module of the cycle is imported first."""
    def closure(name: str) -> list[str]:
        order: list[str] = []
        seen = {name}
        stack = [(name, iter(imports[name]))]
        while stack:
            node, pending = stack[-1]
            nxt = next((n for n in pending if n not in seen), None)
            if nxt is None:
                stack.pop()
                order.append(node)
            else:
                seen.add(nxt)
                stack.append((nxt, iter(imports[nxt])))
        return order[:-1]

    closures = {name: closure(name) for name in imports}
    cyclic = {name for name in imports if any(name in imports[d] or name in closures[d] for d in imports[name])}
    return {name: () if cyclic.intersection(order + [name]) else tuple(order) for name, order in closures.items()}


def extension_paths(package: str, sources: dict[str, tuple[str, bool]]) -> dict[str, str]:
    """{module: file} for the extension modules that the modules in `sources` import anywhere (top
    level names) and the package's own (in `package`, which may be a copy): the files the usual
    import finds now, listed so that a command loads them without the path search (0.15-0.2 ms each)."""
    from importlib.machinery import EXTENSION_SUFFIXES, ExtensionFileLoader
    from importlib.util import find_spec

    names: set[str] = set()
    for source, _ in sources.values():
        with open(source, "rb") as f:
            tree = ast.parse(f.read(), source)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names if "." not in alias.name)
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module and "." not in node.module:
                names.add(node.module)
    out = {}
    for name in sorted(names.union(COMPILED_IMPORTS) - {"pyrunc"}):
        spec = find_spec(name)
        if spec is not None and isinstance(spec.loader, ExtensionFileLoader):
            out[name] = spec.origin
    for file in sorted(os.listdir(package)):
        stem = next((file[:-len(s)] for s in EXTENSION_SUFFIXES if file.endswith(s)), "")
        if stem:
            out.setdefault(f"pyrunc.{stem}", os.path.join(package, file))
    return out


def write_bundle(package: str = "") -> str:
    """Compile the package's modules (this one's by default) into pyrunc.BUNDLE inside it, in the
    layout pyrunc._Bundle reads; replaced atomically. Returns its path. The code keeps its line
    numbers but not their column ranges (with_lines_only), its docstrings (without_docstrings) nor
    its functions' annotations (without_annotations). The first two took 0.17 MB off the code a
    `run` reads and 0.14 MB off what it keeps (0.91 MB is left)."""
    package = package or os.path.dirname(os.path.abspath(pyrunc.__file__))
    sources = {**bundled_modules(package), **other_modules()}
    blobs, index, imports, offset = [], {}, {}, 0
    for name, (source, is_package) in sources.items():
        with open(source, "rb") as f:
            tree = without_annotations(without_docstrings(ast.parse(f.read(), source)))
        imports[name] = [m for m in module_imports(tree, name, is_package) if m in sources]
        data = marshal.dumps(with_lines_only(compile(tree, source, "exec", dont_inherit=True)))
        st = os.stat(source)
        index[name] = (offset, len(data), is_package, os.path.relpath(source, package), st.st_mtime_ns, st.st_size)
        blobs.append(data)
        offset += len(data)
    orders = load_orders(imports)
    index = {name: entry + (orders[name],) for name, entry in index.items()}
    head = marshal.dumps((index, extension_paths(package, sources)))
    path = os.path.join(package, pyrunc.BUNDLE)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(MAGIC_NUMBER + pyrunc.BUNDLE_FORMAT + len(head).to_bytes(4, "little") + head)
        f.writelines(blobs)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return path


if __name__ == "__main__":
    write(sys.argv[1])
    write_bundle()
