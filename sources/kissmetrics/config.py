"""`[sources.kissmetrics]`: every setting of the source, its type and default, written once."""

from typing import ClassVar

from dlt.common.configuration import configspec
from dlt.common.typing import TSecretStrValue

from sources.common.config import VendorConfiguration
from sources.common.redaction import register_secret
from sources.common.settings import require_positive, require_secret, require_url

SOURCE = "kissmetrics"


@configspec
class KissmetricsConfig(VendorConfiguration):
    """Validated when resolved: the connection here, the rest where the source reads it."""

    source_name: ClassVar[str] = SOURCE
    api_token: TSecretStrValue = None
    api_url: str = "https://api.kissmetrics.com"
    query_url: str = "https://query.kissmetrics.com"
    report_ids: list[str] | None = None
    product_ids: list[str] | None = None
    report_details: bool = True
    report_columns: dict[str, list[str]] | None = None
    time_zone: str = "UTC"
    start_date: str | None = None
    window_days: int = 7
    lookback_days: int = 1
    page_size: int = 1000
    page_concurrency: int = 4
    concurrency: int = 20
    job_timeout: float = 600.0
    poll_interval: float = 1.0

    def validate(self) -> None:
        register_secret(self.api_token)
        self.api_token = require_secret(SOURCE, "api_token", self.api_token)
        self.api_url = require_url(SOURCE, "api_url", self.api_url)
        self.query_url = require_url(SOURCE, "query_url", self.query_url)
        self.page_size = int(require_positive(SOURCE, "page_size", self.page_size))
        self.page_concurrency = int(
            require_positive(SOURCE, "page_concurrency", self.page_concurrency)
        )
        self.job_timeout = float(require_positive(SOURCE, "job_timeout", self.job_timeout, float))
        self.poll_interval = float(
            require_positive(SOURCE, "poll_interval", self.poll_interval, float)
        )
