"""`[sources.datawiz]`: every setting of the source, its type and default, written once."""

import logging
import threading
from typing import Any, ClassVar

from dlt.common.configuration import configspec
from dlt.common.typing import TSecretStrValue

from sources.common.config import VendorConfiguration
from sources.common.errors import ConfigError, config_key_help
from sources.common.oauth import PasswordGrant
from sources.common.settings import require_positive, require_secret, require_url

SOURCE = "datawiz"
SECRETS = ("client_id", "client_secret", "username", "password")

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


@configspec
class DatawizConfig(VendorConfiguration):
    """Validated when resolved; `grant` and `builder` are what one run's session shares."""

    source_name: ClassVar[str] = SOURCE
    client_id: TSecretStrValue = None
    client_secret: TSecretStrValue = None
    username: TSecretStrValue = None
    password: TSecretStrValue = None
    account_id: TSecretStrValue = None
    token_url: str = "https://bes.datawiz.io/o/token/"
    api_url: str = "https://api-new.datawiz.io"
    bi_url: str = "https://bi-new.datawiz.io"
    tables: list[dict[str, Any]] | None = None
    reports: list[dict[str, Any]] | None = None
    start_date: str | None = None
    lookback_days: int = 3
    chunk_days: int = 7
    time_zone: str = "UTC"
    page_size: int = 1000
    concurrency: int = 4
    page_concurrency: int = 4

    def validate(self) -> None:
        for key in SECRETS:
            setattr(self, key, require_secret(SOURCE, key, getattr(self, key)))
        self.account_id = require_secret(SOURCE, "account_id", self.account_id)
        if not self.account_id.isdigit():
            raise ConfigError(
                "account_id must be the numeric client-id your administrator gave you",
                source=SOURCE,
                hint=config_key_help(SOURCE, "account_id", secret=True),
            )
        token = require_url(SOURCE, "token_url", self.token_url)
        if str(self.token_url).strip().endswith("/"):
            token += "/"  # the documented endpoint is /o/token/ (Django redirects without it)
        self.token_url = token
        self.api_url = require_url(SOURCE, "api_url", self.api_url)
        self.bi_url = require_url(SOURCE, "bi_url", self.bi_url)
        self.page_size = int(require_positive(SOURCE, "page_size", self.page_size))
        self.page_concurrency = int(
            require_positive(SOURCE, "page_concurrency", self.page_concurrency)
        )
        self._grant = PasswordGrant(
            self.token_url,
            client_id=self.client_id,
            client_secret=self.client_secret,
            username=self.username,
            password=self.password,
            source=SOURCE,
        )
        self._builder = BuilderHost()

    @property
    def grant(self) -> PasswordGrant:
        """The credentials and the current token, shared by every request of the run."""
        return self._grant

    @property
    def builder(self) -> BuilderHost:
        return self._builder
