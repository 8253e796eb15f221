"""`QuantiveSim`'s KPI bodies: a KPI as `GET /v1/kpis/{id}` and `/v2/kpis` give it, with
its expanded links (goals, metrics, sessions, linked KPIs), projections and statistics;
and the error body every Quantive answer uses."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sandbox.server import Reply
from sandbox.simulator import stable_hash

NAMES = (
    "New Customers per Day",
    "Monthly Recurring Revenue",
    "Net Promoter Score",
    "Churn Rate",
    "Active Users",
    "Support Tickets Closed",
    "Deploys to Production",
)

AGGREGATIONS = ("average", "sum", "last")


def kpi_id(i: int) -> str:
    return f"5e8c27e3dcdd{i:012x}"


def error(status: int, error: str, message: str) -> Reply:
    return Reply.json({"statusCode": status, "error": error, "message": message}, status)


class KpiBodies:
    """Mixed into `QuantiveSim` (which has `n_kpis`, the knobs and `kpi_groups`)."""

    n_kpis: int
    account_id: str
    drift: bool
    projections_in_kpi: str
    projection_counts: dict[str, int]
    snapshot_end: Any
    kpi_groups: Any

    def links(self, i: int) -> dict[str, list[dict[str, Any]]]:
        links = {
            "goals": [self._goal(i, g) for g in range(i % 3)],
            "metrics": [self._metric(i, m) for m in range(i % 2)],
            "sessions": [self._session(i)] if i % 2 == 0 else [],
            "kpis": [self._linked(i - 1)] if i > 0 and i % 4 == 0 else [],
        }
        if self.drift:
            links["tasks"] = [{"id": f"task-{i}", "name": f"Task of KPI {i}"}]
        return links

    def projections(self, i: int) -> list[dict[str, Any]]:
        end = self.snapshot_end
        return [
            {
                "createdById": "5e8ed44adcddda0da9eab365",
                "date": (end + timedelta(days=30 * (p + 1))).isoformat(),
                "dateCreated": "2024-01-02T10:00:00Z",
                "dateModified": "2024-01-03T10:00:00Z",
                "id": f"6a0f{i:010x}{p:010x}",
                "modifiedById": "5e8ed44adcddda0da9eab365",
                "value": float(200 + 10 * p + i),
            }
            for p in range(self.projection_counts.get(kpi_id(i), i % 4))
        ]

    def statistics(self, i: int, period: str) -> dict[str, Any]:
        h = stable_hash(i, period, self.snapshot_end)
        return {
            "currentPeriod": {"deltaPercentage": (h % 200) / 100 - 1, "value": h % 1000},
            "nextProjection": {"deltaPercentage": (h % 150) / 100 - 0.5, "value": h % 1200},
            "previousPeriod": {"deltaPercentage": (h % 100) / 100 - 0.5, "value": h % 900},
        }

    def kpi_json(self, i: int) -> dict[str, Any]:
        return (
            {
                "accountId": self.account_id,
                "aggregation": AGGREGATIONS[i % 3],
                "createdById": "5e8ed44adcddda0da9eab365",
                "currentUserAllowedActions": ["read", "update"],
                "dateCreated": "2024-01-02T10:00:00Z",
                "dateUpdated": "2024-03-04T11:00:00Z",
                "description": f"Tracks {NAMES[i % len(NAMES)].lower()}",
                "formatting": {"fractionSize": 2, "prefix": "$" if i % 2 else "", "suffix": ""},
                "groups": self.kpi_groups(i),
                "id": kpi_id(i),
                "insightLink": {
                    "fieldName": "count",
                    "insightName": f"insight-{i % 3}",
                    "settings": [],
                    "usedDataSourceBlueprintNames": ["salesforce"],
                },
                "isOwner": i % 2 == 0,
                "links": {"expanded": self.links(i)},
                "modifiedById": "5e8ed44adcddda0da9eab365",
                "name": f"{NAMES[i % len(NAMES)]} #{i}",
                "ownerId": "5e8ed44adcddda0da9eab365",
                "ownerIds": ["5e8ed44adcddda0da9eab365"],
                "targetOperator": "should_increase" if i % 2 else "should_decrease",
            }
            | ({"sessions": i % 5} if self.drift else {})
            | self._embedded(i)
        )

    def _embedded(self, i: int) -> dict[str, Any]:
        return {"projections": self.projections(i)} if self.projections_in_kpi == "embedded" else {}

    def _goal(self, i: int, g: int) -> dict[str, Any]:
        return {
            "access": {"inherits": True, "ownerPermissions": "OwnerPermission", "permissions": []},
            "accountId": self.account_id,
            "assignee": {"id": "5e8ed44adcddda0da9eab365", "name": "Ada", "type": "user"},
            "assignees": [{"id": "5e8ed44adcddda0da9eab365", "name": "Ada", "type": "user"}],
            "attainment": round(((i + g) % 10) / 10, 1),
            "dateFrom": "2024-01-01",
            "dateTo": "2024-03-31",
            "id": f"70{i:010x}{g:012x}",
            "name": f"Goal {g} of KPI {i}",
            "ownerIds": ["5e8ed44adcddda0da9eab365"],
            "private": False,
            "sessionId": f"6093fdabd251f2{i % 5:010x}",
        }

    def _metric(self, i: int, m: int) -> dict[str, Any]:
        return {
            "actual": float(i + m),
            "cascadeType": "absolute_value",
            "goalId": f"70{i:010x}{0:012x}",
            "goalName": f"Goal 0 of KPI {i}",
            "name": f"Metric {m} of KPI {i}",
            "sessionId": f"6093fdabd251f2{i % 5:010x}",
            "tags": [{"id": "t1", "name": "okr", "title": "OKR"}],
            "target": 100,
            "targetOperator": "at_least",
        }

    def _session(self, i: int) -> dict[str, Any]:
        return {
            "end": "2024-03-31",
            "id": f"6093fdabd251f2{i % 5:010x}",
            "permissions": [{"grant": "Binary", "principalId": "p1", "principalKind": "user"}],
            "start": "2024-01-01",
            "status": "open",
            "title": f"Q1 session {i % 5}",
        }

    def _linked(self, i: int) -> dict[str, Any]:
        return {"id": kpi_id(i), "name": f"{NAMES[i % len(NAMES)]} #{i}", "mentions": {}}

    def index_of(self, kid: str) -> int | None:
        try:
            i = int(kid[12:], 16) if kid.startswith("5e8c27e3dcdd") and len(kid) == 24 else -1
        except ValueError:
            return None
        return i if 0 <= i < self.n_kpis else None
