"""`QuantiveSim`'s snapshot answers: `GET /v1/kpi-snapshots` and `/v2/kpis/snapshots`,
grouped by day, week, month, quarter or year, in every `snapshots_shape`,
`snapshot_fields`, `snapshot_day`, `group_label` and `value_type` dialect; the default
dialect on a fast path (the benchmarks ask for 1M rows)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

import orjson
import pendulum

from sandbox.quantive_kpis import AGGREGATIONS
from sandbox.quantive_kpis import error as _error
from sandbox.server import Reply, Request

TZ_PATTERN = re.compile(r"^UTC(?:[+-]\d{1,2}(?::\d{2})?)?$")

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def unit(kid: str) -> str:
    """The `unit` an `items_grouped` item gives its KPI's snapshots."""
    return "percent" if int(kid[-1], 16) % 2 else "points"


def group_first_day(day: date, group_by: str) -> date:
    """The first day of the `group_by` period holding `day` (ISO weeks), by pendulum."""
    if group_by == "day":
        return day
    first = pendulum.date(day.year, day.month, day.day)
    first = first.start_of("week") if group_by == "week" else first.first_of(group_by)
    return date(first.year, first.month, first.day)


def _offset(tz: str) -> timezone:
    """`UTC+3`, `UTC-2:30` → a fixed offset."""
    sign, rest = (tz[3], tz[4:]) if len(tz) > 3 else ("+", "0")
    hours, _, minutes = rest.partition(":")
    delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
    return timezone(-delta if sign == "-" else delta)


GROUP_LABELS = {
    "day": lambda d: d.isoformat(),
    "week": lambda d: f"{d.isocalendar()[0]}-W{d.isocalendar()[1]:02d}",
    "month": lambda d: f"{d.year}-{d.month:02d}",
    "quarter": lambda d: f"{d.year}-Q{(d.month - 1) // 3 + 1}",
    "year": lambda d: str(d.year),
}


class SnapshotAnswers:
    """Mixed into `QuantiveSim` (which has the data, the knobs and `_paging`)."""

    def _snapshot_answer(self, request: Request, ids: list[str]) -> Reply:
        url_length = len(request.path) + sum(
            len(k) + len(v) + 2 for k, vs in request.query.items() for v in vs
        )
        if url_length > self.max_url:
            return _error(414, "URI Too Long", f"request URL of {url_length} characters")
        start, end = request.arg("from"), request.arg("to")
        if not (start and end and _DAY.match(start) and _DAY.match(end)):
            return _error(400, "Bad Request", "from and to must be dates: YYYY-MM-DD")
        tz = request.arg("timeZone", "UTC") or "UTC"
        if not TZ_PATTERN.match(tz):
            return _error(400, "Bad Request", "timeZone must look like UTC-2")
        group_by = request.arg("groupBy") or "day"
        if group_by not in GROUP_LABELS:
            return _error(400, "Bad Request", f"groupBy must be one of {', '.join(GROUP_LABELS)}")
        forbidden = [kid for kid in ids if kid in self.forbidden_kpis]
        if forbidden:
            return _error(403, "Forbidden", f"no permission to read KPI {forbidden[0]}")
        first = max(date.fromisoformat(start), self.snapshot_start)
        last = date.fromisoformat(end) - timedelta(days=self.to_bound == "exclusive")
        last = min(last, self.snapshot_end)
        days = [first + timedelta(days=d) for d in range((last - first).days + 1)]
        if self.plain():
            return Reply(200, orjson.dumps(self._plain_body(ids, days, group_by)))
        by_kpi = {
            kid: self._records(kid, i, days, group_by, tz)
            for kid in ids
            if (i := self.index_of(kid)) is not None  # one the account lacks: nothing
        }
        if self.unknown_shape:
            return Reply.json({"result": {"kpiSnapshots": by_kpi}, "version": 2})
        return self._shaped(request, by_kpi)

    def plain(self) -> bool:
        """The default dialect, served on a fast path (the benchmarks ask for 1M rows)."""
        return super().plain() and not (self.drift or self.unknown_shape or self.repeated_group)

    def _plain_body(
        self, ids: list[str], days: list[date], group_by: str
    ) -> dict[str, list[dict[str, Any]]]:
        label = GROUP_LABELS[group_by]
        day_keys = [(d.isoformat(), d.toordinal()) for d in days]
        body: dict[str, list[dict[str, Any]]] = {}
        for kid in ids:
            i = self.index_of(kid)
            if i is None:
                continue  # a KPI the account does not have: nothing, as a filter would
            if group_by == "day" and not self.revised:
                body[kid] = [
                    {"group": text, "value": self._value(i, ordinal)} for text, ordinal in day_keys
                ]
                continue
            grouped: dict[str, list[float]] = {}
            for d in days:
                grouped.setdefault(label(d), []).append(self.value(i, d))
            body[kid] = [
                {"group": g, "value": self._aggregate(i, values)} for g, values in grouped.items()
            ]
        return body

    def _records(
        self, kid: str, i: int, days: list[date], group_by: str, tz: str
    ) -> list[dict[str, Any]]:
        """One KPI's snapshot records in the current dialect."""
        grouped: dict[date, list[float]] = {}
        for d in days:
            grouped.setdefault(group_first_day(d, group_by), []).append(self.value(i, d))
        records = []
        for start, values in grouped.items():
            record: dict[str, Any] = self._day_field(start, group_by, tz)
            value = self._aggregate(i, values) if group_by != "day" else values[0]
            record["value"] = self._value_text(i, value)
            if self.drift:
                record["unitLabel"] = "pts"
            if self.snapshot_fields == "annotated":
                record |= {"kpiId": kid, "timeZone": tz, "id": f"{kid[-8:]}{start:%Y%m%d}"}
            records.append(record)
        first = group_first_day(self.snapshot_start, group_by)
        if self.repeated_group and i == 0 and first in grouped:  # the first group, twice more
            inside = (first + timedelta(days=1)).isoformat()
            again = {"value": records[0]["value"]}
            records += [{"date": inside} | again, {"date": f"{inside}T10:00:00Z"} | again]
        return records

    def _day_field(self, start: date, group_by: str, tz: str) -> dict[str, Any]:
        if self.snapshot_day == "date":
            return {"date": start.isoformat()}
        if self.snapshot_day == "timestamp":
            midnight = datetime.combine(start, time(), tzinfo=_offset(tz))
            return {"date": midnight.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")}
        if self.group_label == "first_day":
            return {"group": start.isoformat()}
        label = GROUP_LABELS[group_by](start)
        if self.group_label == "unpadded" and group_by == "week":
            label = label.replace("-W0", "-W")  # `2022-W5`: weeks without a leading zero
        return {"group": label}

    def _value_text(self, i: int, value: float) -> Any:
        if self.drift and i == 1:
            return f"{value} pts"
        return str(value) if self.value_type == "string" else value

    def _shaped(self, request: Request, by_kpi: dict[str, list[dict[str, Any]]]) -> Reply:
        """The records of a batch in the `snapshots_shape` dialect."""
        if self.snapshots_shape == "by_kpi":
            return Reply.json(by_kpi)
        if self.snapshots_shape == "items_grouped":
            items = [
                {
                    "kpiId": kid,
                    "unit": unit(kid),
                    ("snapshots" if n % 2 == 0 else "groups"): records,
                }
                for n, (kid, records) in enumerate(by_kpi.items())
            ]
            return Reply.json({"items": items, "totalCount": len(items)})
        flat = [{"kpiId": kid} | r for kid, records in by_kpi.items() for r in records]
        if self.snapshots_shape == "bare_list":
            return Reply.json(flat)
        paging = self._paging(request, cap=self.snapshot_page)
        if isinstance(paging, Reply):
            return paging
        skip, take = paging
        return Reply.json({"items": flat[skip : skip + take], "totalCount": len(flat)})

    @staticmethod
    def _aggregate(i: int, values: list[float]) -> float:
        if AGGREGATIONS[i % 3] == "last":
            return values[-1]
        if AGGREGATIONS[i % 3] == "sum":
            return round(sum(values), 2)
        return round(sum(values) / len(values), 4)
