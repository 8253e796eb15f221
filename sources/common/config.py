"""How a vendor declares itself: one dlt configuration class and one `Declaration`.

Each `sources/<vendor>/config.py` holds a `VendorConfiguration`: every key of
`[sources.<vendor>]` with its type and default, written once. dlt resolves it from the
same places for a run (the source's `spec`), `check` and `discover`; `validate` then
checks each value and raises a `ConfigError` naming the key and where it is set (exit 2)
before any request. Each `sources/<vendor>/manifest.py` holds a `Declaration`: what the
CLI needs to build, check and describe the vendor (pipelines/registry.py collects them)."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from dlt.common.configuration import configspec, resolve_configuration
from dlt.common.configuration.specs import BaseConfiguration
from dlt.extract.source import DltSource

from sources.common.discovery import Discovery
from sources.common.http import HttpPolicy, VendorHttp
from sources.common.settings import require_http_policy


@configspec
class VendorConfiguration(BaseConfiguration):
    """The settings every vendor shares; a vendor's class adds its own keys."""

    source_name: ClassVar[str] = ""
    http: HttpPolicy = None

    def on_resolved(self) -> None:
        self.http = require_http_policy(self.source_name, self.http)
        self.validate()

    def validate(self) -> None:
        """Check and normalise the vendor's own keys (ConfigError naming the key)."""

    def checked(self) -> Self:
        """This configuration built from explicit values (no lookup), validated."""
        self.on_resolved()
        return self

    def http_session(
        self, base_urls: list[str], auth: Any, describe_error: Callable, **options: Any
    ) -> VendorHttp:
        """One extract's HTTP session to the vendor's own hosts, under this `http` policy."""
        return VendorHttp(
            self.source_name,
            base_urls=base_urls,
            auth=auth,
            policy=self.http,
            describe_error=describe_error,
            **options,
        )

    @classmethod
    def resolved(cls, **explicit: Any) -> Self:
        """Resolved by dlt from `[sources.<vendor>]`, as a run resolves the source's;
        `explicit` values win over any found there."""
        return resolve_configuration(
            cls(), sections=("sources", cls.source_name), explicit_value=explicit
        )


@dataclass(frozen=True)
class Declaration:
    """A vendor, as the CLI sees it. `source` is the `@dlt.source` taking the resolved
    configuration; `placeholders` are enough settings to build it without credentials
    (for `pipelines sources`); `cursors` describe each incremental resource's cursor."""

    name: str
    source: Callable[..., DltSource]
    configuration: type[VendorConfiguration]
    check: Callable[[], str]
    discover: Callable[[], Discovery]
    placeholders: dict[str, Any] = field(default_factory=dict)
    cursors: dict[str, str] = field(default_factory=dict)
    sample_query: str = ""

    def factory(
        self, backfill_start: str | None = None, backfill_end: str | None = None, **settings: Any
    ) -> DltSource:
        """The source, its configuration resolved by dlt, `settings` winning over what is
        configured (`pipelines sources` builds it from `placeholders`); `backfill_*` come
        from `run --start/--end`."""
        config = self.configuration.resolved(**settings)
        return self.source(config, backfill_start=backfill_start, backfill_end=backfill_end)
