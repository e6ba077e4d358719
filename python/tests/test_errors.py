"""Every failure the package promises, as an exception in words: a wrong key, an unknown
asset, a provider that is down, a price that moved, an empty wallet, a compute-only asset,
a provider serving altered bytes, and Ctrl-C during a download."""

from __future__ import annotations

import secrets
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import fsspec
import pytest

from agora import Hub, errors
from conftest import hub_from


def test_a_malformed_key_is_refused_without_echoing_it(options: dict[str, Any]) -> None:
    with pytest.raises(errors.ConfigurationError) as raised:
        hub_from(options, key="0xnot-a-key-s3cret")
    assert isinstance(raised.value, ValueError)
    assert "s3cret" not in str(raised.value) and "private key" in str(raised.value)


def test_a_manifest_for_another_chain_or_a_dead_node_is_refused(options: dict[str, Any], stack: dict[str, Any]) -> None:
    with pytest.raises(errors.ConfigurationError, match="unreachable|did not answer"):
        hub_from(options, rpc_url=stack["downUrl"])
    with pytest.raises(errors.ConfigurationError, match="no such file|No such file"):
        hub_from(options, manifest="/nonexistent/31337.json")


def test_unknown_assets_and_bad_paths(options: dict[str, Any], stack: dict[str, Any]) -> None:
    fs = fsspec.filesystem("agora", **options)
    with pytest.raises(FileNotFoundError):
        fs.open(f"agora://{stack['unknownAssetId']}")
    with pytest.raises(FileNotFoundError, match="asset id"):
        fs.cat_file("agora://finches")
    with pytest.raises(FileNotFoundError, match="not a model folder"):
        fs.info(f"agora://{stack['pricedCsv']['assetId']}/inner.txt")


def test_a_provider_that_is_down(hub: Hub, stack: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(errors.ProviderUnavailable) as raised:
        hub.download(stack["pricedCsv"]["assetId"], tmp_path / "x.csv", provider=stack["downUrl"])
    assert isinstance(raised.value, ConnectionError) and "unreachable" in str(raised.value)
    assert not (tmp_path / "x.csv").exists()


def test_a_price_guard_and_an_empty_wallet(hub: Hub, options: dict[str, Any], stack: dict[str, Any]) -> None:
    asset = stack["pricedCsv"]["assetId"]
    with pytest.raises(errors.PriceChanged) as raised:
        hub.buy(asset, max_price="0.0001")
    assert str(raised.value) == "price changed: you allowed 0.0001 ETH, it is now 0.001 ETH"
    assert raised.value.error == "Marketplace__PriceAboveMax"

    empty = hub_from(options, key="0x" + secrets.token_hex(32))
    with pytest.raises(errors.InsufficientPayment, match="insufficient funds: .* has 0 ETH"):
        empty.buy(asset)
    with pytest.raises(errors.ConfigurationError, match="at least 1"):
        hub.buy(asset, amount=0)


def test_compute_only_content_never_leaves_the_provider(hub: Hub, stack: dict[str, Any]) -> None:
    with pytest.raises(errors.AccessRefused, match="compute-only"):
        hub.open(stack["computeOnly"]["assetId"], auto_consume=True)


def test_altered_bytes_are_a_digest_mismatch_and_nothing_is_kept(
    hub: Hub, stack: dict[str, Any], hostile_provider: Any, tmp_path: Path
) -> None:
    asset = stack["pricedCsv"]["assetId"]
    content = stack["pricedCsv"]["content"].encode()
    hostile_provider.body = content.replace(b"Daphne", b"Dafne!")
    hostile_provider.size = len(content)
    hub.buy(asset)
    target = tmp_path / "finches.csv"
    with pytest.raises(errors.DigestMismatch, match="sha-256 mismatch"):
        hub.download(asset, target, provider=hostile_provider.url, auto_consume=True, progress=False)
    assert not target.exists()
    kept = [p.name for p in (Path(hub.cache_dir) / "blobs").iterdir() if not p.name.endswith(".lock")]
    assert kept == [], kept


def test_ctrl_c_stops_a_download_at_once(options: dict[str, Any], stack: dict[str, Any], hostile_provider: Any, tmp_path: Path) -> None:
    hostile_provider.trickle = True
    hostile_provider.size = 10_000
    asset = stack["pricedCsv"]["assetId"]
    hub_from(options).buy(asset)
    script = textwrap.dedent(
        f"""
        import sys
        from agora import Hub
        opts = {dict(options)!r}
        hub = Hub(opts.pop("rpc_url"), opts.pop("indexer_url"), **opts)
        print("downloading", flush=True)
        try:
            hub.download({asset}, {str(tmp_path / 'out.csv')!r}, provider={hostile_provider.url!r}, auto_consume=True, progress=False)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(130)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "downloading"
    time.sleep(3)  # spending the token, then the trickle
    sent = time.monotonic()
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=20)
    assert child.returncode == 130, (out, err)
    assert "interrupted" in out
    assert time.monotonic() - sent < 5
    assert not (tmp_path / "out.csv").exists()
