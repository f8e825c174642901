"""What networking costs: pyroute2's import, and a `run` of bundles/hello with `--network bridge`
against a plain one, interleaved.

    .venv/bin/python tests/bench_network.py [--runs N]     (root; `make bench-network`)

It re-executes itself in a new network namespace standing in for the host (unshare --net), so the
bridge, ip_forward and the nftables table are made there and never on the real host."""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYRUNC = REPO / ".venv/bin/pyrunc"
HELLO = REPO / "bundles/hello"


def import_ms(times: int = 5) -> list[float]:
    """pyroute2's cumulative import time as -X importtime reports it, in a fresh interpreter each time."""
    out = []
    for _ in range(times):
        r = subprocess.run([sys.executable, "-X", "importtime", "-c", "from pyroute2 import IPRoute"],
                           capture_output=True, text=True, check=True, cwd="/")
        line = next(x for x in r.stderr.splitlines() if x.rstrip().endswith("| pyroute2"))
        out.append(int(line.split("|")[1]) / 1000)
    return out


def timed_run(root: str, *flags: str) -> float:
    start = time.perf_counter()
    subprocess.run([PYRUNC, "--root", root, "run", *flags, "-b", HELLO, "bench-net"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (time.perf_counter() - start) * 1000


def inside(runs: int, host_netns: int) -> None:
    if os.stat("/proc/self/ns/net").st_ino == host_netns:
        sys.exit("bench_network: not in a network namespace of its own")
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    root = tempfile.mkdtemp(prefix="pyrunc-bench-net-")
    try:
        plain, bridged = [], []
        timed_run(root)
        timed_run(root, "--network", "bridge")
        for _ in range(runs):
            plain.append(timed_run(root))
            bridged.append(timed_run(root, "--network", "bridge"))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    imports = import_ms()
    for name, values in (("import pyroute2", imports), ("run (plain)", plain), ("run --network bridge", bridged)):
        print(f"{name:22} median {statistics.median(values):6.1f} ms  min {min(values):6.1f} ms  (n={len(values)})")
    print(f"{'ratio of medians':22} {statistics.median(bridged) / statistics.median(plain):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--inside", type=int, default=0, help=argparse.SUPPRESS)  # the host's netns inode
    args = parser.parse_args()
    if args.inside:
        inside(args.runs, args.inside)
    else:
        host = os.stat("/proc/self/ns/net").st_ino
        os.execvp("unshare", ["unshare", "--net", sys.executable, __file__, "--inside", str(host), "--runs",
                              str(args.runs)])


if __name__ == "__main__":
    main()
