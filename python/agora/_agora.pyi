"""Types of the native module (``agora._agora``, built from python/src/lib.rs)."""

import os
from typing import Any, Callable

class Client:
    """The connection to one deployment as one account (read-only without a key)."""

    def __init__(
        self,
        rpc_url: str,
        indexer_url: str,
        manifest: str | os.PathLike[str],
        key: str | None = None,
        ipfs_api: str | None = None,
    ) -> None: ...
    @property
    def address(self) -> str | None: ...
    @property
    def chain_id(self) -> int: ...
    def assets(self, query: str) -> str: ...
    def asset(self, asset_id: str) -> str: ...
    def orders(self, address: str) -> str: ...
    def quote(self, asset_id: str, amount: int) -> dict[str, Any]: ...
    def buy(self, asset_id: str, amount: int = 1, max_price: str | None = None) -> dict[str, Any]: ...
    def access_balance(self, asset_id: str) -> int: ...
    def currency_units(self, address: str) -> tuple[str, int]: ...
    def provider_address(self, url: str) -> str: ...
    def candidates(self, asset_id: str) -> list[str]: ...
    def consume(self, asset_id: str, provider_url: str) -> tuple[str, str]: ...
    def digest(self, asset_id: str) -> tuple[str, bool]: ...
    def download(
        self,
        asset_id: str,
        provider_url: str,
        order_id: str,
        part: str | os.PathLike[str],
        progress: Callable[[int, int], None] | None = None,
    ) -> tuple[int, int]: ...
    def publish(
        self,
        path: str | os.PathLike[str],
        kind: str,
        price: str = "0",
        currency: str | None = None,
        splits: list[str] = ...,
        name: str | None = None,
        description: str = "",
        card: str | None = None,
        license: str | None = None,
        tags: list[str] = ...,
        sample: str | os.PathLike[str] | None = None,
        compute_only: bool = False,
        access_duration: int = 0,
        free_per_address: int = 0,
        encrypt: bool | None = None,
        providers: list[str] = ...,
        provider_custody: bool = False,
        pinning: str | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> dict[str, Any]: ...
    def submit_job(
        self,
        dataset: str,
        model: str,
        provider_url: str | None,
        spec: str,
        deadline_secs: int = 3600,
        max_price: str | None = None,
        max_total: str | None = None,
    ) -> str: ...
    def job_state(self, job_id: str, provider_url: str | None = None) -> str: ...
    def job_result(
        self, job_id: str, provider_url: str | None = None, output: str | os.PathLike[str] | None = None
    ) -> str: ...
    def verify_job(
        self,
        job_id: str,
        provider_url: str | None = None,
        dataset: str | os.PathLike[str] | None = None,
        work_dir: str | os.PathLike[str] | None = None,
    ) -> str: ...
    def ipfs_fetch(self, cid: str, sha256: str, dest: str | os.PathLike[str]) -> int: ...

def decrypt_keystore(path: str | os.PathLike[str], password: str) -> str: ...
def explain_revert(data: str, symbol: str = "ETH", decimals: int = 18) -> str: ...
def render_card(markdown: str) -> str: ...
def format_amount(amount: str, symbol: str, decimals: int) -> str: ...
