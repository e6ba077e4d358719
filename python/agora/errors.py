"""What can go wrong, as Python exceptions with the reason in words.

Every failure of the package is an :class:`AgoraError`. The subclasses also derive from the
built-in exception a Python user would catch for that kind of failure (``PermissionError``
for a refused read, ``FileNotFoundError`` for an unknown asset, ``ConnectionError`` for a
service that is down), so code written for other fsspec filesystems keeps working.

A revert of the protocol's contracts reads as the same sentence as in the CLI and the web hub
("price changed: you allowed 0.001 ETH, it is now 0.002 ETH"); ``error`` holds the name of the
contract's custom error (``Marketplace__PriceAboveMax``) when there is one.
"""

from __future__ import annotations


class AgoraError(Exception):
    """Any failure of the agora package."""

    #: The protocol's custom error behind a revert (``Marketplace__PriceAboveMax``), else None.
    error: str | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigurationError(AgoraError, ValueError):
    """A wrong argument: a malformed key or URL, a manifest for another chain, no account."""


class IndexerUnavailable(AgoraError, ConnectionError):
    """The indexer's API could not be reached or answered with a server error."""


class ProviderUnavailable(AgoraError, ConnectionError):
    """The provider could not be reached, or is not an Agora provider."""


class UnknownAsset(AgoraError, FileNotFoundError):
    """No asset with that id (or no such file in a model folder)."""


class AccessRefused(AgoraError, PermissionError):
    """Reading needs an access order this account does not have, or the provider refused it."""


class ContractError(AgoraError):
    """A transaction or call of the protocol failed; the message is the revert's sentence."""


class PriceChanged(ContractError):
    """The price rose above the ``max_price`` given (the slippage guard held)."""


class InsufficientPayment(ContractError):
    """The account cannot pay for the purchase (balance, or a payment that does not match)."""


class Delisted(ContractError):
    """The DAO delisted the asset: it cannot be bought."""


class DigestMismatch(AgoraError):
    """The bytes are not the ones whose sha-256 the chain records: nothing was returned or kept."""


class DownloadInterrupted(AgoraError):
    """The download broke off; what arrived is kept, and the next read resumes from it."""


class JobFailed(AgoraError):
    """The provider ended the job without a result (its reason in the message); the payment
    comes back with ``agora job refund`` once the deadline has passed."""


__all__ = [
    "AccessRefused",
    "AgoraError",
    "ConfigurationError",
    "ContractError",
    "Delisted",
    "DigestMismatch",
    "DownloadInterrupted",
    "IndexerUnavailable",
    "JobFailed",
    "InsufficientPayment",
    "PriceChanged",
    "ProviderUnavailable",
    "UnknownAsset",
]
