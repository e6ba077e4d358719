"""Agora from Python: the decentralized hub's datasets and models in notebooks.

>>> from agora import Hub
>>> hub = Hub.local()                       # the stack `agora dev` started
>>> [a.name for a in hub.search("finch", kind="dataset")]
>>> hub.buy(12, max_price="0.01")           # one access token, paid to the asset's split
>>> import pandas as pd
>>> pd.read_csv("agora://12", storage_options={"auto_consume": True})
>>> job = hub.run_job("embed", dataset=12, model=7, text_field="text")
>>> job.wait(); job.result("embeddings/"); job.verify().matches

Everything on chain, at the indexer and at providers goes through the Rust clients the CLI
uses (``agora._agora``); content is checked against the sha-256 the chain records before a
byte is returned. Failures are :mod:`agora.errors` exceptions, in words.
"""

from . import errors
from ._agora import explain_revert
from .aio import AsyncHub
from .hub import Asset, Hub
from .job import Job, JobResult, JobState, Verdict

__all__ = ["Asset", "AsyncHub", "Hub", "Job", "JobResult", "JobState", "Verdict", "errors", "explain_revert"]
