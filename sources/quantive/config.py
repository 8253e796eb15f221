"""Quantive's resolved configuration: what `session()` and the reads need for one run."""

from __future__ import annotations

from dataclasses import dataclass

from sources.common.http import HttpPolicy

DEFAULT_BASE_URL = "https://app.quantive.com/results/api"


@dataclass(frozen=True)
class QuantiveConfig:
    access_token: str
    account_id: str
    base_url: str
    page_size: int
    concurrency: int
    http: HttpPolicy
