"""Holistics metadata end to end: what every table must hold given the simulator's state
(used by the full loads of tests/test_holistics_dialects.py and by tests/truth.py), and the
settings that change what is asked and loaded."""

from __future__ import annotations

import json
from typing import Any

from sandbox import Sandbox
from sandbox.holistics import HolisticsSim
from sandbox.holistics_objects import PROJECTS
from tests.conftest import Cli

Truth = dict[str, tuple[str, set[tuple]]]  # table → (columns, rows)
# the metadata tables of a run without the paths of `widget_sources`, `dependency_types`,
# `data_model_projects` and `user_attribute_entries`
LISTED = (
    "dashboards",
    "dashboard_widgets",
    "data_schedules",
    "data_alerts",
    "users",
    "groups",
    "user_counters",
    "user_groups",
    "group_users",
    "user_attributes",
)


def metadata_truth(
    hol: HolisticsSim,
    *,
    projects: dict[int, tuple[str | None, str | None]] | None = None,
    dependency_types: tuple[str, ...] = ("DataSource", "DataSet", "DataModel"),
) -> Truth:
    """Every metadata table a run with the simulator's `env()` loads, as key columns and
    their rows (`projects`: project → (branch, commit) of the run's settings)."""
    projects = {p: (None, None) for p in PROJECTS} if projects is None else projects

    def alive(key: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [x for x in items if x["id"] not in hol.removed.get(key, ())]

    users, groups = alive("users", hol.users()), alive("groups", hol.groups())
    schedules, alerts = alive("data_schedules", hol.schedules()), alive("data_alerts", hol.alerts())
    reports = {r: q for r, q in hol.query_reports().items() if str(r) not in hol.deleted_reports}
    used_sets = {q["data_set_id"] for q in reports.values()}
    data_sets = {i: d for i, d in hol.data_sets().items() if i in used_sets}
    used_sources = {d["data_source_id"] for d in data_sets.values()}
    models = {
        (p, m["id"]): m for p, version in projects.items() for m in hol.data_models(p, *version)
    }
    loaded = {
        "DataSource": sorted(used_sources),
        "DataSet": sorted(data_sets),
        "DataModel": sorted(m for _, m in models),
    }
    return {
        "dashboards": ("id, title", {(d["id"], d["title"]) for d in hol.dashboards}),
        "dashboard_widgets": (
            "id, dashboard_id, source_id",
            {(w.id, w.dashboard_id, 5_000 + w.id) for w in hol.widgets.values()},
        ),
        "data_schedules": (
            "id, source_type, source_id",
            {(s["id"], s["source_type"], s["source_id"]) for s in schedules},
        ),
        "data_alerts": ("id, title", {(a["id"], a["title"]) for a in alerts}),
        "users": ("id, email, role", {(u["id"], u["email"], u["role"]) for u in users}),
        "groups": ("id, name", {(g["id"], g["name"]) for g in groups}),
        "user_counters": ("counter, value", set(hol.user_counters().items())),
        "user_groups": (
            "user_id, group_id, name",
            {(u["id"], g, f"Group {g}") for u in users for g in u["group_ids"]},
        ),
        "group_users": (
            "group_id, user_id, email",
            {(g["id"], u["id"], u["email"]) for g in groups for u in hol.members(g["id"])},
        ),
        "user_attributes": ("id, name", {(a["id"], a["name"]) for a in hol.user_attributes()}),
        "user_attribute_entries": (
            "subject_type, subject_id, user_attribute_id, input_type",
            {
                (kind, s["id"], e["user_attribute_id"], e["input_type"])
                for kind, subjects in (("User", users), ("Group", groups))
                for s in subjects
                for e in hol.entries(kind, s["id"])
            },
        ),
        "query_reports": ("id, data_set_id", {(r, q["data_set_id"]) for r, q in reports.items()}),
        "data_sets": (
            "id, data_source_id, project_id",
            {(i, d["data_source_id"], d["project_id"]) for i, d in data_sets.items()},
        ),
        "data_sources": (
            "id, name",
            {(i, s["name"]) for i, s in hol.data_sources().items() if i in used_sources},
        ),
        "data_models": (
            "project_id, id, name",
            {(p, i, m["name"]) for (p, i), m in models.items()},
        ),
        "dependencies": (
            "object_type, object_id, dependant_type, dependant_id",
            {
                (kind, i, dependant_type, d)
                for kind in dependency_types
                for i in loaded[kind]
                for dependant_type, ids in hol.downstream(kind, i).items()
                for d in ids
            },
        ),
    }


def jobs_truth(hol: HolisticsSim) -> Truth:
    """The export jobs the simulator ran, with their results and logs."""
    return {
        "jobs": (
            "id, source_id, job_result ->> '$.status', job_result ->> '$.error'",
            {
                (j.id, j.widget.id, hol.job_result(j)["status"], hol.job_result(j)["error"])
                for j in hol.jobs.values()
            },
        ),
        "job_logs": (
            "job_id, _position, message",
            {
                (j.id, n, e["message"])
                for j in hol.jobs.values()
                for n, e in enumerate(hol.log_entries(j))
            },
        ),
    }


def assert_tables(cli: Cli, truth: Truth) -> None:
    """Each table holds exactly its rows, none twice."""
    for table, (columns, rows) in truth.items():
        got = cli.sql(f"SELECT {columns} FROM holistics.{table}") if rows else []
        assert len(got) == len(rows) and set(got) == rows, table


def metadata_counts(sandbox: Sandbox) -> dict[str, int]:
    """Row counts of the metadata tables (and child tables) a default run loads."""
    hol = sandbox.holistics
    counts = {table: len(rows) for table, (_, rows) in metadata_truth(hol).items()}
    children = {
        "dashboards__dynamic_filters": 2 * len(hol.dashboards),
        "data_schedules__dynamic_filter_presets": sum(
            len(s["dynamic_filter_presets"]) for s in hol.schedules()
        ),
        "users__group_ids": sum(len(u["group_ids"]) for u in hol.users()),
        "groups__user_ids": sum(len(g["user_ids"]) for g in hol.groups()),
        "user_attribute_entries__values": sum(
            len(e["values"])
            for kind, subjects in (("User", hol.users()), ("Group", hol.groups()))
            for s in subjects
            for e in hol.entries(kind, s["id"])
        ),
    }
    return {table: n for table, n in {**counts, **children}.items() if n}


def test_list_filters_and_model_versions_change_the_requests_and_the_rows(
    cli: Cli, sandbox: Sandbox
) -> None:
    hol = sandbox.holistics
    filters: dict[str, dict[str, Any]] = {
        "dashboards": {"include_embed_info": True},
        "data_schedules": {"dest_type": "EmailDest", "source_type": "QueryReport"},
        "data_alerts": {"search_term": "REVENUE", "dest_type": "EmailDest", "source_id": 101},
        "users": {"status": "active", "role": "analyst", "has_authentication_token": True},
        "groups": {"include_users": False},
    }
    settings = {
        "SOURCES__HOLISTICS__LIST_FILTERS": json.dumps(filters),
        "SOURCES__HOLISTICS__DATA_MODEL_PROJECTS": json.dumps(
            [
                {"project_id": 1, "branch_name": "develop"},
                {"project_id": 2, "commit_oid": "8be04d7"},
            ]
        ),
        "SOURCES__HOLISTICS__WIDGET_SOURCES": "false",
        "SOURCES__HOLISTICS__DEPENDENCY_TYPES": '["DataModel"]',
        "SOURCES__HOLISTICS__USER_ATTRIBUTE_ENTRIES": "false",
        "SOURCES__HOLISTICS__DASHBOARD_IDS": "[]",
        "SOURCES__HOLISTICS__WIDGET_IDS": "[]",
    }

    result = cli("run", "holistics", extra_env=settings)

    assert result.code == 0, result.output
    for path, asked in [
        ("/dashboards", {"include_embed_info": ["true"]}),
        ("/data_schedules", {"dest_type": ["EmailDest"], "source_type": ["QueryReport"]}),
        ("/data_alerts", {"search_term": ["REVENUE"], "source_id": ["101"]}),
        (
            "/users",
            {"status": ["active"], "role": ["analyst"], "has_authentication_token": ["true"]},
        ),
        ("/groups", {"include_users": ["false"]}),
        ("/data_models", {"project_id": ["1"], "branch_name": ["develop"]}),
        ("/data_models", {"project_id": ["2"], "commit_oid": ["8be04d7"]}),
    ]:
        sent = [r.query for r in hol.api.requests if r.path == f"/api/v2{path}"]
        assert any(asked.items() <= q.items() for q in sent), (path, sent)
    schedules = {s["id"] for s in hol.schedules() if s["dest"]["type"] == "EmailDest"}
    alerts = {a["id"] for a in hol.alerts() if "revenue" in a["title"] and a["source_id"] == 101}
    users = {
        u["id"]
        for u in hol.users()
        if u["role"] == "analyst"
        and u["has_authentication_token"]
        and not u["is_deleted"]
        and u["is_activated"]
    }
    schedules &= {s["id"] for s in hol.schedules() if s["source_type"] == "QueryReport"}
    for table, expected in [
        ("data_schedules", schedules),
        ("data_alerts", alerts),
        ("users", users),
    ]:
        got = [r[0] for r in cli.sql(f"SELECT id FROM holistics.{table}")]
        assert expected and sorted(got) == sorted(expected), table
    assert cli.sql(
        "SELECT count(*) FROM holistics.dashboards WHERE embed_info__embed_code IS NULL"
    ) == [(0,)]
    truth = metadata_truth(
        hol, projects={1: ("develop", None), 2: (None, "8be04d7")}, dependency_types=("DataModel",)
    )
    assert_tables(cli, {t: truth[t] for t in ("data_models", "dependencies")})
    assert len(truth["data_models"][1]) == 7 + 2  # the branch's seven, the commit's two
    tables = {r[0] for r in cli.sql("SELECT table_name FROM information_schema.tables")}
    switched_off = {
        "query_reports",
        "data_sets",
        "data_sources",
        "group_users",
        "user_attribute_entries",
    }
    assert not switched_off & tables
    assert not [r for r in hol.api.requests if "/query_reports/" in r.path or "entries" in r.path]


def assert_history(cli: Cli, hol: HolisticsSim) -> None:
    """The jobs and job logs the destination holds are the simulator's, each once (a
    killed run may not have added its own: history cannot be listed again)."""
    tables = {r[0] for r in cli.sql("SELECT table_name FROM information_schema.tables")}
    for table, (columns, rows) in jobs_truth(hol).items():
        got = cli.sql(f"SELECT {columns} FROM holistics.{table}") if table in tables else []
        assert len(got) == len(set(got)) and set(got) <= rows, table
