"""Holistics metadata lists of the simulator (a mixin of `sandbox.holistics.HolisticsSim`).

The lists with the filters vendor-docs/holistics-api-v2.txt documents: List Data
Schedules (`dest_type`, `source_type`, `source_id`), List Data Alerts (`search_term`,
`dest_type`, `source_type`, `source_id`), List Users (`search_term`, `status`, `role`,
`has_authentication_token`, `exclude_deleted`; `counters` and a `groups` map beside each
page), List Groups (`include_users` adds a `users` map), List User Attributes, List User
Attribute Entries (`subject_type` and `subject_id` required). A bad enum or boolean
answers 422 InvalidParameterError, a missing required parameter 400, an unknown subject
404. Where the doc is silent on a shape, `METADATA_DIALECTS` gives every plausible form."""

from __future__ import annotations

from typing import Any, ClassVar

from sandbox.server import Reply, Request

N_SCHEDULES = 37
N_ALERTS = 14
N_USERS = 52
N_GROUPS = 9
N_ATTRIBUTES = 4
ROLES = ("user", "explorer", "analyst", "admin", "growth_admin", "it_admin")
STATUSES = ("active", "deleted", "pending")
SCHEDULE_DESTS = ("EmailDest", "SlackDest", "Adls2Dest", "SftpDest")


def _error(status: int, kind: str, message: str, **details: Any) -> Reply:
    body = {"type": kind, "message": message, "details": {"description": None, **details}}
    if kind == "InternalHolisticsError":
        body["debug_id"] = message.rsplit(" ", 1)[-1]
    return Reply.json(body, status)


def _invalid(message: str, status: int = 422) -> Reply:
    return _error(status, "InvalidParameterError", message)


def _user_status(user: dict[str, Any]) -> str:
    if user["is_deleted"]:
        return "deleted"
    return "active" if user["is_activated"] else "pending"


class MetadataSim:
    """Metadata lists; the host class provides `widgets`, `dashboards` and `_page`."""

    METADATA_DIALECTS: ClassVar[dict[str, tuple[str, ...]]] = {
        # the `groups` map of List Users and the `users` map of List Groups: keyed by the
        # listed object's id (id → object), or by the owner (user id → its groups)
        "include_maps": ("by_id", "by_owner"),
    }
    METADATA_ROUTES = (
        ("GET", r"/data_schedules", "_list_schedules", 1),
        ("GET", r"/data_alerts", "_list_alerts", 1),
        ("GET", r"/users", "_list_users", 1),
        ("GET", r"/groups", "_list_groups", 1),
        ("GET", r"/user_attributes", "_list_attributes", 1),
        ("GET", r"/user_attribute_entries", "_list_entries", 1),
    )
    widgets: dict[int, Any]
    dashboards: list[dict[str, Any]]
    include_maps: str

    # -- data ------------------------------------------------------------------------

    def schedules(self) -> list[dict[str, Any]]:
        return [
            {
                "id": i,
                "source_type": "QueryReport" if i % 4 == 0 else "Dashboard",
                "source_id": 5_100 + i if i % 4 == 0 else 1 + i % len(self.dashboards),
                "schedule": {"repeat": f"0 {i % 24} * * *", "paused": i % 5 == 0},
                "dynamic_filter_presets": [
                    {
                        "id": i * 10 + k,
                        "dynamic_filter_id": (1 + i % len(self.dashboards)) * 10 + 1 + k,
                        "preset_condition": {"operator": "is", "values": [f"v{k}"]},
                        "public_hidden": False,
                    }
                    for k in range(i % 3)
                ],
                "dest": {
                    "type": SCHEDULE_DESTS[i % len(SCHEDULE_DESTS)],
                    "title": f"Report {i} for {{{{$today}}}}",
                    "options": {"preview": True, "attachment_formats": ["csv", "pdf"][: 1 + i % 2]},
                },
            }
            for i in range(1, N_SCHEDULES + 1)
        ]

    def alerts(self) -> list[dict[str, Any]]:
        widget_ids = sorted(self.widgets)
        return [
            {
                "id": i,
                "title": f"Alert {i}" + (" revenue" if i % 2 else " orders"),
                "source_id": widget_ids[i % len(widget_ids)],
                "source_type": "DashboardWidget",
                "viz_conditions": [
                    {
                        "field_path": {"field_name": "orders", "model_id": 7},
                        "aggregation": "sum",
                        "transformation": None,
                        "condition": {"operator": "greater_than", "values": [100 * i]},
                    }
                ],
                "dest": {
                    "type": "SlackDest" if i % 3 == 0 else "EmailDest",
                    "title": f"Alert {i}",
                    "recipients": ["a@b.co"],
                },
                "schedule": {"repeat": "0 7 * * *", "paused": False},
                "dynamic_filter_presets": [],
            }
            for i in range(1, N_ALERTS + 1)
        ]

    def users(self) -> list[dict[str, Any]]:
        return [
            {
                "id": i,
                "email": f"user{i}@example.com",
                "name": f"User {i}",
                "initials": f"U{i}",
                "role": ROLES[i % 4],
                "is_deleted": i % 11 == 0,
                "is_activated": i % 13 != 0,
                "has_authentication_token": i % 3 == 0,
                "allow_authentication_token": i % 3 == 0,
                "enable_export_data": True,
                "current_sign_in_at": "2026-01-05T10:00:00Z",
                "last_sign_in_at": "2026-01-04T10:00:00Z",
                "created_at": "2025-03-01T08:00:00Z",
                "title": None,
                "job_title": "Analyst",
                "group_ids": [1 + g for g in range(N_GROUPS) if (i + g) % 4 == 0],
            }
            for i in range(1, N_USERS + 1)
        ]

    def user_counters(self) -> dict[str, int]:
        everyone = self.users()
        return {"all": len(everyone)} | {
            s: sum(_user_status(u) == s for u in everyone) for s in STATUSES
        }

    def groups(self) -> list[dict[str, Any]]:
        return [
            {"id": g, "name": f"Group {g}", "user_ids": [u["id"] for u in self.members(g)]}
            for g in range(1, N_GROUPS + 1)
        ]

    def members(self, group_id: int) -> list[dict[str, Any]]:
        return [u for u in self.users() if group_id in u["group_ids"]]

    def user_attributes(self) -> list[dict[str, Any]]:
        return [
            {
                "id": a,
                "name": f"attribute_{a}",
                "attribute_type": "string" if a % 2 else "number",
                "label": f"Attribute {a}",
                "description": None if a == 3 else f"What attribute {a} restricts",
            }
            for a in range(1, N_ATTRIBUTES + 1)
        ]

    def entries(self, subject_type: str, subject_id: int) -> list[dict[str, Any]]:
        """A user's or a group's attribute entries."""
        user = subject_type == "User"
        return [
            {
                "id": (100_000 if user else 200_000) + subject_id * 10 + a,
                "user_attribute_id": a,
                "subject_type": subject_type,
                "subject_id": subject_id,
                "input_type": "manual" if user else "all",
                "values": [f"v{subject_id}-{a}"] if user else [],
            }
            for a in range(1, N_ATTRIBUTES + 1)
            if (subject_id + a) % (3 if user else 2) == 0
        ]

    # -- handlers --------------------------------------------------------------------

    def _list_schedules(self, request: Request) -> Reply:
        items = self.schedules()
        return self._filtered(
            request,
            "data_schedules",
            items,
            dest_type=(SCHEDULE_DESTS, lambda x: x["dest"]["type"]),
            source_type=(("QueryReport", "Dashboard"), lambda x: x["source_type"]),
        )

    def _list_alerts(self, request: Request) -> Reply:
        items = self.alerts()
        term = (request.arg("search_term") or "").lower()
        items = [a for a in items if term in a["title"].lower()]
        return self._filtered(
            request,
            "data_alerts",
            items,
            dest_type=(("EmailDest", "SlackDest"), lambda x: x["dest"]["type"]),
            source_type=(("DashboardWidget", "VizBlock"), lambda x: x["source_type"]),
        )

    def _filtered(self, request: Request, key: str, items: list, **enums: Any) -> Reply:
        """Items filtered by the enum parameters given and by `source_id`."""
        for name, (allowed, value_of) in enums.items():
            wanted = request.arg(name)
            if wanted is not None and wanted not in allowed:
                return _invalid(f"{name} must be one of {', '.join(allowed)}")
            items = [x for x in items if wanted is None or value_of(x) == wanted]
        source_id = request.arg("source_id")
        if source_id is not None:
            if not source_id.isdigit():
                return _invalid("source_id must be an integer")
            items = [x for x in items if x["source_id"] == int(source_id)]
        return self._page(request, key, items)

    def _list_users(self, request: Request) -> Reply:
        everyone = self.users()
        users = list(everyone)
        status, role = request.arg("status"), request.arg("role")
        if status is not None and status not in STATUSES:
            return _invalid(f"status must be one of {', '.join(STATUSES)}")
        if role is not None and role not in ROLES:
            return _invalid(f"role must be one of {', '.join(ROLES)}")
        flags = {}
        for name in ("exclude_deleted", "has_authentication_token"):
            raw = request.arg(name)
            if raw is not None and raw not in ("true", "false"):
                return _invalid(f"{name} must be a boolean")
            flags[name] = None if raw is None else raw == "true"
        term = (request.arg("search_term") or "").lower()
        users = [
            u
            for u in users
            if (status is None or _user_status(u) == status)
            and (role is None or u["role"] == role)
            and not (flags["exclude_deleted"] and u["is_deleted"])
            and flags["has_authentication_token"] in (None, u["has_authentication_token"])
            and (
                not term
                or any(term in str(u[f]).lower() for f in ("email", "name", "initials"))
                or any(term in f"group {g}" for g in u["group_ids"])
            )
        ]
        counters = self.user_counters()
        groups = {g["id"]: {"id": g["id"], "name": g["name"]} for g in self.groups()}
        return self._page(
            request,
            "users",
            users,
            around=lambda page: {
                "counters": counters,
                "groups": self._include_map(page, "group_ids", groups),
            },
        )

    def _list_groups(self, request: Request) -> Reply:
        raw = request.arg("include_users")
        if raw is not None and raw not in ("true", "false"):
            return _invalid("include_users must be a boolean")
        people = {
            u["id"]: {"id": u["id"], "name": u["name"], "email": u["email"]} for u in self.users()
        }
        return self._page(
            request,
            "groups",
            self.groups(),
            around=lambda page: {
                "users": self._include_map(page, "user_ids", people) if raw == "true" else {}
            },
        )

    def _include_map(self, page: list[dict], ids: str, objects: dict[int, dict]) -> dict:
        """The map beside a page: the objects its items name, by their id or by item."""
        if self.include_maps == "by_owner":
            return {str(x["id"]): [objects[i] for i in x[ids]] for x in page}
        return {str(i): objects[i] for x in page for i in x[ids]}

    def _list_attributes(self, request: Request) -> Reply:
        return self._page(request, "user_attributes", self.user_attributes())

    def _list_entries(self, request: Request) -> Reply:
        kind, raw = request.arg("subject_type"), request.arg("subject_id")
        if kind is None or raw is None:
            return _invalid("subject_type and subject_id are required", 400)
        if kind not in ("User", "Group") or not raw.isdigit():
            return _invalid("subject_type must be User or Group, subject_id a number")
        known = self.users() if kind == "User" else self.groups()
        if int(raw) not in {s["id"] for s in known}:
            return _error(404, "BaseError", f"{kind} {raw} not found")
        return self._page(request, "user_attribute_entries", self.entries(kind, int(raw)))
