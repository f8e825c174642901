"""The generated checks split in three modules (pyrunc.schemagen.main): each is fresh, and checking a
default config (`pyrunc spec`'s) loads neither the rare sections' module nor state's and features'."""

import json
import subprocess
import sys
from pathlib import Path

from pyrunc import schemagen

REPO = Path(__file__).resolve().parents[2]
GENERATED = ("_config_check.py", schemagen.RARE + ".py", "_output_check.py")


def test_every_generated_module_is_fresh(tmp_path):
    assert schemagen.main([str(tmp_path / "_config_check.py"), str(REPO / "schema")]) == 0
    for name in GENERATED:
        assert (tmp_path / name).read_text() == (REPO / "pyrunc" / name).read_text(), \
            f"{name}: schema/ or specgen changed: run `python -m pyrunc.schemagen`"


def _loaded_after_check(cfg: dict) -> set[str]:
    code = f"""
import json, sys
sys.path.insert(0, {str(REPO)!r})
from pyrunc import _config_check
assert _config_check.config(json.loads({json.dumps(cfg)!r})) is True
print(" ".join(m for m in sys.modules if m.startswith("pyrunc")))
"""
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_default_configs_load_only_the_common_checks():
    from pyrunc import specgen

    for cfg in (specgen.default_config(), specgen.default_config(rootless=True)):
        assert _loaded_after_check(cfg) == {"pyrunc", "pyrunc._config_check"}


def test_a_rare_section_loads_its_checks():
    from pyrunc import specgen

    cfg = specgen.default_config()
    cfg["linux"].setdefault("resources", {})["memory"] = {"limit": 1 << 20}
    assert f"pyrunc.{schemagen.RARE}" in _loaded_after_check(cfg)
