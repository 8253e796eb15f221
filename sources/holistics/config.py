"""Holistics' resolved configuration: what `session()` and the reads need for one run."""

from __future__ import annotations

from dataclasses import dataclass, field

from sources.common.http import HttpPolicy

REGIONS = {
    "apac": "https://secure.holistics.io/api/v2",
    "eu": "https://eu.holistics.io/api/v2",
    "us": "https://us.holistics.io/api/v2",
}
DEFAULT_BASE_URL = REGIONS["apac"]
MAX_PAGE = 100


@dataclass(frozen=True)
class HolisticsConfig:
    api_key: str
    base_url: str
    page_size: int = MAX_PAGE
    job_timeout: float = 1800.0
    poll_interval: float = 1.0
    http: HttpPolicy = field(default_factory=HttpPolicy)
