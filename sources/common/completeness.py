"""Never a silent loss (DESIGN.md): what the vendor sent is what a part yields, or the
part fails with one line.

A *part* is the unit a source loads or fails as a whole: a page list, a report window,
a widget export, a snapshot batch, a builder chunk. Every part keeps a `Tally`:

    tally = Tally("report 'Signups' window 2026-05-04", source=SOURCE, endpoint=endpoint)
    tally.declared(total)                 # the vendor's own count, where it gives one
    tally.received(len(records))          # records as they arrive
    table = records_to_rows(records)      # the source's reader
    tally.emitted(table.num_rows)         # rows handed to dlt
    tally.settle()                        # before the part counts as done

`settle` raises `Incomplete` (a `MalformedResponse`, exit 1) when the rows yielded differ
from the records received, or the records received from what the vendor announced, so a
reader that drops records it cannot read, or a paginator that skips a page, can never end
in an `ok` run with rows missing. The source's cursor logic already holds a failed part's
cursor; this module only makes sure the part does fail.

A record the reader cannot read at all is refused with `unreadable(...)`, whose line names
the endpoint and shows what was seen (its keys and a short, redacted sample)."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

import orjson

from sources.common.errors import MalformedResponse
from sources.common.redaction import redact

SAMPLE_CHARS = 160


class Incomplete(MalformedResponse):
    """A part yielded fewer (or more) rows than the vendor sent records."""


def sample(value: Any, limit: int = SAMPLE_CHARS) -> str:
    """A short picture of a vendor value for an error line: its type, keys and a sample."""
    if isinstance(value, dict):
        keys = ", ".join(str(k) for k in list(value)[:12])
        head = f"an object with keys [{keys}{', …' if len(value) > 12 else ''}]"
    elif isinstance(value, list):
        head = f"a list of {len(value)}"
        if value and isinstance(value[0], dict):
            head += f" objects, the first with keys [{', '.join(map(str, list(value[0])[:12]))}]"
    else:
        head = f"a {type(value).__name__}"
    try:
        text = orjson.dumps(value, default=str).decode()
    except TypeError:
        text = repr(value)
    if len(text) > limit:
        text = text[:limit] + "…"
    return redact(f"{head}: {text}")


def unreadable(
    what: str,
    seen: Any,
    *,
    source: str,
    endpoint: str | None = None,
    hint: str | None = "the vendor answers in a form this source does not know; report it",
) -> MalformedResponse:
    """The error for a body or record the source cannot read: `what` it needed, and what
    it got instead. Raise it; the part fails and its cursor holds."""
    return MalformedResponse(
        f"{what}; got {sample(seen)}", source=source, endpoint=endpoint, hint=hint
    )


class Tally:
    """Records in, rows out, for one part; `settle` fails the part when they differ."""

    def __init__(self, what: str, *, source: str, endpoint: str | None = None) -> None:
        self.what = what
        self.source = source
        self.endpoint = endpoint
        self.expected: int | None = None
        self.sent = 0
        self.rows = 0

    def declared(self, total: int) -> None:
        """The vendor said how many records the part has (`total`, `totalCount`, `count`)."""
        self.expected = int(total)

    def received(self, n: int) -> None:
        self.sent += n

    def emitted(self, n: int) -> int:
        self.rows += n
        return n

    def settle(self) -> None:
        if self.expected is not None and self.sent != self.expected:
            raise Incomplete(
                f"{self.what}: the vendor announced {self.expected} record(s) and sent {self.sent}",
                source=self.source,
                endpoint=self.endpoint,
                hint="the list changed while it was read, or pages were skipped; rerun",
            )
        if self.rows != self.sent:
            raise Incomplete(
                f"{self.what}: {self.sent} record(s) received but {self.rows} row(s) read",
                source=self.source,
                endpoint=self.endpoint,
                hint="records this source could not read; nothing of this part was loaded",
            )


class RepeatGuard:
    """A paginator that makes no progress is an error, never de-duplicated away.

    `seen(where, keys)` takes the identities of one page's items (ids, or a page
    fingerprint from `fingerprint`) and raises when any of them came before: a server
    that ignores `skip`/`offset`/`after` answers the same items again, and de-duplicating
    them would silently drop the ones it never sent."""

    def __init__(
        self,
        what: str,
        *,
        source: str,
        endpoint: str | None = None,
        hint: str = "the server ignores the paging parameter; nothing of this list was loaded",
    ) -> None:
        self.what = what
        self.source = source
        self.endpoint = endpoint
        self.hint = hint
        self._seen: dict[Hashable, str] = {}

    def seen(self, where: str, keys: Iterable[Hashable]) -> None:
        """Note one page's item identities; any seen before, on this page or another,
        is an error (dlt's merge on the id would keep one of them at random)."""
        for key in keys:
            before = self._seen.get(key)
            self._seen[key] = where
            if before is not None:
                place = "again" if before == where else f"already sent at {before}"
                raise MalformedResponse(
                    f"{self.what}: {where} repeats {key!r} {place}",
                    source=self.source,
                    endpoint=self.endpoint,
                    hint=self.hint,
                )


def fingerprint(items: list[Any]) -> Hashable:
    """One identity for a whole page of items without ids: equal pages, equal prints."""
    return hash(orjson.dumps(items, default=str)) if items else ("empty",)
