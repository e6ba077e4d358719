"""Publishing from Python: the CLI's flow (agora-client), with its encryption defaults and checks."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from agora import Hub, errors
from conftest import hub_from

ROWS = "species,count\nwren,3\nrobin,5\n"


def _ipfs_cat(api: str, cid: str) -> bytes:
    request = urllib.request.Request(f"{api}/api/v0/cat?arg={cid}", method="POST")
    with urllib.request.urlopen(request) as answer:
        return answer.read()


def test_a_priced_csv_is_published_encrypted_and_read_back_by_a_buyer(
    hub: Hub, options: dict[str, Any], stack: dict[str, Any], tmp_path: Path
) -> None:
    data = tmp_path / "birds.csv"
    data.write_text(ROWS)
    card = tmp_path / "card.md"
    card.write_text("# Garden birds\n\nCounted on a Sunday.")
    published = hub.publish(
        data,
        kind="dataset",
        price="0.002",
        name="Garden birds",
        description="Birds counted in one garden.",
        card=card,
        license="CC-BY-4.0",
        tags=["birds", "counts"],
        progress=False,
    )
    assert published["encrypted"] is True
    holders = {h.lower() for h in published["key_holders"]}
    assert hub.address.lower() in holders and len(holders) == 2, holders  # the owner and the provider
    # IPFS holds ciphertext only.
    assert ROWS.encode() not in _ipfs_cat(stack["ipfsApi"], published["content_cid"])
    metadata = json.loads(_ipfs_cat(stack["ipfsApi"], published["metadata_cid"]))
    assert metadata["name"] == "Garden birds" and metadata["tags"] == ["birds", "counts"]
    assert metadata["card"].startswith("# Garden birds") and metadata["kind"] == "dataset"

    asset = int(published["asset_id"])
    other = hub_from(options, key=stack["otherKey"])
    other.buy(asset, max_price="0.002")
    with other.open(asset, auto_consume=True) as file:
        frame = pd.read_csv(file)
    assert frame.to_dict("list") == {"species": ["wren", "robin"], "count": [3, 5]}


def test_a_free_file_is_public_and_a_folder_is_a_model(hub: Hub, stack: dict[str, Any], tmp_path: Path) -> None:
    data = tmp_path / "free.csv"
    data.write_text(ROWS)
    published = hub.publish(data, progress=False)
    assert published["encrypted"] is False and published["key_holders"] == []
    assert _ipfs_cat(stack["ipfsApi"], published["content_cid"]) == ROWS.encode()

    folder = tmp_path / "tiny-model"
    folder.mkdir()
    (folder / "config.json").write_text('{"hidden_size": 4}')
    (folder / "weights.bin").write_bytes(bytes(range(64)))
    model = hub.publish(folder, kind="model", progress=False)
    manifest = json.loads(_ipfs_cat(stack["ipfsApi"], model["content_cid"]))
    assert sorted(f["name"] for f in manifest["files"]) == ["config.json", "weights.bin"]


def test_publishing_refuses_what_the_cli_refuses(hub: Hub, tmp_path: Path) -> None:
    data = tmp_path / "x.csv"
    data.write_text(ROWS)
    with pytest.raises(errors.ConfigurationError, match="kind 'video'|kind \"video\""):
        hub.publish(data, kind="video", progress=False)
    with pytest.raises(errors.ConfigurationError, match="cannot be compute-only"):
        hub.publish(data, compute_only=True, encrypt=False, progress=False)
    with pytest.raises(errors.AgoraError, match="malformed split"):
        hub.publish(data, splits=[("nobody", 10_000)], progress=False)
    with pytest.raises(errors.AgoraError, match="sum to 9000"):
        hub.publish(data, splits={"0x00000000000000000000000000000000000000aa": 9000}, progress=False)
    with pytest.raises(errors.AgoraError, match="a tag is"):
        hub.publish(data, tags=["Not A Tag"], progress=False)
    with pytest.raises(errors.ConfigurationError, match="is a folder"):
        hub.publish(tmp_path, kind="dataset", progress=False)
    with pytest.raises(errors.AgoraError, match="not an algorithm the sandbox can run"):
        hub.publish(data, kind="algorithm", progress=False)
    with pytest.raises(errors.ConfigurationError, match="sample is the content itself"):
        hub.publish(data, sample=data, progress=False)


def test_publishing_waits_for_pinning_services_and_mints_nothing_without_them(
    hub: Hub, stack: dict[str, Any], tmp_path: Path
) -> None:
    data = tmp_path / "kept.csv"
    data.write_text(ROWS)
    endpoint = stack["providerUrl"].rstrip("/") + "/pinning"
    service = {"name": "py-archive", "endpoint": endpoint, "key": stack["pinningToken"]}
    published = hub.publish(data, price="0.001", pinning={"replicas": 1, "services": [service]}, progress=False)
    assert published["replicas"] == [{"service": "py-archive", "statuses": ["pinned", "pinned"]}]
    assert hub.publish(data, progress=False)["replicas"] == []

    before = int(hub.publish(data, progress=False)["asset_id"])
    wrong = {**service, "key": "not-the-token"}
    with pytest.raises(errors.AgoraError, match="nothing was published on chain"):
        hub.publish(data, pinning={"replicas": 1, "services": [wrong], "wait_secs": 30}, progress=False)
    assert int(hub.publish(data, progress=False)["asset_id"]) == before + 1, "the refused one minted nothing"

    for table, message in [
        ({"replicas": 2, "services": [service]}, "at most the number of services"),
        ({"replicas": 1, "services": [{"name": "x", "endpoint": endpoint}]}, "both endpoint and key"),
        ({"replicas": 1, "services": [{"name": "never-configured"}]}, "not configured in your Kubo"),
        ({"replicas": 1, "services": [service], "copies": 3}, "unknown field"),
    ]:
        with pytest.raises(errors.AgoraError, match=message):
            hub.publish(data, pinning=table, progress=False)
