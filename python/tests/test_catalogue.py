"""Reading the catalogue: search, one asset, its rich display."""

from __future__ import annotations

from typing import Any

import pytest

from agora import Hub, errors


def test_search_finds_assets_by_words_and_filters(hub: Hub, stack: dict[str, Any]) -> None:
    priced = stack["pricedCsv"]["assetId"]
    found = hub.search("finch", kind="dataset")
    by_id = {a.asset_id: a for a in found}
    assert priced in by_id, found
    asset = by_id[priced]
    assert asset.name == "Finch measurements"
    assert asset.price == 10**15 and asset.price_text() == "0.001 ETH"
    assert asset.encrypted is True and not asset.compute_only
    assert asset.digest.startswith("0x") and len(asset.digest) == 66

    free = hub.search(free=True)
    assert stack["timed"]["assetId"] in {a.asset_id for a in free}
    assert all(a.free for a in free)
    assert priced not in {a.asset_id for a in free}
    assert [a.kind for a in hub.search(kind="model")] == ["model"]


def test_an_asset_shows_its_split_and_renders_for_jupyter(hub: Hub, stack: dict[str, Any]) -> None:
    asset = hub.asset(stack["pricedCsv"]["assetId"])
    assert asset.split and sum(bps for _, bps in asset.split) == 10_000
    page = asset._repr_html_()
    assert "Finch measurements" in page and "0.001 ETH" in page and "Beak and wing lengths" in page
    assert "<script" not in page


def test_a_model_folder_is_told_apart(hub: Hub, stack: dict[str, Any]) -> None:
    assert hub.asset(stack["model"]["assetId"]).is_model_folder
    assert not hub.asset(stack["pricedCsv"]["assetId"]).is_model_folder


def test_unknown_assets_are_file_not_found(hub: Hub, stack: dict[str, Any]) -> None:
    with pytest.raises(errors.UnknownAsset) as raised:
        hub.asset(stack["unknownAssetId"])
    assert isinstance(raised.value, FileNotFoundError)



def test_hub_local_reads_the_session_agora_dev_writes(
    stack: dict[str, Any], tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    import fsspec

    session = tmp_path / "dev.json"
    session.write_text(
        json.dumps(
            {
                "chainId": 31337,
                "rpcUrl": stack["rpcUrl"],
                "indexerUrl": stack["indexerUrl"],
                "providerUrl": stack["providerUrl"],
                "ipfsApi": stack["ipfsApi"],
                "manifest": stack["manifest"],
                "consumerKey": stack["buyerKey"],
            }
        )
    )
    hub = Hub.local(session)
    assert hub.address == stack["buyer"] and hub.provider == stack["providerUrl"]
    monkeypatch.setenv("AGORA_DEV_SESSION", str(session))
    assert Hub.local().address == stack["buyer"]
    # agora:// with no options at all uses the running `agora dev`.
    fs = fsspec.filesystem("agora", skip_instance_cache=True)
    assert fs.info(f"agora://{stack['timed']['assetId']}")["size"] == len(stack["timed"]["content"])

    monkeypatch.setenv("AGORA_DEV_SESSION", str(tmp_path / "missing.json"))
    with pytest.raises(errors.ConfigurationError, match="no `agora dev` is running"):
        Hub.local()


def test_a_stablecoin_price_reads_in_its_units_and_is_paid_with_a_permit(
    hub: Hub, options: dict[str, Any], stack: dict[str, Any]
) -> None:
    asset_id = stack["stablecoin"]["assetId"]
    asset = hub.asset(asset_id)
    assert asset.units == ("mUSD", 6) and asset.price == 2_500_000
    assert asset.price_text() == "2.5 mUSD" and "2.5 mUSD" in asset._repr_html_()
    assert hub.quote(asset_id)["text"] == "2.5 mUSD"
    # One signature (EIP-2612 permit) and one transaction: no approve first.
    bought = hub.buy(asset_id, max_price="2.5")
    assert bought["paid"] == "2.5 mUSD" and hub.access_tokens(asset_id) == 1
    with pytest.raises(errors.PriceChanged, match="2.5 mUSD"):
        hub.buy(asset_id, max_price="2.4")
