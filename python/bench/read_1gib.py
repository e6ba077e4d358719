"""Benchmark: reading a 1 GiB asset through ``fsspec.open("agora://…").read()`` in chunks, next
to ``agora asset download`` of the same asset in the same run, and the Python process's peak
memory while it streams (goals: ≥ 0.9× the CLI's speed; < 64 MiB above the idle baseline).

Run by ``./scripts/bench-python.sh`` (which builds the wheel and the workspace first). It starts
its own ``agora dev --no-demo`` on free ports, publishes a priced (so encrypted) file of
``AGORA_BENCH_BYTES`` bytes (default 1 GiB) and buys access tokens for each run.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SIZE = int(os.environ.get("AGORA_BENCH_BYTES", str(1 << 30)))
RUNS = int(os.environ.get("AGORA_BENCH_RUNS", "2"))
CHUNK = 1 << 20
# anvil's well-known dev account 0: it deployed, and publishes here.
PUBLISHER_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def agora_bin() -> str:
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    path = target / "debug" / "agora"
    if not path.is_file():
        sys.exit(f"{path} missing: run `cargo build --workspace` (scripts/bench-python.sh does)")
    return str(path)


def child_peak_rss(argv: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Runs argv; its wall time, peak RSS in bytes (Linux ru_maxrss is KiB) and stdout."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    out = proc.stdout.read() if proc.stdout else ""
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{argv[:3]} failed: {out}")
    return elapsed, usage.ru_maxrss * 1024, out


READER = """
import fsspec, sys, time
opts = dict(provider=sys.argv[2], cache_dir=sys.argv[3], auto_consume=True, skip_instance_cache=True)
fs = fsspec.filesystem("agora", **opts)
if sys.argv[4] == "idle":
    fs.hub.asset(int(sys.argv[1]))
    print(0)
else:
    total = 0
    with fs.open(sys.argv[1]) as f:
        while chunk := f.read(%d):
            total += len(chunk)
    print(total)
""" % CHUNK


def main() -> None:
    agora = agora_bin()
    work = Path(tempfile.mkdtemp(prefix="agora-bench-python-"))
    session = work / "dev.json"
    ports = {k: free_port() for k in ("rpc", "indexer", "provider", "hub")}
    env = {**os.environ, "AGORA_DEV_SESSION": str(session), "XDG_CACHE_HOME": str(work / "cache")}
    dev = subprocess.Popen(
        [agora, "dev", "--no-demo", "--rpc-port", str(ports["rpc"]),
         "--indexer-listen", f"127.0.0.1:{ports['indexer']}", "--provider-listen", f"127.0.0.1:{ports['provider']}",
         "--hub-listen", f"127.0.0.1:{ports['hub']}", "--deployments-dir", str(work / "deployments")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=work,
    )
    try:
        assert dev.stdout is not None
        for line in dev.stdout:
            if line.startswith("ready"):
                break
        else:
            sys.exit("agora dev stopped before it was ready")
        described = json.loads(session.read_text())
        provider = described["providerUrl"]
        cli_env = {**env, "AGORA_RPC_URL": described["rpcUrl"], "AGORA_IPFS_API": described["ipfsApi"],
                   "AGORA_DEPLOYMENTS_DIR": str(Path(described["manifest"]).parent)}

        def cli(key: str, *args: str) -> dict:
            out = subprocess.run([agora, "--json", *args], env={**cli_env, "AGORA_PRIVATE_KEY": key},
                                 cwd=work, check=True, stdout=subprocess.PIPE, text=True).stdout
            return json.loads(out) if out.strip() else {}

        data = work / "big.bin"
        with open(data, "wb") as f:
            block = os.urandom(CHUNK)
            for _ in range(SIZE // CHUNK):
                f.write(block)
        print(f"publishing {SIZE / 2**20:.0f} MiB (priced, so encrypted)...", flush=True)
        asset = cli(PUBLISHER_KEY, "asset", "publish", str(data), "--kind", "dataset", "--price", "0.001")["assetId"]
        buyer = described["consumerKey"]
        cli(buyer, "asset", "buy", asset, "--amount", str(2 * RUNS))
        time.sleep(2)  # the indexer catches up with the new asset

        reader_env = {**env}
        idle_wall, idle_rss, _ = child_peak_rss(
            [sys.executable, "-c", READER, asset, provider, str(work / "idle-cache"), "idle"], reader_env)
        rows = []
        for run in range(RUNS):
            out = work / f"cli-{run}.bin"
            started = time.perf_counter()
            cli(buyer, "asset", "download", asset, "--provider", provider, "-o", str(out))
            cli_secs = time.perf_counter() - started
            out.unlink()
            py_secs, py_rss, printed = child_peak_rss(
                [sys.executable, "-c", READER, asset, provider, str(work / f"cache-{run}"), "read"], reader_env)
            assert int(printed) == SIZE, printed
            shutil.rmtree(work / f"cache-{run}")
            rows.append((cli_secs, py_secs, py_rss))
        print(f"\n{'run':>4} {'CLI download':>14} {'fsspec read':>13} {'ratio':>7} {'peak RSS':>10}")
        for i, (c, p, rss) in enumerate(rows):
            print(f"{i:>4} {SIZE / c / 2**20:>9.1f} MiB/s {SIZE / p / 2**20:>8.1f} MiB/s {c / p:>6.2f}x {rss / 2**20:>6.1f} MiB")
        best_cli = min(r[0] for r in rows)
        best_py = min(r[1] for r in rows)
        peak = max(r[2] for r in rows)
        print(f"\nbest: CLI {SIZE / best_cli / 2**20:.1f} MiB/s, fsspec {SIZE / best_py / 2**20:.1f} MiB/s "
              f"= {best_cli / best_py:.2f}x the CLI (goal >= 0.9x)")
        print(f"peak RSS {peak / 2**20:.1f} MiB, idle baseline {idle_rss / 2**20:.1f} MiB: "
              f"{(peak - idle_rss) / 2**20:.1f} MiB above it while streaming (goal < 64 MiB)")
    finally:
        dev.send_signal(2)
        try:
            dev.wait(timeout=30)
        except subprocess.TimeoutExpired:
            dev.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
