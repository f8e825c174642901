"""The bundle of compiled modules (pyrunc.use_bundle, launcher.write_bundle): modules come from it
while their sources are the ones it was built from, and from the usual import otherwise."""

import os
import shutil
import subprocess
import sys

import pytest

import pyrunc
from pyrunc import launcher


@pytest.fixture
def lib(tmp_path):
    """A copy of the installed package, with its bundle, in a directory of the test's own."""
    shutil.copytree(os.path.dirname(pyrunc.__file__), tmp_path / "pyrunc",
                    ignore=shutil.ignore_patterns("testing", "__pycache__", pyrunc.BUNDLE))
    launcher.write_bundle(str(tmp_path / "pyrunc"))
    return tmp_path


def run(lib, code: str) -> str:
    """`code` after the launcher's start, without its last statement (the command)."""
    boot = launcher.BOOT.format(libdir=str(lib)).removesuffix("from pyrunc.cli import run; run()")
    r = subprocess.run([sys.executable, "-IS", "-c", boot + code], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


LOADER = "import pyrunc.{0}; print(type(pyrunc.{0}.__spec__.loader).__name__, pyrunc.{0}.__file__)"


def test_modules_come_from_the_bundle(lib):
    out = run(lib, LOADER.format("state") + "; import pyrunc.cgroups.ops; print(pyrunc.cgroups.__path__)")
    assert out.splitlines() == [f"_Bundle {lib}/pyrunc/state.py", f"['{lib}/pyrunc/cgroups']"]


def test_a_changed_source_is_imported_as_usual(lib):
    with open(lib / "pyrunc/errors.py", "a") as f:
        f.write("\nCHANGED = True\n")
    out = run(lib, LOADER.format("errors") + "; print(pyrunc.errors.CHANGED)")
    assert out.splitlines() == [f"SourceFileLoader {lib}/pyrunc/errors.py", "True"]


@pytest.mark.parametrize("damage", ["absent", "other interpreter", "truncated"])
def test_without_a_usable_bundle_everything_imports_as_usual(lib, damage):
    path = lib / "pyrunc" / pyrunc.BUNDLE
    if damage == "absent":
        path.unlink()
    elif damage == "other interpreter":
        data = path.read_bytes()
        path.write_bytes(bytes([data[0] ^ 1]) + data[1:])
    else:
        path.write_bytes(path.read_bytes()[:40])
    out = run(lib, LOADER.format("state") + "; import sys; print(len(sys.meta_path))")
    assert out.splitlines() == [f"SourceFileLoader {lib}/pyrunc/state.py", "3"]


def test_a_bundle_replaced_while_in_use_gives_the_source(lib):
    """An install during a command: the module still comes from the file the index was read from
    (the command's descriptor holds it), never from the index's offsets in the new one (here: zeros)."""
    code = ("import os, pyrunc; p = pyrunc.__path__[0] + '/' + pyrunc.BUNDLE; data = open(p, 'rb').read(); "
            "open(p + '.new', 'wb').write(data[:1000] + bytes(len(data) - 1000)); os.replace(p + '.new', p); "
            + LOADER.format("errors") + "; print(pyrunc.errors.PyruncError('x'))")
    assert run(lib, code).splitlines() == [f"_Bundle {lib}/pyrunc/errors.py", "x"]


def test_damaged_code_in_the_bundle_gives_the_source(lib):
    """The index is sound but a module's code is not: compiled from its source, not an error."""
    path = lib / "pyrunc" / pyrunc.BUNDLE
    data = bytearray(path.read_bytes())
    size = int.from_bytes(data[12:16], "little")
    data[16 + size:] = bytes(len(data) - 16 - size)
    path.write_bytes(bytes(data))
    assert run(lib, LOADER.format("errors")) == f"_Bundle {lib}/pyrunc/errors.py"


def test_tracebacks_name_the_source(lib):
    out = run(lib, "import traceback\nfrom pyrunc import jsonio\ntry:\n    jsonio.loads('[1, 2,')\n"
              "except ValueError:\n    print(traceback.format_exc())")
    assert f'File "{lib}/pyrunc/jsonio.py"' in out


def test_python_prctl_comes_from_the_bundle(lib):
    """kernel.preload's import: python-prctl's module from the bundle, its C part as usual."""
    import _prctl

    where = os.path.dirname(_prctl.__file__)  # the copy's directory holds pyrunc only
    out = run(lib, f"sys.path.append({where!r}); import prctl, _prctl; print(type(prctl.__spec__.loader).__name__, "
                   "type(_prctl.__spec__.loader).__name__, prctl.set_no_new_privs.__name__)")
    assert out == "_Bundle ExtensionFileLoader call_prctl"


def test_one_descriptor_for_the_command_and_none_after_it_is_dropped(lib):
    """use_bundle keeps the bundle open (O_CLOEXEC) for every import; drop_bundle_fd (the init's fd
    closing) closes it, and later imports open the file each time, still from the bundle."""
    code = ("import posix, fcntl; b = sys.meta_path[0]; fd = b.fd; "
            "print(posix.readlink(f'/proc/self/fd/{fd}'), fcntl.fcntl(fd, fcntl.F_GETFD) == fcntl.FD_CLOEXEC); "
            "m.drop_bundle_fd()\ntry:\n    fcntl.fcntl(fd, fcntl.F_GETFD)\n"
            "except OSError as e:\n    print(b.fd, e.errno)\n"
            + LOADER.format("errors"))
    out = run(lib, code)
    assert out.splitlines() == [f"{lib}/pyrunc/{pyrunc.BUNDLE} True", "-1 9", f"_Bundle {lib}/pyrunc/errors.py"]


def test_bundled_code_has_lines_but_no_docstrings_or_column_ranges(lib):
    """write_bundle drops what no command reads (docstrings, the column ranges of -X
    no_debug_ranges); line numbers stay for tracebacks, and so does the source's behaviour."""
    code = ("from pyrunc import jsonio, errors; f = jsonio.loads; print(f.__doc__, jsonio.__doc__, "
            "errors.PyruncError.__doc__); print({p[2:] for p in f.__code__.co_positions()}); "
            "print(f.__code__.co_firstlineno, max({p[0] or 0 for p in f.__code__.co_positions()}))")
    doc, columns, lines = run(lib, code).splitlines()
    assert doc == "None None None" and columns == "{(None, None)}"
    first, last = map(int, lines.split())
    assert first < last
    from pyrunc import jsonio

    assert jsonio.loads.__doc__ and jsonio.loads.__code__.co_firstlineno == first  # the source has them


def test_bundled_functions_have_no_annotations_and_classes_keep_theirs(lib):
    """write_bundle drops function annotations (without_annotations), which nothing reads at
    run time; a class body's annotations stay (they can define fields), and the code still runs."""
    code = ("from pyrunc import jsonio, state; "
            "print(jsonio.loads.__annotations__, state.Container.__init__.__annotations__, jsonio.loads('[1]'))")
    assert run(lib, code) == "{} {} [1]"
    import ast

    source = "class C:\n    x: int\n    def f(self, a: int, *b: str, c: 'D' = 1, **d: E) -> F: pass\n"
    tree = launcher.without_annotations(ast.parse(source))  # E and F are undefined: never evaluated
    namespace: dict = {}
    exec(compile(tree, "t", "exec"), namespace)
    assert namespace["C"].__annotations__ == {"x": int} and namespace["C"].f.__annotations__ == {}


def _units(code) -> list:
    """The line of each code unit of `code` and of the code it holds, in order."""
    out = [line for start, end, line in code.co_lines() for _ in range(start, end, 2)]
    for k in code.co_consts:
        if isinstance(k, type(code)):
            out += _units(k)
    return out


def test_every_code_unit_keeps_its_line(lib):
    """with_lines_only's table gives each instruction the line the compiler gave it, in every module."""
    import ast
    import marshal

    data = (lib / "pyrunc" / pyrunc.BUNDLE).read_bytes()
    size = int.from_bytes(data[12:16], "little")
    index, _ = marshal.loads(data[16:16 + size])
    compared = 0
    for name, (offset, length, _, source, *_) in index.items():
        bundled = marshal.loads(data[16 + size + offset:16 + size + offset + length])
        path = lib / "pyrunc" / source
        if path.exists():  # prctl's source is outside the copy
            tree = launcher.without_annotations(launcher.without_docstrings(ast.parse(path.read_bytes(), str(path))))
            assert _units(bundled) == _units(compile(tree, str(path), "exec", dont_inherit=True)), name
            compared += 1
    assert compared > 50


def test_module_imports_in_statement_order_parents_first():
    import ast

    tree = ast.parse("import a.b\nfrom . import c, d\nfrom ..e import f\nif x:\n    import g\ndef h():\n    import i\n")
    assert launcher.module_imports(tree, "p.q.r", False) == ["p", "p.q", "a", "a.b", "p.q.c", "p.q.d", "p.e", "p.e.f"]
    assert launcher.module_imports(ast.parse("from . import c"), "p.q", True) == ["p", "p.q", "p.q.c"]


def test_load_orders_leaves_first_and_none_across_a_cycle():
    imports = {"m": ["a", "b"], "a": ["c"], "b": ["c", "a"], "c": [], "x": ["y"], "y": ["z"], "z": ["y"], "w": ["x"]}
    orders = launcher.load_orders(imports)
    assert orders["m"] == ("c", "a", "b") and orders["b"] == ("c", "a") and orders["c"] == ()
    assert orders["x"] == orders["y"] == orders["z"] == orders["w"] == ()  # on or reaching y <-> z


SPECS = ("import sys\nfor n in {names!r}:\n    __import__(n); m = sys.modules[n]; s = m.__spec__\n"
         "    print(n, sorted(k for k in vars(m) if k.startswith('__')), m.__name__, m.__package__, m.__file__, "
         "m.__cached__, getattr(m, '__path__', None), s.name, s.origin, s.parent, s.submodule_search_locations, "
         "s.has_location, s.cached, type(s.loader).__name__, s._initializing, "
         "getattr(sys.modules[n.rpartition('.')[0]], n.rpartition('.')[2]) is m)")


def test_what_a_module_imports_is_loaded_first_as_the_import_system_would(lib):
    """exec_module loads the bundled modules a module's import loads (its index's order) before
    its code, without the import system's lookups: the same modules, attributes and specs."""
    names = ["pyrunc.create", "pyrunc.cgroups.ops", "pyrunc.state", "pyrunc.cgroups", "pyrunc.cgroups.fs"]
    record = "b = sys.meta_path[0]; loaded = []; o = b._load; b._load = lambda n: (loaded.append(n), o(n))\n"
    direct = run(lib, record + SPECS.format(names=names) + "\nprint(sorted(loaded))").splitlines()
    assert "pyrunc.state" in direct[-1] and "pyrunc.cgroups.fs" in direct[-1]
    usual = run(lib, "b = sys.meta_path[0]; b.index = {k: v[:6] + ((),) for k, v in b.index.items()}\n"
                + SPECS.format(names=names)).splitlines()
    assert direct[:-1] == usual and all(line.endswith("_Bundle False True") for line in usual)


def test_a_changed_module_loaded_first_is_imported_as_usual(lib):
    with open(lib / "pyrunc/uapi.py", "a") as f:
        f.write("\nCHANGED = True\n")
    out = run(lib, "import pyrunc.commands; print(type(pyrunc.uapi.__spec__.loader).__name__, pyrunc.uapi.CHANGED, "
                   "type(pyrunc.commands.__spec__.loader).__name__)")
    assert out == "SourceFileLoader True _Bundle"


def test_a_module_that_fails_while_loaded_first_is_not_left_behind(lib):
    """An exception in a module loaded first leaves it out of sys.modules, as the import system
    does, and reaches the import that caused it."""
    with open(lib / "pyrunc/uapi.py", "a") as f:
        f.write("\nraise RuntimeError('uapi failed')\n")
    launcher.write_bundle(str(lib / "pyrunc"))  # uapi's failing code is the bundled one
    code = ("\ntry:\n    import pyrunc.commands\nexcept RuntimeError as e:\n    print(e)\n"
            "print(sorted(n for n in ('pyrunc.uapi', 'pyrunc.commands', 'pyrunc.errors') if n in sys.modules))")
    assert run(lib, code).splitlines() == ["uapi failed", "['pyrunc.errors']"]


def test_extension_modules_come_from_the_files_indexed(lib, tmp_path):
    """_json (the standard library's), _cffi_backend and the shim's own: loaded from the file the
    path search found when the bundle was written; where that file is gone, found as usual."""
    import _json

    code = ("import _json, pyrunc.native, _cffi_backend\n"
            "for m in (_json, sys.modules['pyrunc._native'], _cffi_backend):\n"
            "    print(type(m.__spec__.loader).__name__, m.__file__ == sys.meta_path[0].extensions[m.__name__])")
    assert run(lib, code).splitlines() == ["ExtensionFileLoader True"] * 3
    moved = "b = sys.meta_path[0]; b.extensions['_json'] = '/nonexistent/_json.so'\nimport _json; print(_json.__file__)"
    assert run(lib, moved) == _json.__file__
    own = "b = sys.meta_path[0]; print(b.extensions['pyrunc._native'].startswith(b.package + '/'))"
    assert run(lib, own) == "True"
