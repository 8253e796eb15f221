"""The Kissmetrics simulator's data: the reports, their computed rows, late rows and
revisions from tests, and the schema drifts of "Signups by Channel".

Report r has `n` rows spread evenly over [data_start, data_end); row i's values derive
from (r, i), so any page of any window is produced in O(page) time and memory."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sandbox.simulator import stable_hash

CHANNELS = ("organic", "paid", "referral", "email", "social")
COUNTRIES = ("UA", "PL", "DE", "US")
DRIFTS = ("", "add_field", "change_type", "drop_field")
PLANS = ("free", "starter", "pro", "enterprise")


@dataclass
class ReportDef:
    id: str
    name: str
    report_type: str
    columns: list[str] | None  # None: the API gives no definition
    keys: list[str]  # the row's keys when results come as objects (`result_rows=objects`)

    def row(self, i: int, ts: datetime) -> list[Any]:
        """Row i of this report; values depend only on (report, i)."""
        h = stable_hash(self.id, i)
        stamp = ts.isoformat()
        if self.report_type == "people_search_v2" and self.columns:
            return [
                100_000 + i,
                f"user{i}@example.com",
                CHANNELS[h % 5],
                stamp,
                round((h % 100_000) / 100, 2),
            ]
        if self.report_type == "revenue":
            return [100_000 + i, stamp, round((h % 50_000) / 100, 2), PLANS[h % 4]]
        return [f"person-{i}", f"user{i}@example.com", stamp]


REPORTS = (
    ReportDef(
        "64361c30-4a48-0131-0cbb-22000a9f1c0f",
        "Signups by Channel",
        "people_search_v2",
        ["identity", "email", "channel", "signed_up_at", "revenue"],
        ["identity", "email", "channel", "signed_up_at", "revenue"],
    ),
    ReportDef(
        "a05aaa60-dffd-0132-7bff-22000a9a8afc",
        "Revenue per Person",
        "revenue",
        None,
        ["KM Person", "Time", "Revenue", "Plan"],
    ),
    ReportDef(
        "c7e2f5b0-1a2b-0133-4c5d-22000a9a0001",
        "Active People",
        "people_search_v2",
        None,
        ["KM Person", "Email", "Last Seen"],
    ),
)


@dataclass
class Query:
    report: ReportDef
    start: datetime
    end: datetime  # inclusive, as the API takes it
    created: float
    latency: float
    never_completes: bool
    total: int | None = None  # rows its results had when last served


@dataclass
class ReportData:
    """The rows of one report: `n` computed rows, plus late rows and revisions from tests."""

    report: ReportDef
    n: int
    start: datetime
    end: datetime
    late: list[tuple[datetime, list[Any]]] = field(default_factory=list)
    revised: dict[int, list[Any]] = field(default_factory=dict)
    drift: str = ""  # schema drift of "Signups by Channel", one of DRIFTS

    def columns(self) -> list[str] | None:
        return drifted(self.report.columns, self.drift, ["country"])

    def keys(self) -> list[str]:
        return drifted(self.report.keys, self.drift, ["country"]) or []

    @property
    def step(self) -> float:
        return (self.end - self.start).total_seconds() / max(1, self.n)

    def time_of(self, i: int) -> datetime:
        return self.start + timedelta(seconds=math.floor(i * self.step))

    def row(self, i: int) -> list[Any]:
        row = self.revised.get(i) or self.report.row(i, self.time_of(i))
        if self.drift == "change_type" and self.report.columns:
            row = [*row[:4], f"{row[4]:.2f} USD"]
        return drifted(row, self.drift, [COUNTRIES[i % len(COUNTRIES)]])

    def index_range(self, lo: datetime, hi: datetime) -> range:
        """Indices of computed rows whose time lies in [lo, hi] (both inclusive)."""
        first = max(0, math.ceil((lo - self.start).total_seconds() / self.step - 1e-9))
        while first > 0 and self.time_of(first - 1) >= lo:
            first -= 1
        while first < self.n and self.time_of(first) < lo:
            first += 1
        last = min(self.n - 1, math.floor((hi - self.start).total_seconds() / self.step + 1e-9))
        while last >= 0 and last < self.n and self.time_of(last) > hi:
            last -= 1
        while last + 1 < self.n and self.time_of(last + 1) <= hi:
            last += 1
        return range(first, last + 1)

    def late_in(self, lo: datetime, hi: datetime) -> list[list[Any]]:
        return [row for ts, row in self.late if lo <= ts <= hi]

    def all_rows(self) -> list[list[Any]]:
        return [self.row(i) for i in range(self.n)] + [row for _, row in self.late]


def drifted(values: list[Any] | None, drift: str, added: list[Any]) -> list[Any] | None:
    """A definition or row of "Signups by Channel" after a schema drift."""
    if values is None or len(values) != 5:
        return values
    if drift == "add_field":
        return [*values, *added]
    if drift == "drop_field":
        return [v for index, v in enumerate(values) if index != 2]  # no more `channel`
    return values
