"""`[sources.holistics]`: every setting of the source, its type and default, written once."""

import logging
from typing import Any, ClassVar

from dlt.common.configuration import configspec
from dlt.common.typing import TSecretStrValue

from sources.common.config import VendorConfiguration
from sources.common.errors import ConfigError, config_key_help
from sources.common.redaction import register_secret
from sources.common.settings import require_positive, require_secret, require_url

SOURCE = "holistics"
REGIONS = {
    "apac": "https://secure.holistics.io/api/v2",
    "eu": "https://eu.holistics.io/api/v2",
    "us": "https://us.holistics.io/api/v2",
}
MAX_PAGE = 100
log = logging.getLogger(__name__)


@configspec
class HolisticsConfig(VendorConfiguration):
    """Validated when resolved: `base_url` is then the API host (from `region` when unset)."""

    source_name: ClassVar[str] = SOURCE
    api_key: TSecretStrValue = None
    base_url: str | None = None
    region: str | None = None
    dashboard_ids: list[str] | None = None
    widget_ids: list[str] | None = None
    export_filters: list[dict[str, Any]] | None = None
    widgets: dict[str, dict[str, Any]] | None = None
    start_date: str | None = None
    lookback_days: int = 1
    page_size: int = MAX_PAGE
    concurrency: int = 32
    job_timeout: float = 1800.0
    poll_interval: float = 1.0
    list_filters: dict[str, dict[str, Any]] | None = None
    widget_sources: bool = True
    data_model_projects: list[Any] | None = None
    dependency_types: list[str] | None = None
    user_attribute_entries: bool = False

    def validate(self) -> None:
        register_secret(self.api_key)
        self.api_key = require_secret(SOURCE, "api_key", self.api_key)
        self.base_url = require_url(
            SOURCE, "base_url", resolve_base_url(self.base_url, self.region)
        )
        self.page_size = int(require_positive(SOURCE, "page_size", self.page_size))
        if self.page_size > MAX_PAGE:
            raise ConfigError(
                f"page_size = {self.page_size} is above the API's limit of {MAX_PAGE}",
                source=SOURCE,
                hint=config_key_help(SOURCE, "page_size"),
            )
        self.job_timeout = float(require_positive(SOURCE, "job_timeout", self.job_timeout, float))
        self.poll_interval = float(
            require_positive(SOURCE, "poll_interval", self.poll_interval, float)
        )


def resolve_base_url(base_url: str | None, region: str | None) -> str:
    """`base_url` when set, else the documented host of `region` (apac when unset)."""
    key = (region or "").strip().lower()
    if key and key not in REGIONS:
        raise ConfigError(
            f"region = {region!r} is not one of {', '.join(REGIONS)}",
            source=SOURCE,
            hint=config_key_help(SOURCE, "region"),
        )
    if base_url:
        if key and str(base_url).rstrip("/") != REGIONS[key]:
            log.info("%s: base_url is set; it wins over region %s", SOURCE, key)
        return str(base_url)
    return REGIONS[key or "apac"]
