"""``agora://``: Agora assets as an fsspec filesystem, for pandas, PyArrow and Hugging Face
``datasets``.

Paths are ``agora://<asset id>`` for an asset's content and ``agora://<asset id>/<file>`` for
one file of a model folder. Options come through ``storage_options`` like s3fs's:

- ``key`` / ``keystore`` + ``password``: the account (else ``AGORA_PRIVATE_KEY``);
- ``rpc_url``, ``indexer_url``, ``manifest``, ``ipfs_api``: the deployment (else the
  ``AGORA_*`` variables, else the running ``agora dev``'s session);
- ``provider``: the provider URL reads go through;
- ``auto_consume``: allow a read to spend an access token the account holds (default False:
  a read without an access order raises ``PermissionError`` saying what the asset costs).

Content is verified against the chain's sha-256 before any byte is returned (see
:mod:`agora.hub`), and kept in the local cache, so re-reads and ranged reads cost nothing.
"""

from __future__ import annotations

import os
from typing import Any

from fsspec.spec import AbstractFileSystem

from .errors import UnknownAsset
from .hub import Hub, dev_session_path

#: Options fsspec itself gives every filesystem.
_FSSPEC_OPTIONS = {"skip_instance_cache", "use_listings_cache", "listings_expiry_time"}

_HUB_OPTIONS = ("rpc_url", "indexer_url", "manifest", "key", "keystore", "password", "ipfs_api", "cache_dir")


class AgoraFileSystem(AbstractFileSystem):
    """Agora assets as read-only files (``protocol = "agora"``)."""

    protocol = "agora"
    root_marker = ""

    def __init__(self, *, provider: str | None = None, auto_consume: bool = False, **options: Any) -> None:
        super().__init__(provider=provider, auto_consume=auto_consume, **options)
        self.auto_consume = auto_consume
        hub_options = {k: v for k, v in options.items() if k in _HUB_OPTIONS and v is not None}
        # Other protocols' option dicts ride along in shared storage_options (datasets adds "hf").
        unknown = {k for k, v in options.items() if not isinstance(v, dict)} - set(_HUB_OPTIONS) - _FSSPEC_OPTIONS
        if unknown:
            raise TypeError(f"agora:// does not take {sorted(unknown)}")
        configured = all(hub_options.get(k) or os.environ.get(f"AGORA_{k.upper()}") for k in ("rpc_url", "indexer_url", "manifest"))
        if configured or not dev_session_path().exists():
            self.hub = Hub(
                hub_options.pop("rpc_url", None), hub_options.pop("indexer_url", None), provider=provider, **hub_options
            )
        else:
            self.hub = Hub.local(**({"provider": provider} if provider else {}), **hub_options)

    @classmethod
    def _strip_protocol(cls, path: str) -> str:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]  # type: ignore[return-value]
        path = str(path)
        if path.startswith("agora://"):
            path = path[len("agora://") :]
        return path.strip("/")

    def _split(self, path: str) -> tuple[int, str | None]:
        stripped = self._strip_protocol(path)
        head, _, rest = stripped.partition("/")
        try:
            asset_id = int(head)
        except ValueError:
            raise UnknownAsset(f"agora://{stripped}: an Agora path starts with an asset id, e.g. agora://12") from None
        if asset_id < 0:
            raise UnknownAsset(f"agora://{stripped}: asset ids are positive")
        return asset_id, rest or None

    def _read_options(self) -> dict[str, Any]:
        return {"auto_consume": self.auto_consume}

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        asset_id, inner = self._split(path)
        asset = self.hub.asset(asset_id)
        name = f"{asset_id}"
        if inner is None:
            if asset.is_model_folder:
                return {"name": name, "size": 0, "type": "directory", "asset": asset}
            return {"name": name, "size": asset.size, "type": "file", "sha256": asset.digest, "asset": asset}
        if not asset.is_model_folder:
            raise UnknownAsset(f"agora://{asset_id} is a file, not a model folder: it has no {inner!r}")
        for entry in self.hub.model_files(asset_id, **self._read_options()):
            if entry["name"] == inner:
                return {"name": f"{name}/{inner}", "size": None, "type": "file", "sha256": entry["sha256"]}
        raise UnknownAsset(f"model {asset_id} has no file {inner!r}")

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        asset_id, inner = self._split(path)
        info = self.info(str(asset_id))
        if inner is not None or info["type"] == "file":
            entries = [self.info(path)]
        else:
            entries = [
                {"name": f"{asset_id}/{e['name']}", "size": None, "type": "file", "sha256": e["sha256"]}
                for e in self.hub.model_files(asset_id, **self._read_options())
            ]
        return entries if detail else [e["name"] for e in entries]

    def _local(self, path: str) -> str:
        asset_id, inner = self._split(path)
        return os.fspath(self.hub.local_copy(asset_id, inner, **self._read_options()))

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        if mode not in ("rb", "r"):
            raise PermissionError(f"agora:// is read-only: cannot open {path} with mode {mode!r} (publish with hub.publish)")
        return open(self._local(path), "rb")

    def cat_file(self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any) -> bytes:
        with open(self._local(path), "rb") as file:
            size = os.fstat(file.fileno()).st_size
            begin = 0 if start is None else (start if start >= 0 else max(size + start, 0))
            stop = size if end is None else (end if end >= 0 else max(size + end, 0))
            file.seek(begin)
            return file.read(max(stop - begin, 0))
