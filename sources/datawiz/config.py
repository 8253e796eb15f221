"""Datawiz's resolved configuration: what `session()` and the reads need for one run."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from sources.common.http import HttpPolicy
from sources.common.oauth import PasswordGrant

log = logging.getLogger("sources.datawiz")


class BuilderHost:
    """Which configured host serves the builder, learnt once per run (see module doc)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.url: str | None = None

    def candidates(self, api_url: str, bi_url: str) -> list[str]:
        with self._lock:
            return [self.url] if self.url else [api_url, bi_url]

    def found(self, url: str, api_url: str) -> None:
        with self._lock:
            if self.url is None:
                self.url = url
                where = "api_url" if url == api_url else "bi_url (api_url answered 404)"
                log.info("datawiz: the builder answers at %s: %s", where, url)


@dataclass(frozen=True)
class DatawizConfig:
    grant: PasswordGrant
    account_id: str
    token_url: str
    api_url: str
    bi_url: str
    page_size: int
    page_concurrency: int
    http: HttpPolicy
    builder: BuilderHost = field(default_factory=BuilderHost, compare=False)
