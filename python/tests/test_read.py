"""Buying and reading: pandas, PyArrow and Hugging Face datasets through agora://, ranged
reads, a model folder's file, and that a read never spends a token unasked."""

from __future__ import annotations

import io
from typing import Any

import fsspec
import pandas as pd
import pyarrow.parquet as pq
import pytest

from agora import Hub, errors
from conftest import hub_from


def test_a_priced_csv_is_refused_until_bought_then_read_with_pandas(
    hub: Hub, options: dict[str, Any], stack: dict[str, Any]
) -> None:
    asset = stack["pricedCsv"]["assetId"]
    url = f"agora://{asset}"
    with pytest.raises(PermissionError) as refused:
        pd.read_csv(url, storage_options=options)
    assert "0.001 ETH" in str(refused.value) and f"hub.buy({asset})" in str(refused.value)

    bought = hub.buy(asset, max_price="0.001")
    assert bought["paid"] == "0.001 ETH" and bought["amount"] == "1"
    held = hub.access_tokens(asset)
    # Holding a token is not enough: reading never spends it unasked.
    with pytest.raises(errors.AccessRefused) as refused:
        pd.read_csv(url, storage_options=options)
    assert "auto_consume=True" in str(refused.value)
    assert hub.access_tokens(asset) == held

    frame = pd.read_csv(url, storage_options={**options, "auto_consume": True})
    expected = pd.read_csv(io.StringIO(stack["pricedCsv"]["content"]))
    pd.testing.assert_frame_equal(frame, expected)
    assert list(frame["island"]) == ["Daphne", "Genovesa", "Santa Cruz"]
    assert hub.access_tokens(asset) == held - 1

    # Read again: the verified copy serves it, no token spent.
    again = pd.read_csv(url, storage_options={**options, "auto_consume": True})
    pd.testing.assert_frame_equal(again, expected)
    assert hub.access_tokens(asset) == held - 1


def test_ranged_reads_and_info(hub: Hub, options: dict[str, Any], stack: dict[str, Any]) -> None:
    asset = stack["pricedCsv"]["assetId"]
    content = stack["pricedCsv"]["content"].encode()
    hub.buy(asset)
    fs = fsspec.filesystem("agora", **options, auto_consume=True)
    assert fs.info(f"agora://{asset}")["size"] == len(content)
    assert fs.cat_file(f"agora://{asset}", 0, 6) == content[:6]
    assert fs.cat_file(f"agora://{asset}", 7, 14) == content[7:14]
    assert fs.cat_file(f"agora://{asset}", -10) == content[-10:]
    with fs.open(f"agora://{asset}") as file:
        file.seek(len(content) - 5)
        assert file.read(5) == content[-5:]
    assert fs.cat_file(f"agora://{asset}") == content
    with pytest.raises(PermissionError):
        fs.open(f"agora://{asset}", "wb")


def test_a_parquet_table_reads_with_pyarrow(hub: Hub, options: dict[str, Any], stack: dict[str, Any]) -> None:
    asset = stack["pricedParquet"]["assetId"]
    hub.buy(asset)
    fs = fsspec.filesystem("agora", **options, auto_consume=True)
    table = pq.read_table(str(asset), filesystem=fs)
    assert table.column("island").to_pylist() == ["Daphne", "Genovesa"]
    assert table.column("beak_mm").to_pylist() == [11.2, 9.8]


def test_timed_orders_are_reused_and_datasets_loads_the_csv(
    hub: Hub, options: dict[str, Any], stack: dict[str, Any], tmp_path: Any
) -> None:
    import datasets

    asset = stack["timed"]["assetId"]
    hub.buy(asset)
    order = hub.consume(asset)
    loaded = datasets.load_dataset(
        "csv",
        data_files=f"agora://{asset}",
        storage_options=dict(options),
        cache_dir=str(tmp_path / "hf"),
        split="train",
    )
    assert loaded.to_dict() == {"site": ["north", "south"], "count": [12, 7]}

    # Another machine (an empty cache) reads with the same hour-long order, spending nothing.
    fresh = hub_from(options, cache_dir=str(tmp_path / "other"))
    held = fresh.access_tokens(asset)
    with fresh.open(asset) as file:
        assert file.read().decode() == stack["timed"]["content"]
    assert fresh.access_tokens(asset) == held
    assert order > 0


def test_a_model_folder_file_through_fsspec(hub: Hub, options: dict[str, Any], stack: dict[str, Any]) -> None:
    model = stack["model"]["assetId"]
    hub.buy(model)
    storage = {**options, "auto_consume": True}
    with fsspec.open(f"agora://{model}/config.json", "rb", **storage) as file:
        assert file.read().decode() == stack["model"]["config"]
    fs = fsspec.filesystem("agora", **storage)
    names = sorted(fs.ls(f"agora://{model}", detail=False))
    assert f"{model}/config.json" in names and f"{model}/model.safetensors" in names
    with pytest.raises(FileNotFoundError):
        fs.cat_file(f"agora://{model}/missing.bin")


def test_download_writes_a_verified_file(hub: Hub, stack: dict[str, Any], tmp_path: Any) -> None:
    asset = stack["pricedCsv"]["assetId"]
    hub.buy(asset)
    target = hub.download(asset, tmp_path / "finches.csv", auto_consume=True, progress=False)
    assert target.read_text() == stack["pricedCsv"]["content"]
    with pytest.raises(FileExistsError):
        hub.download(asset, target)


def test_without_a_provider_the_best_registered_one_serves(
    options: dict[str, Any], stack: dict[str, Any], tmp_path: Any
) -> None:
    # No provider named: chosen as the CLI chooses (active, holding the key, healthy, stake).
    hub = hub_from(options, provider=None)
    ranked = hub._client.candidates(str(stack["pricedCsv"]["assetId"]))
    assert [url.rstrip("/") for url in ranked] == [stack["providerUrl"]]
    asset = stack["pricedCsv"]["assetId"]
    hub.buy(asset)
    target = hub.download(asset, tmp_path / "chosen.csv", auto_consume=True, progress=False)
    assert target.read_text() == stack["pricedCsv"]["content"]
    with pytest.raises(errors.UnknownAsset):
        hub._client.candidates(str(stack["unknownAssetId"]))


def test_concurrent_reads_share_one_download_and_one_token(
    hub: Hub, options: dict[str, Any], stack: dict[str, Any]
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    asset = stack["pricedCsv"]["assetId"]
    hub.buy(asset, amount=2)
    held = hub.access_tokens(asset)
    readers = [hub_from(options) for _ in range(8)]
    with ThreadPoolExecutor(8) as pool:
        paths = list(pool.map(lambda h: h.local_copy(asset, auto_consume=True), readers))
    assert len(set(paths)) == 1 and paths[0].read_text() == stack["pricedCsv"]["content"]
    assert hub.access_tokens(asset) == held - 1


def test_async_twins_run_side_by_side(hub: Hub, stack: dict[str, Any], tmp_path: Any) -> None:
    import asyncio

    async def main() -> tuple[Any, ...]:
        return await asyncio.gather(
            hub.aio.search("finch"),
            hub.aio.asset(stack["timed"]["assetId"]),
            hub.aio.quote(stack["pricedCsv"]["assetId"]),
            hub.aio.buy(stack["timed"]["assetId"]),
        )

    found, timed, quote, bought = asyncio.run(main())
    assert stack["pricedCsv"]["assetId"] in {a.asset_id for a in found}
    assert timed.access_duration == 3600
    assert quote["cost"] == 10**15 and quote["text"] == "0.001 ETH"
    assert bought["amount"] == "1"
