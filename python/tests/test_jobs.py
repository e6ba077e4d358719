"""Compute jobs from Python: an embedding job over a priced, encrypted dataset (its access
token bought with the job when none is held), followed to its end, its output fetched and
checked against the chain, and re-executed here bit for bit; and the refusals that come before
any money moves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agora import Hub, errors
from conftest import hub_from


@pytest.fixture
def consumer(options: dict[str, Any], stack: dict[str, Any]) -> Hub:
    """A data scientist of its own: the access tokens it buys and spends leave the buyer's alone."""
    return hub_from(options, key=stack["otherKey"])


def test_an_embedding_job_runs_its_output_is_checked_and_it_reproduces(
    consumer: Hub, options: dict[str, Any], stack: dict[str, Any], tmp_path: Path
) -> None:
    dataset, model = stack["pricedCsv"]["assetId"], stack["model"]["assetId"]
    # IPFS holds only the dataset's ciphertext: the re-execution needs the plaintext, which this
    # hub keeps verified after a read.
    consumer.buy(dataset)
    consumer.local_copy(dataset, auto_consume=True)
    held = consumer.access_tokens(dataset)

    job = consumer.run_job("embed", dataset=dataset, model=model, text_field="island", batch_size=2, max_total="0.02")
    inputs = {row["role"]: row for row in job.submitted["inputs"]}
    assert inputs["dataset"]["spendsToken"] and inputs["dataset"]["bought"] == (held == 0)
    # The model is free: no token of it is needed.
    assert not inputs["algorithm/model"]["spendsToken"]
    assert job.submitted["payment"] == "0.01 ETH" and job.submitted["status"] == "queued"
    assert consumer.access_tokens(dataset) == max(held - 1, 0)

    state = job.wait(timeout=300, progress=False)
    assert state.status == "succeeded" and state.on_chain == "result posted", state

    out = tmp_path / "embeddings"
    result = job.result(out)
    assert "embeddings.safetensors" in result.files and (out / "embeddings.safetensors").stat().st_size > 0
    assert result.output_cid and result.input_cids and result.device == "cpu"
    # A fetch into a folder holding other files is refused: the hash covers every file.
    with pytest.raises(errors.AgoraError, match="is not empty"):
        job.result(out)

    verdict = job.verify()
    assert verdict.matches, verdict
    assert verdict.posted == verdict.recomputed == result.output_hash
    assert verdict.receipt.startswith("checked")

    # Named by no one (neither the call nor the hub), the provider is the best that takes the
    # job: the stack's only one.
    anywhere = hub_from(options, key=stack["otherKey"], provider=None).run_job(
        "embed", dataset=dataset, model=model, text_field="island", batch_size=2
    )
    assert anywhere.submitted["providerUrl"].rstrip("/") == stack["providerUrl"], anywhere.submitted
    assert anywhere.wait(timeout=300, progress=False).status == "succeeded"

    # The same job found again by id, at its provider's registered endpoint.
    again = consumer.job(job.job_id)
    assert again.state().status == "succeeded"
    assert again.result().output_hash == result.output_hash


def test_a_job_is_refused_before_any_money_moves(consumer: Hub, stack: dict[str, Any]) -> None:
    dataset, model = stack["pricedCsv"]["assetId"], stack["model"]["assetId"]
    consumer.buy(dataset)
    held = consumer.access_tokens(dataset)

    with pytest.raises(errors.ConfigurationError, match="invalid job spec"):
        consumer.run_job("dance", dataset=dataset, model=model)
    with pytest.raises(errors.ConfigurationError, match="not both"):
        consumer.run_job("embed", dataset=dataset, model=model, spec={"kind": "embed"})
    with pytest.raises(errors.AgoraError, match="would refuse this spec: invalid job spec: batch_size"):
        consumer.run_job("embed", dataset=dataset, model=model, batch_size=0)
    with pytest.raises(errors.PriceChanged, match="more than max_total 0.000001 ETH"):
        consumer.run_job("embed", dataset=dataset, model=model, max_total="0.000001")
    with pytest.raises(errors.UnknownAsset):
        consumer.run_job("embed", dataset=stack["unknownAssetId"], model=model)
    with pytest.raises(errors.ProviderUnavailable):
        consumer.run_job("embed", dataset=dataset, model=model, provider=stack["downUrl"])
    assert consumer.access_tokens(dataset) == held

    with pytest.raises(errors.AgoraError, match="unknown job 999999"):
        consumer.job(999999).state()
