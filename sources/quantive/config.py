"""`[sources.quantive]`: every setting of the source, its type and default, written once."""

from typing import ClassVar

from dlt.common.configuration import configspec
from dlt.common.typing import TSecretStrValue

from sources.common.config import VendorConfiguration
from sources.common.redaction import register_secret
from sources.common.settings import require_positive, require_secret, require_url

SOURCE = "quantive"


@configspec
class QuantiveConfig(VendorConfiguration):
    """Validated when resolved: the connection here, the rest where the source reads it."""

    source_name: ClassVar[str] = SOURCE
    access_token: TSecretStrValue = None
    account_id: TSecretStrValue = None
    base_url: str = "https://app.quantive.com/results/api"
    kpi_ids: list[str] | None = None
    group_ids: list[str] | None = None
    ungrouped: bool = False
    mykpis: bool = False
    v2_snapshots: bool = False
    insight_ids: list[str] | None = None
    time_zone: str = "UTC"
    group_by: str = "day"
    start_date: str | None = None
    lookback_days: int = 2
    statistics_periods: list[str] | None = None
    page_size: int = 100
    snapshot_batch_size: int = 50
    snapshot_window_days: int = 92
    concurrency: int = 8

    def validate(self) -> None:
        register_secret(self.access_token, self.account_id)
        self.access_token = require_secret(SOURCE, "access_token", self.access_token)
        self.account_id = require_secret(SOURCE, "account_id", self.account_id)
        self.base_url = require_url(SOURCE, "base_url", self.base_url)
        self.page_size = int(require_positive(SOURCE, "page_size", self.page_size))
        self.concurrency = int(require_positive(SOURCE, "concurrency", self.concurrency))
