"""Kissmetrics' resolved configuration: what `session()` and the reads need for one run."""

from __future__ import annotations

from dataclasses import dataclass

from sources.common.http import HttpPolicy


@dataclass(frozen=True)
class KissmetricsConfig:
    api_token: str
    api_url: str
    query_url: str
    page_size: int
    page_concurrency: int
    job_timeout: float
    poll_interval: float
    http: HttpPolicy
