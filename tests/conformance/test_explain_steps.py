"""`pyrunc explain` shows what create and start do: for every example bundle, the steps logged
by `--debug` while the container really runs are explain's steps, in order, per process."""

import json
from pathlib import Path

import pytest

from pyrunc.steps import REQUESTS
from pyrunc.testing.bundle import close_every_console, wait_for

REPO = Path(__file__).resolve().parents[2]
BUNDLES = sorted(p.parent for p in [*REPO.glob("bundles/*/config.json"), *REPO.glob("bundles/labs/*/config.json")])


def steps_by_process(lines: list[tuple[str, str]]) -> dict[str, list[str]]:
    runtime = {"before", "runtime", "clone", "parent", "started", "delete"}
    out: dict[str, list[str]] = {"runtime": [], "init": []}
    for phase, text in lines:
        out["runtime" if phase in runtime else "init"].append(f"{phase}: {text}")
    return out


@pytest.mark.root
@pytest.mark.parametrize("bundle", BUNDLES, ids=[b.name for b in BUNDLES])
def test_debug_steps_are_explains_steps(bundle: Path, rt, tmp_path):
    rt.only_pyrunc("explain")
    if not (bundle / "rootfs/bin/busybox").exists():
        pytest.skip(f"{bundle.name}: rootfs not built (make bundles)")
    if "org.pyrunc.network" in (json.loads((bundle / "config.json").read_text()).get("annotations") or {}):
        pytest.skip(f"{bundle.name}: its network would be made in the real host's network namespace; "
                    "test_network.py runs it in a stand-in")
    explained = json.loads(rt("explain", "--format", "json", bundle).out)["steps"]
    expected = steps_by_process([(s["phase"], (f"{REQUESTS[s['on']]}: " if s["on"] else "") + s["action"]
                                  + (f"  [{s['source']}]" if s["source"] else "")) for s in explained])
    cid = f"explain-{bundle.name}"
    log = tmp_path / "debug.log"
    flags = []
    config = json.loads((bundle / "config.json").read_text())
    if config["process"].get("terminal"):
        close_every_console(tmp_path / "console.sock")
        flags = ["--console-socket", tmp_path / "console.sock"]
    try:
        r = rt("--debug", "--log", log, "--log-format", "json", "create", "--bundle", bundle, *flags, cid)
        assert r.rc == 0, r
        assert rt("start", cid).rc == 0
        wait_for(lambda: json.loads(rt("state", cid).out or "{}").get("status") == "stopped", 20, f"{cid} stopped")
        r = rt("--debug", "--log", log, "--log-format", "json", "delete", cid)
        assert r.rc == 0, r
        logged = []
        for line in log.read_text().splitlines():
            entry = json.loads(line)
            assert entry["level"] == "debug", entry
            phase, _, text = entry["msg"].partition(": ")
            for per_id in ("/pyrunc/", "'_ses."):  # the cgroup path and the session keyring name the id
                text = text.replace(f"{per_id}{cid}", f"{per_id}{bundle.name}")
            logged.append((phase, text))
        assert steps_by_process(logged) == expected
    finally:
        rt("delete", "--force", cid)
