"""Compute jobs: a dataset and a model (or algorithm) run by a provider, paid through escrow.

:meth:`agora.Hub.run_job` prices the job and checks it before anything is signed (the provider
holds the keys of the private inputs, its service is up and is that provider, the spec is within
its limits), then opens it on the ComputeMarket, buying in the same transaction an access token
of each priced input the account holds none of, and sends the signed request to the provider.
The :class:`Job` it returns follows the job; its :meth:`~Job.result` is checked against the
chain (the provider's signed receipt, the output's hash) and :meth:`~Job.verify` re-executes it
on this machine and compares the output hash bit for bit, as ``agora job verify`` does.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import JobFailed, ProviderUnavailable

if TYPE_CHECKING:
    from .hub import Hub

#: How often :meth:`Job.wait` asks the provider.
POLL_SECONDS = 0.5


@dataclass(frozen=True)
class JobState:
    """A job as the chain and its provider see it."""

    job_id: int
    #: The ComputeMarket's status: ``open``, ``result posted``, ``finalized``, ``disputed``, …
    on_chain: str
    #: The provider's status: ``queued``, ``running``, ``succeeded``, ``failed``, ``cancelled``;
    #: None when the provider did not answer (``provider_error`` says why).
    status: str | None
    reason: str | None = None
    #: ``(phase, done, total)`` while it runs.
    progress: tuple[str, int, int] | None = None
    provider_error: str | None = None

    @property
    def running(self) -> bool:
        """Whether the provider has yet to end it."""
        return self.status in ("queued", "running")

    @classmethod
    def from_report(cls, report: dict[str, Any]) -> JobState:
        service = report.get("service") or {}
        progress = service.get("progress")
        return cls(
            job_id=int(report["jobId"]),
            on_chain=report["status"],
            status=service.get("status"),
            reason=service.get("reason"),
            progress=(str(progress["phase"]), int(progress["done"]), int(progress["total"])) if progress else None,
            provider_error=service.get("error"),
        )


@dataclass(frozen=True)
class JobResult:
    """A job's output, as the provider's signed receipt names it and the chain confirms."""

    job_id: int
    provider: str
    #: The output folder on IPFS and the hash over its files, the one posted on chain.
    output_cid: str
    output_hash: str
    input_cids: tuple[str, ...]
    runtime_version: str
    device: str
    cpu_features: str
    #: Where the files were fetched to (hash checked), when a path was given.
    path: Path | None = None
    files: tuple[str, ...] = ()


@dataclass(frozen=True)
class Verdict:
    """A local re-execution of a job against its posted output hash."""

    job_id: int
    #: Whether the re-execution reproduced the posted output bit for bit.
    matches: bool
    posted: str
    recomputed: str
    runtime_version: str
    cpu_features: str
    #: Whether the provider's receipt was checked, or why not.
    receipt: str = field(default="")


class Job:
    """One compute job: ``job.wait()``, ``job.result(path)``, ``job.verify()``."""

    def __init__(self, hub: Hub, job_id: int, provider: str | None = None, submitted: dict[str, Any] | None = None):
        self.hub = hub
        self.job_id = int(job_id)
        #: The provider's URL (its registered endpoint when None).
        self.provider = provider
        #: What :meth:`Hub.run_job` reported: inputs bought, payment escrowed, deadline, tx hash.
        self.submitted = submitted or {}

    def __repr__(self) -> str:
        return f"Job({self.job_id}, provider={self.provider!r})"

    def state(self) -> JobState:
        """The job on chain and at its provider, now."""
        return JobState.from_report(json.loads(self.hub._client.job_state(str(self.job_id), self.provider)))

    def wait(self, timeout: float | None = None, progress: bool = True) -> JobState:
        """Waits until the provider ends the job (or ``timeout`` seconds pass: the state then).

        With ``progress``, a tqdm bar shows the phase and its progress. A failed or cancelled job
        raises :class:`~agora.errors.JobFailed` with the provider's reason; its payment comes back
        with ``agora job refund`` after the deadline.
        """
        bar = None
        started = time.monotonic()
        try:
            while True:
                state = self.state()
                if state.status is None:
                    raise ProviderUnavailable(f"job {self.job_id}: {state.provider_error}")
                if progress:
                    bar = _show(bar, self.job_id, state)
                if not state.running:
                    break
                if timeout is not None and time.monotonic() - started >= timeout:
                    return state
                time.sleep(POLL_SECONDS)
        finally:
            if bar is not None:
                bar.close()
        if state.status != "succeeded":
            raise JobFailed(f"job {self.job_id} {state.status}: {state.reason or 'no reason given'}")
        return state

    def result(self, path: str | os.PathLike[str] | None = None) -> JobResult:
        """The job's result, its signed receipt checked against the chain; with ``path`` (an empty
        or new folder), its output files fetched from IPFS there and their hash checked."""
        out = Path(path) if path is not None else None
        report = json.loads(self.hub._client.job_result(str(self.job_id), self.provider, out))
        return JobResult(
            job_id=self.job_id,
            provider=report["provider"],
            output_cid=report["outputCid"],
            output_hash=report["outputHash"],
            input_cids=tuple(report["inputCids"]),
            runtime_version=report["runtimeVersion"],
            device=report["device"],
            cpu_features=report["cpuFeatures"],
            path=out,
            files=tuple(report["files"]),
        )

    def verify(
        self,
        dataset: str | os.PathLike[str] | None = None,
        work_dir: str | os.PathLike[str] | None = None,
    ) -> Verdict:
        """Re-executes the job here from its inputs and compares with the posted output hash.

        An encrypted dataset's plaintext is needed (IPFS holds only ciphertext): ``dataset`` is
        its path, checked against the chain; by default the copy this hub downloaded, when there
        is one. The owner of a private input re-executes with its own key copy.
        """
        plaintext = Path(dataset) if dataset is not None else self._cached_dataset()
        work = Path(work_dir) if work_dir is not None else None
        report = json.loads(self.hub._client.verify_job(str(self.job_id), self.provider, plaintext, work))
        return Verdict(
            job_id=self.job_id,
            matches=bool(report["matches"]),
            posted=report["posted"],
            recomputed=report["recomputed"],
            runtime_version=report["runtimeVersion"],
            cpu_features=report["cpuFeatures"],
            receipt=report["receipt"],
        )

    def _cached_dataset(self) -> Path | None:
        report = json.loads(self.hub._client.job_state(str(self.job_id), self.provider))
        digest, _ = self.hub._client.digest(report["datasetId"])
        blob = self.hub._blob(digest)
        return blob if blob.exists() else None


def _show(bar: Any, job_id: int, state: JobState) -> Any:
    """Updates (or opens) the progress bar for ``state``."""
    from tqdm.auto import tqdm

    if bar is None:
        bar = tqdm(desc=f"job {job_id}", unit="step")
    phase, done, total = state.progress or (state.status or "", 0, 0)
    bar.set_description(f"job {job_id} {phase}".rstrip())
    if total and bar.total != total:
        bar.reset(total=total)
    bar.update(done - bar.n)
    return bar
