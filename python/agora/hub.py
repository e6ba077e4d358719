"""`Hub`: one Agora deployment seen from Python, as one account.

Reads go through a local cache of verified content: an asset's bytes are streamed from a
provider once (resumed with ``Range`` after a drop), checked against the sha-256 recorded on
chain, and kept under their digest, like the Hugging Face Hub's cache. A byte range of an
asset is read from that copy, because only the whole content can be checked against the
chain's digest: no unverified byte is ever returned.

Reading never spends money on its own. It uses an access order the account already has for
the provider (one spent by :meth:`Hub.consume`, or a timed order still running); otherwise it
raises :class:`~agora.errors.AccessRefused` saying what the asset costs and how to get access,
unless ``auto_consume=True`` allows it to spend an access token the account holds.
"""

from __future__ import annotations

import contextlib
import fcntl
import html
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Callable

from . import _agora
from .errors import AccessRefused, ConfigurationError, DownloadInterrupted, ProviderUnavailable, UnknownAsset
from .job import Job

if TYPE_CHECKING:
    from .aio import AsyncHub

#: Where `agora dev` describes the stack it started (URLs, manifest, a funded dev key).
DEV_SESSION_ENV = "AGORA_DEV_SESSION"

#: The file name a model folder's manifest is published as.
MODEL_MANIFEST = "manifest.json"


def _state_home() -> Path:
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")


def dev_session_path() -> Path:
    """Where `agora dev` writes its session: ``$AGORA_DEV_SESSION``, else ``$XDG_STATE_HOME/agora/dev.json``."""
    return Path(os.environ.get(DEV_SESSION_ENV) or _state_home() / "agora" / "dev.json")


def _cache_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "agora" / "python"


@dataclass(frozen=True)
class Asset:
    """One asset of the catalogue, as the indexer mirrors it from the chain and IPFS."""

    asset_id: int
    name: str
    kind: str
    owner: str
    #: The unit price in the currency's base units (wei for ETH); None when not for sale.
    price: int | None
    #: The currency's address; the zero address for ETH.
    currency: str | None
    digest: str
    version: int
    encrypted: bool | None
    compute_only: bool
    delisted: bool
    #: Seconds an access order lasts; 0 for a single-use order.
    access_duration: int
    sales: int
    jobs: int
    description: str = ""
    card: str | None = None
    license: str | None = None
    tags: tuple[str, ...] = ()
    #: The content's size in bytes and file name, as its metadata says.
    size: int | None = None
    file_name: str | None = None
    #: The revenue split, ``(recipient, basis points)``, when read with :meth:`Hub.asset`.
    split: tuple[tuple[str, int], ...] = ()
    #: The currency's symbol and decimals (read from the token for an ERC-20).
    units: tuple[str, int] = ("ETH", 18)
    metadata: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(
        cls,
        row: dict[str, Any],
        split: list[dict[str, Any]] | None = None,
        units: tuple[str, int] = ("ETH", 18),
    ) -> Asset:
        meta = row.get("metadata") or {}
        content = meta.get("content") or {}
        text = lambda key: meta[key] if isinstance(meta.get(key), str) else None  # noqa: E731
        tags = tuple(t for t in meta.get("tags") or () if isinstance(t, str))[:20]
        return cls(
            asset_id=int(row["assetId"]),
            name=text("name") or f"Asset {row['assetId']}",
            kind=row["kind"],
            owner=row["owner"],
            price=int(row["price"]) if row.get("price") is not None else None,
            currency=row.get("currency"),
            digest=row["contentDigest"],
            version=row["version"],
            encrypted=row.get("encrypted"),
            compute_only=row["computeOnly"],
            delisted=row["delisted"],
            access_duration=row["accessDuration"],
            sales=row["totalSales"],
            jobs=row["totalJobs"],
            description=text("description") or "",
            card=text("card"),
            license=text("license"),
            tags=tags,
            size=content.get("size") if isinstance(content.get("size"), int) else None,
            file_name=content.get("fileName") if isinstance(content.get("fileName"), str) else None,
            split=tuple((s["recipient"], int(s["bps"])) for s in split or ()),
            units=units,
            metadata=meta,
        )

    @property
    def free(self) -> bool:
        """Whether an access token costs nothing."""
        return not self.price

    @property
    def is_model_folder(self) -> bool:
        """Whether the content is a model folder's manifest (files read as ``agora://id/name``)."""
        return self.kind == "model" and self.file_name == MODEL_MANIFEST

    def price_text(self) -> str:
        """The price in words: ``free``, ``0.01 ETH``, ``2.5 mUSD``."""
        if self.price is None:
            return "not for sale"
        if self.price == 0:
            return "free"
        symbol, decimals = self.units
        return _agora.format_amount(str(self.price), symbol, decimals)

    def _repr_html_(self) -> str:
        e = html.escape
        badges = [e(self.kind)]
        if self.encrypted:
            badges.append("encrypted")
        if self.compute_only:
            badges.append("compute-only")
        if self.delisted:
            badges.append("delisted")
        split = "".join(
            f"<li><code>{e(who)}</code> {bps / 100:g}%</li>" for who, bps in self.split
        )
        card = _agora.render_card(self.card or self.description) if (self.card or self.description) else ""
        return (
            f'<div class="agora-asset" style="border:1px solid #ccc;border-radius:6px;padding:0.8em;max-width:48em">'
            f"<h3 style='margin-top:0'>{e(self.name)} <small>asset {self.asset_id}</small></h3>"
            f"<p>{' · '.join(badges)} · <b>{e(self.price_text())}</b> · {self.sales} sales · {self.jobs} jobs"
            f" · version {self.version}</p>"
            f"<p>owner <code>{e(self.owner)}</code><br>sha-256 <code>{e(self.digest)}</code></p>"
            + (f"<p>revenue split</p><ul>{split}</ul>" if split else "")
            + (f"<div class='agora-card'>{card}</div>" if card else "")
            + "</div>"
        )


class Hub:
    """An Agora deployment: its chain, indexer, providers and IPFS, as one account.

    ``key`` is a 0x-prefixed private key; ``keystore`` (with ``password``, or the
    ``AGORA_KEYSTORE_PASSWORD`` variable) a geth-style JSON keystore; without either,
    ``AGORA_PRIVATE_KEY`` is read, and without that the hub is read-only. The key is never
    printed. ``provider`` is the provider URL reads go through (default: per asset, the best
    active provider holding its key, healthy first, largest stake first, as the CLI chooses);
    ``ipfs_api`` Kubo's RPC API, for the files of model folders and for that choice.
    """

    def __init__(
        self,
        rpc_url: str | None = None,
        indexer_url: str | None = None,
        *,
        manifest: str | os.PathLike[str] | None = None,
        key: str | None = None,
        keystore: str | os.PathLike[str] | None = None,
        password: str | None = None,
        provider: str | None = None,
        ipfs_api: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        rpc_url = rpc_url or os.environ.get("AGORA_RPC_URL")
        indexer_url = indexer_url or os.environ.get("AGORA_INDEXER_URL")
        manifest = manifest or os.environ.get("AGORA_MANIFEST")
        if not rpc_url or not indexer_url or not manifest:
            raise ConfigurationError(
                "Hub needs rpc_url, indexer_url and manifest (or AGORA_RPC_URL, AGORA_INDEXER_URL, "
                "AGORA_MANIFEST); Hub.local() reads them from a running `agora dev`"
            )
        if key is None and keystore is not None:
            secret = password if password is not None else os.environ.get("AGORA_KEYSTORE_PASSWORD")
            if secret is None:
                raise ConfigurationError("keystore needs password=… or AGORA_KEYSTORE_PASSWORD")
            key = _agora.decrypt_keystore(os.fspath(keystore), secret)
        if key is None:
            key = os.environ.get("AGORA_PRIVATE_KEY")
        self._client = _agora.Client(rpc_url, indexer_url, os.fspath(manifest), key, ipfs_api)
        self.provider = provider or os.environ.get("AGORA_PROVIDER_URL")
        self.cache_dir = Path(cache_dir) if cache_dir else _cache_home()
        self._currencies: dict[str, tuple[str, int]] = {}

    @classmethod
    def local(cls, session: str | os.PathLike[str] | None = None, **overrides: Any) -> Hub:
        """The stack a running ``agora dev`` started, as its funded dev consumer account."""
        path = Path(session) if session else dev_session_path()
        try:
            described = json.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigurationError(f"no `agora dev` is running: {path} does not exist (start it with ./scripts/dev.sh)") from None
        except (OSError, ValueError) as err:
            raise ConfigurationError(f"{path} is not an `agora dev` session: {err}") from None
        options: dict[str, Any] = {
            "manifest": described.get("manifest"),
            "key": described.get("consumerKey"),
            "provider": described.get("providerUrl"),
            "ipfs_api": described.get("ipfsApi"),
        }
        options.update(overrides)
        return cls(described.get("rpcUrl"), described.get("indexerUrl"), **options)

    def __repr__(self) -> str:
        return f"Hub(chain {self.chain_id}, account {self.address or 'none (read-only)'})"

    @property
    def address(self) -> str | None:
        """The account's address, or None for a read-only hub."""
        return self._client.address

    @property
    def chain_id(self) -> int:
        """The deployment's chain id."""
        return self._client.chain_id

    # --- reading the catalogue -------------------------------------------------------------

    def search(
        self,
        query: str | None = None,
        *,
        kind: str | None = None,
        free: bool | None = None,
        encrypted: bool | None = None,
        compute_only: bool | None = None,
        tag: str | None = None,
        owner: str | None = None,
        sort: str | None = None,
        limit: int = 20,
    ) -> list[Asset]:
        """Assets matching ``query`` (names, descriptions, cards) and the filters, best first."""
        params = {
            "q": query,
            "kind": kind,
            "priced": None if free is None else not free,
            "encrypted": encrypted,
            "compute_only": compute_only,
            "tag": tag,
            "owner": owner,
            "sort": sort,
            "limit": str(limit),
        }
        page = json.loads(self._client.assets(json.dumps({k: v for k, v in params.items() if v is not None})))
        return [Asset.from_api(row, units=self._units(row.get("currency"))) for row in page["items"]]

    def asset(self, asset_id: int) -> Asset:
        """One asset, with its revenue split."""
        detail = json.loads(self._client.asset(str(asset_id)))
        return Asset.from_api(detail, detail.get("split"), self._units(detail.get("currency")))

    def quote(self, asset_id: int, amount: int = 1) -> dict[str, Any]:
        """What ``amount`` access tokens cost this account now (``cost``, ``free``, ``text``, …)."""
        return self._client.quote(str(asset_id), amount)

    # --- access ----------------------------------------------------------------------------

    def buy(self, asset_id: int, amount: int = 1, max_price: str | None = None) -> dict[str, Any]:
        """Buys ``amount`` access tokens, paying at most ``max_price`` a token (in the
        currency's units, e.g. ``"0.01"``; the listed price when None). ERC-20 prices are paid
        with an EIP-2612 permit: one signature and one transaction."""
        return self._client.buy(str(asset_id), amount, max_price)

    def access_tokens(self, asset_id: int) -> int:
        """Access tokens of the asset this account holds."""
        return self._client.access_balance(str(asset_id))

    def consume(self, asset_id: int, provider: str | None = None) -> int:
        """Spends one access token for ``provider``: the access order reads then use."""
        url = self._provider_url(provider, asset_id)
        order, provider_address = self._client.consume(str(asset_id), url)
        self._orders().remember(asset_id, provider_address, int(order))
        return int(order)

    # --- publishing ------------------------------------------------------------------------

    def publish(
        self,
        path: str | os.PathLike[str],
        *,
        kind: str = "dataset",
        price: str | int | float = "0",
        currency: str | None = None,
        splits: dict[str, int] | list[tuple[str, int]] | None = None,
        name: str | None = None,
        description: str = "",
        card: str | os.PathLike[str] | None = None,
        license: str | None = None,
        tags: list[str] | tuple[str, ...] = (),
        sample: str | os.PathLike[str] | None = None,
        compute_only: bool = False,
        access_duration: int = 0,
        free_per_address: int = 0,
        encrypt: bool | None = None,
        providers: list[str] | tuple[str, ...] = (),
        provider_custody: bool = False,
        pinning: dict[str, Any] | None = None,
        progress: bool = True,
    ) -> dict[str, Any]:
        """Publishes a file, or a folder as a model, exactly as ``agora asset publish`` does.

        ``price`` is in the currency's units (``"0.01"`` ETH, or an ERC-20 ``currency``'s).
        Priced and compute-only content is encrypted before it reaches IPFS, its key wrapped for
        this account and the providers named in ``providers`` (URLs), or else every active
        provider; ``encrypt=True`` encrypts a free asset too, ``encrypt=False`` publishes a priced
        one in the clear (anyone could then read it without paying). ``splits`` shares the sales
        (``{address: basis points}``, summing to 10000). ``card`` is Markdown (text, or a path
        to a file), ``sample`` a CSV, JSONL or Parquet file whose first rows are shown publicly.
        ``pinning`` has the asset kept by IPFS pinning services before it is minted, as a
        network's ``[pinning]`` table does for the CLI: ``{"replicas": 1, "wait_secs": 600,
        "services": [{"name": "archive", "endpoint": "https://…/pinning", "key": token}]}``
        (a service given by ``name`` alone must be configured in the Kubo node); when fewer
        than ``replicas`` report every CID pinned, nothing goes on chain. The result's
        ``replicas`` says what each service answered.
        """
        shares = splits.items() if isinstance(splits, dict) else (splits or [])
        card_text = Path(card).read_text() if isinstance(card, os.PathLike) else card
        source = Path(path)
        if source.is_dir():
            total: int | None = sum(f.stat().st_size for f in source.iterdir() if f.is_file())
        else:
            total = source.stat().st_size if source.is_file() else None
        bar = _progress_bar(f"publishing {source.name}", total) if progress else None
        try:
            return self._client.publish(
                source,
                kind,
                str(price),
                currency,
                [f"{address}:{bps}" for address, bps in shares],
                name,
                description,
                card_text,
                license,
                list(tags),
                Path(sample) if sample is not None else None,
                compute_only,
                access_duration,
                free_per_address,
                encrypt,
                list(providers),
                provider_custody,
                json.dumps(pinning) if pinning is not None else None,
                (lambda done: bar(done, bar.total or done)) if bar is not None else None,
            )
        finally:
            if bar is not None:
                bar.close()

    # --- reading content -------------------------------------------------------------------

    def download(
        self,
        asset_id: int,
        path: str | os.PathLike[str],
        provider: str | None = None,
        *,
        auto_consume: bool = False,
        progress: bool = True,
    ) -> Path:
        """Writes the asset's content to ``path``, checked against the chain's sha-256."""
        target = Path(path)
        if target.exists():
            raise FileExistsError(f"{target} already exists")
        local = self.local_copy(asset_id, provider=provider, auto_consume=auto_consume, progress=progress)
        tmp = target.with_name(target.name + ".part")
        with open(local, "rb") as src, open(tmp, "wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
        tmp.replace(target)
        return target

    def open(
        self,
        asset_id: int,
        path_in_folder: str | None = None,
        *,
        provider: str | None = None,
        auto_consume: bool = False,
        progress: bool = False,
    ) -> IO[bytes]:
        """The asset's content (or one file of a model folder) as a seekable binary file."""
        local = self.local_copy(
            asset_id, path_in_folder, provider=provider, auto_consume=auto_consume, progress=progress
        )
        return open(local, "rb")

    def model_files(self, asset_id: int, **read: Any) -> list[dict[str, Any]]:
        """A model folder's files as its manifest lists them (``name``, ``cid``, ``sha256``)."""
        manifest = self.local_copy(asset_id, **read)
        try:
            files = json.loads(manifest.read_text())["files"]
        except (ValueError, KeyError, UnicodeDecodeError):
            raise UnknownAsset(f"asset {asset_id} is not a model folder") from None
        return [f for f in files if isinstance(f, dict) and isinstance(f.get("name"), str)]

    def local_copy(
        self,
        asset_id: int,
        path_in_folder: str | None = None,
        *,
        provider: str | None = None,
        auto_consume: bool = False,
        progress: bool | Callable[[int, int], None] = False,
    ) -> Path:
        """The verified local copy of the asset's content (or of one file of its model folder),
        fetched once and kept under its sha-256 in ``cache_dir``."""
        if path_in_folder:
            files = self.model_files(asset_id, provider=provider, auto_consume=auto_consume, progress=progress)
            entry = next((f for f in files if f["name"] == path_in_folder.strip("/")), None)
            if entry is None:
                names = ", ".join(f["name"] for f in files)
                raise UnknownAsset(f"model {asset_id} has no file {path_in_folder!r} (it has {names})")
            if entry.get("encryption"):
                raise AccessRefused(
                    f"model {asset_id} is private: its files are sealed for the providers trusted with its key, "
                    "which use it in compute jobs; its files are never handed out"
                )
            blob = self._blob(entry["sha256"])
            with _exclusive(blob):
                if not blob.exists():
                    part = blob.with_name(blob.name + ".part")
                    self._client.ipfs_fetch(entry["cid"], entry["sha256"], part)
                    part.replace(blob)
            return blob

        digest, compute_only = self._client.digest(str(asset_id))
        if compute_only:
            raise AccessRefused(
                f"asset {asset_id} is compute-only: its content never leaves a provider (run a job on it)"
            )
        blob = self._blob(digest)
        if blob.exists():
            return blob
        # One download per digest at a time, across threads and processes: the others wait for
        # it and read the copy it leaves (or try themselves if it failed).
        with _exclusive(blob):
            if blob.exists():
                return blob
            return self._fetch(asset_id, blob, provider, auto_consume, progress)

    def _fetch(
        self,
        asset_id: int,
        blob: Path,
        provider: str | None,
        auto_consume: bool,
        progress: bool | Callable[[int, int], None],
    ) -> Path:
        """Downloads the asset into ``blob`` with an order this account may use: from
        ``provider`` (or the hub's), else from the best provider for it, falling over to the next
        when one does not answer or breaks off (the ``.part`` file resumes there with ``Range``;
        an order is bound to its provider, so the next one needs another access token)."""
        url = provider or self.provider
        if url:
            return self._fetch_from(asset_id, blob, url, auto_consume, progress)
        failures = []
        for url in self._client.candidates(str(asset_id)):
            try:
                return self._fetch_from(asset_id, blob, url, auto_consume, progress)
            except (ProviderUnavailable, DownloadInterrupted) as err:
                failures.append(f"{url}: {err}")
        if not failures:
            raise ConfigurationError(
                f"no active provider can serve asset {asset_id} (none holds its key): pass provider=… (its URL)"
            )
        raise ProviderUnavailable(f"no provider could serve asset {asset_id}: " + "; ".join(failures))

    def _fetch_from(
        self,
        asset_id: int,
        blob: Path,
        url: str,
        auto_consume: bool,
        progress: bool | Callable[[int, int], None],
    ) -> Path:
        """Downloads the asset into ``blob`` from the provider at ``url``."""
        provider_address = self._client.provider_address(url).lower()
        orders = self._orders()
        part = blob.with_name(blob.name + ".part")
        callback = _progress_bar(f"asset {asset_id}") if progress is True else (progress or None)

        def fetch(order: int) -> Path:
            self._client.download(str(asset_id), url, str(order), part, callback)
            orders.forget(asset_id, provider_address, order)
            part.replace(blob)
            return blob

        try:
            for order in self._usable_orders(asset_id, provider_address):
                try:
                    return fetch(order)
                except AccessRefused:
                    # Served already, expired, or not this account's: try the next one.
                    orders.forget(asset_id, provider_address, order)
            if not auto_consume:
                raise AccessRefused(self._no_access(asset_id))
            return fetch(self.consume(asset_id, url))
        finally:
            if callback is not None and hasattr(callback, "close"):
                callback.close()

    def run_job(
        self,
        kind: str | None = None,
        *,
        dataset: int,
        model: int,
        provider: str | None = None,
        spec: dict[str, Any] | None = None,
        deadline: int = 3600,
        max_price: str | None = None,
        max_total: str | None = None,
        **options: Any,
    ) -> Job:
        """Runs a compute job over ``dataset`` with ``model`` (or an algorithm asset) at
        ``provider`` (its URL; the hub's provider by default; with neither, the best provider
        that takes the job, as ``agora job submit`` chooses without ``--provider``) and returns
        its :class:`Job`.

        What runs is ``kind`` with ``options`` (``run_job("embed", dataset=3, model=4,
        text_field="text")``), or a whole runtime ``spec`` dict. Before anything is signed the
        job is checked and priced; an access token of each priced input this account holds none
        of is bought in the same transaction as the job opens, and the provider's price (at most
        ``max_price``) is escrowed until the result is final. ``max_total`` refuses a job that
        costs more in all (raising :class:`~agora.errors.PriceChanged`). The provider has
        ``deadline`` seconds of chain time to post a result.
        """
        if spec is None:
            if kind is None:
                raise ConfigurationError("run_job needs a kind (e.g. 'embed') or a whole spec")
            spec = {"kind": kind, **options}
        elif kind is not None or options:
            raise ConfigurationError("give either kind with its options or a whole spec, not both")
        url = provider or self.provider
        report = json.loads(
            self._client.submit_job(
                str(dataset), str(model), url, json.dumps(spec), deadline, max_price, max_total
            )
        )
        return Job(self, int(report["jobId"]), url or report["providerUrl"], report)

    def job(self, job_id: int, provider: str | None = None) -> Job:
        """Job ``job_id``, to follow, fetch or verify (its provider's registered endpoint unless
        ``provider`` gives its URL)."""
        return Job(self, job_id, provider)

    @property
    def aio(self) -> AsyncHub:
        """This hub's calls as coroutines (``await hub.aio.buy(12)``)."""
        from .aio import AsyncHub

        return AsyncHub(self)

    # --- helpers ---------------------------------------------------------------------------

    def _units(self, currency: str | None) -> tuple[str, int]:
        """A currency's symbol and decimals, read from the token once per hub."""
        if not currency or int(currency, 16) == 0:
            return ("ETH", 18)
        key = currency.lower()
        if key not in self._currencies:
            self._currencies[key] = self._client.currency_units(currency)
        return self._currencies[key]

    def _blob(self, digest: str) -> Path:
        folder = self.cache_dir / "blobs"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / digest.lower().removeprefix("0x")

    def _orders(self) -> _Orders:
        return _Orders(self.cache_dir / f"orders-{self.chain_id}-{(self.address or 'none').lower()}.json")

    def _provider_url(self, provider: str | None, asset_id: int) -> str:
        """``provider``, else the hub's, else the best provider for the asset by the rule every
        surface follows: active on the ComputeMarket, holding the asset's key when it is
        encrypted, answering ``/health`` first, largest stake first."""
        url = provider or self.provider
        if url:
            return url
        ranked = self._client.candidates(str(asset_id))
        if ranked:
            return ranked[0]
        raise ConfigurationError(
            f"no active provider can serve asset {asset_id} (none holds its key): pass provider=… (its URL)"
        )

    def _usable_orders(self, asset_id: int, provider_address: str) -> list[int]:
        """Orders this account may still download with from that provider: the ones spent
        here and not yet used up, then timed orders still running (as the indexer lists them)."""
        found = list(self._orders().pending(asset_id, provider_address))
        if self.address is None:
            return found
        now = time.time()
        listed = json.loads(self._client.orders(self.address))["items"]
        for row in listed:
            if (
                int(row["assetId"]) == asset_id
                and row["provider"].lower() == provider_address
                and row["expiresAt"] > now
                and int(row["orderId"]) not in found
            ):
                found.append(int(row["orderId"]))
        return found

    def _no_access(self, asset_id: int) -> str:
        held = self.access_tokens(asset_id) if self.address else 0
        if held:
            return (
                f"no access order for asset {asset_id}: you hold {held} access token(s); reading never "
                f"spends one on its own: pass auto_consume=True, or call hub.consume({asset_id}) first"
            )
        quote = self.quote(asset_id)
        cost = "free" if quote["cost"] == 0 else f"{quote['text']} an access token"
        return (
            f"no access to asset {asset_id}: it costs {cost}; buy one with hub.buy({asset_id}), then read "
            f"with auto_consume=True (or call hub.consume({asset_id}))"
        )


class _Orders:
    """Access orders spent on this machine and not used up yet, per account and chain: a
    single-use order's download may be resumed, so it is remembered until it completes."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> list[dict[str, Any]]:
        try:
            rows = json.loads(self.path.read_text())
            return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []
        except (OSError, ValueError):
            return []

    def _write(self, rows: list[dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(rows))
        tmp.replace(self.path)

    def pending(self, asset_id: int, provider: str) -> list[int]:
        return [
            int(r["order"])
            for r in self._read()
            if r.get("asset") == asset_id and str(r.get("provider", "")).lower() == provider.lower()
        ]

    def remember(self, asset_id: int, provider: str, order: int) -> None:
        with _exclusive(self.path):
            rows = self._read()
            rows.append({"asset": asset_id, "provider": provider.lower(), "order": order})
            self._write(rows)

    def forget(self, asset_id: int, provider: str, order: int) -> None:
        def same(r: dict[str, Any]) -> bool:
            return (
                r.get("asset") == asset_id
                and str(r.get("provider", "")).lower() == provider.lower()
                and r.get("order") == order
            )

        with _exclusive(self.path):
            self._write([r for r in self._read() if not same(r)])


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """Holds an exclusive lock on ``path``'s ``.lock`` file (flock: threads and processes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _progress_bar(description: str, total: int | None = None) -> Any:
    """A tqdm bar in bytes, fed with (done, total) reports; ``close()`` ends it."""
    from tqdm.auto import tqdm

    bar = tqdm(unit="B", unit_scale=True, unit_divisor=1024, desc=description, total=total)

    class Report:
        total = bar.total

        def __call__(self, done: int, total: int) -> None:
            if bar.total != total:
                bar.total = total
            bar.update(done - bar.n)

        def close(self) -> None:
            bar.close()

    return Report()
