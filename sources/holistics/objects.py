"""Holistics objects: dashboards with their widgets, the objects behind the widgets, data
models, and the downstream dependencies of data sources, data sets and data models.

One generator reads them in order and tags each batch with its table (`Found`), so every
object is fetched once however many tables it feeds:
- List Data Models of each project of `data_model_projects` (at its branch or commit),
  rows with `project_id`; first, so a project Holistics refuses ends the run early;
- List Dashboards (its `list_filters.dashboards`), then Get a Dashboard for each;
- with `widget_sources`: Get a Query Report for each distinct report a widget names
  (`source_type` QueryReport), Get a Data Set for each data set those reports name, Get a
  Data Source for each data source the data sets (or SQL reports) name. A link is read as
  `data_set_id` or as a nested `data_set` object (the doc shows neither); the table
  always has `data_set_id` / `data_source_id`. An object that answers 404 (deleted while
  still named) or 403 (the key's owner may not read it) is skipped and listed in the run
  summary, naming who refers to it; it is not a failure;
- Get object's downstream dependencies of each loaded object of `dependency_types`:
  rows (object_type, object_id, dependant_type, dependant_id) and the dependant's fields
  where the vendor sends objects rather than ids.

Each table is replaced by each run (dlt `replace`), so an object Holistics deleted leaves
it; an error other than 404/403 fails the run before anything is loaded, so a failed read
never empties a table."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sources.common.completeness import unreadable
from sources.common.errors import ConfigError, MalformedResponse, PipelineError, config_key_help
from sources.common.http import VendorHttp
from sources.common.jobs import each
from sources.common.names import with_fields
from sources.common.stats import stats_for
from sources.holistics import client
from sources.holistics.client import SOURCE, HolisticsConfig
from sources.holistics.settings import Project

log = logging.getLogger(__name__)
CONCURRENCY = 8  # object requests in flight; the quota gate paces each route
DEPENDENCIES = "GET /dependencies/downstream"


@dataclass(frozen=True)
class Kind:
    table: str
    path: str
    key: str  # the body's key
    label: str  # in skip lines and logs
    dependency_type: str | None = None  # its `type` for Get object's downstream dependencies
    links: tuple[str, ...] = ()  # the objects it names, as `<name>_id` or a nested `<name>`


DASHBOARDS = Kind("dashboards", "/dashboards", "dashboard", "dashboard")
REPORTS = Kind(
    "query_reports", "/query_reports", "query_report", "query report", None,
    ("data_set", "data_source"),
)  # fmt: skip
DATA_SETS = Kind("data_sets", "/data_sets", "data_set", "data set", "DataSet", ("data_source",))
DATA_SOURCES = Kind("data_sources", "/data_sources", "data_source", "data source", "DataSource")
MODELS = Kind("data_models", "/data_models", "data_models", "data model", "DataModel")


@dataclass(frozen=True)
class Found:
    """A batch of one table's rows."""

    table: str
    rows: list[dict[str, Any]]


@dataclass(frozen=True)
class ObjectSettings:
    dashboard_params: dict[str, str] = field(default_factory=dict)
    widget_sources: bool = True
    projects: tuple[Project, ...] = ()
    dependency_types: tuple[str, ...] = ()


async def found(config: HolisticsConfig, wanted: ObjectSettings) -> AsyncIterator[Found]:
    """Every object batch of a run, each tagged with its table."""
    async with client.session(config) as http:
        read = Reader(http, config)
        for project in wanted.projects:  # first: a project Holistics refuses ends the run early
            yield Found(MODELS.table, read.remember(MODELS, await models(http, config, project)))
        reports: dict[Any, str] = {}  # report id → who names it
        async for page in client.pages(
            http, config, "/dashboards", "dashboards", wanted.dashboard_params
        ):
            details = await read.each(page, lambda d: read.dashboard(d))
            yield Found(DASHBOARDS.table, details)
            named = {k: v for k, v in widget_reports(details).items() if k not in reports}
            reports.update(named)
            if wanted.widget_sources and named:
                yield Found(REPORTS.table, await read.objects(REPORTS, named))
        if wanted.widget_sources:
            sets, sources = read.links(REPORTS, "data_set"), read.links(REPORTS, "data_source")
            yield Found(DATA_SETS.table, await read.objects(DATA_SETS, sets))
            sources.update(read.links(DATA_SETS, "data_source"))
            yield Found(DATA_SOURCES.table, await read.objects(DATA_SOURCES, sources))
        for kind in (DATA_SOURCES, DATA_SETS, MODELS):
            if kind.dependency_type in wanted.dependency_types:
                yield Found("dependencies", await read.dependencies(kind))


def widget_reports(details: Iterable[dict[str, Any]]) -> dict[Any, str]:
    """The query reports the dashboards' widgets show, each with its first widget."""
    named: dict[Any, str] = {}
    others: set[str] = set()
    for dashboard in details:
        for widget in widgets_of(dashboard):
            if widget.get("source_type") == "QueryReport" and widget.get("source_id") is not None:
                where = f"behind widget {widget['id']} of dashboard {dashboard.get('id')}"
                named.setdefault(widget["source_id"], where)
            else:
                others.add(str(widget.get("source_type")))
    if others:
        log.info("%s: widgets of source_type %s name no object with a Get", SOURCE, others)
    return named


def widgets_of(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """A dashboard's widgets; one that is not an object with an id cannot be loaded."""
    widgets = dashboard.get("widgets") or []
    if isinstance(widgets, list) and all(isinstance(w, dict) and "id" in w for w in widgets):
        return widgets
    raise unreadable(
        f"dashboard {dashboard.get('id')}: expected a 'widgets' list of objects with ids",
        widgets,
        source=SOURCE,
        endpoint="GET /dashboards/{id}",
    )


class Reader:
    """Object requests of one run, `CONCURRENCY` at a time; remembers what it loaded."""

    def __init__(self, http: VendorHttp, config: HolisticsConfig) -> None:
        self.http, self.config = http, config
        self.loaded: dict[str, list[dict[str, Any]]] = {}
        self._forms: set[str] = set()

    async def each(self, items: Iterable[Any], fetch: Callable[[Any], Awaitable[Any]]) -> list[Any]:
        """`fetch` of every item, `CONCURRENCY` at a time; what answered None is left out."""
        found = await each(items, fetch, concurrency=CONCURRENCY)
        return [result for result in found if result is not None]

    async def dashboard(self, listed: dict[str, Any]) -> dict[str, Any]:
        detail = await client.get_object(
            self.http, self.config, DASHBOARDS.path, DASHBOARDS.key, listed["id"]
        )
        return {**listed, **detail}

    async def objects(self, kind: Kind, named: dict[Any, str]) -> list[dict[str, Any]]:
        """Each named object once; a deleted (404) or forbidden (403) one is skipped."""

        async def one(object_id: Any) -> dict[str, Any] | None:
            try:
                return await client.get_object(
                    self.http, self.config, kind.path, kind.key, object_id
                )
            except PipelineError as exc:
                if isinstance(exc, MalformedResponse) or not exc.cause.startswith(
                    ("HTTP 404", "HTTP 403")
                ):
                    raise
                stats_for(SOURCE).skip(
                    f"{kind.table}: {kind.label} {object_id} ({named[object_id]}) is not "
                    f"loaded: {exc.cause}"
                )
                return None

        return self.remember(kind, await self.each(named, one))

    def remember(self, kind: Kind, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Note the loaded objects; a link given as a nested `<name>` object is also
        written as `<name>_id`, as the other form gives it."""
        for row in rows:
            for name in kind.links:
                nested = row.get(name)
                if row.get(f"{name}_id") is None and isinstance(nested, dict) and "id" in nested:
                    row[f"{name}_id"] = nested["id"]
                    self._note(f"{kind.label}s name their {name.replace('_', ' ')} as an object")
        self.loaded.setdefault(kind.table, []).extend(rows)
        return rows

    def links(self, kind: Kind, name: str) -> dict[Any, str]:
        """The `name` objects the loaded `kind` objects link to, each with who names it."""
        linked: dict[Any, str] = {}
        for row in self.loaded.get(kind.table, []):
            if row.get(f"{name}_id") is not None:
                linked.setdefault(row[f"{name}_id"], f"{name} of {kind.label} {row['id']}")
        return linked

    async def dependencies(self, kind: Kind) -> list[dict[str, Any]]:
        ids = [row["id"] for row in self.loaded.get(kind.table, [])]
        answers = await self.each(ids, lambda i: self._dependants(kind, i))
        return [row for rows in answers for row in rows]

    async def _dependants(self, kind: Kind, object_id: Any) -> list[dict[str, Any]]:
        body = await self.http.get_json(
            f"{self.config.base_url}/dependencies/downstream",
            params={"id": object_id, "type": kind.dependency_type},
        )
        found = body.get("dependants") if isinstance(body, dict) else None
        if not isinstance(found, dict):
            raise unreadable(
                "expected a 'dependants' object", body, source=SOURCE, endpoint=DEPENDENCIES
            )
        owner = {"object_type": kind.dependency_type, "object_id": object_id}
        return [
            with_fields(
                {k: v for k, v in item.items() if k != "id"},
                {**owner, "dependant_type": dependant_type, "dependant_id": item["id"]},
            )
            for dependant_type, items in found.items()
            for item in self._dependant_items(dependant_type, items)
        ]

    def _dependant_items(self, dependant_type: str, items: Any) -> list[dict[str, Any]]:
        """A dependant type's list: ids (`[3, 4]`) or objects with an id."""
        if isinstance(items, list) and all(isinstance(i, int | str) for i in items):
            return [{"id": i} for i in items]
        if isinstance(items, list) and all(isinstance(i, dict) and "id" in i for i in items):
            self._note("downstream dependencies list objects, not ids")
            return items
        raise unreadable(
            f"dependants.{dependant_type}: expected a list of ids or of objects with an id",
            items,
            source=SOURCE,
            endpoint=DEPENDENCIES,
        )

    def _note(self, form: str) -> None:
        if form not in self._forms:
            self._forms.add(form)
            log.info("%s: %s", SOURCE, form)


async def models(http: VendorHttp, config: HolisticsConfig, project: Project) -> list[dict]:
    """A project's data models; a project, branch or commit Holistics does not know is a
    setting to fix (exit 2)."""
    try:
        pages = [
            p async for p in client.pages(http, config, MODELS.path, MODELS.key, project.params())
        ]
    except PipelineError as exc:
        if exc.cause.startswith(("HTTP 404", "HTTP 422", "HTTP 400")):
            raise settings_error(project, exc) from None
        raise
    return [with_fields(m, {"project_id": project.project_id}) for page in pages for m in page]


def settings_error(project: Project, exc: PipelineError) -> ConfigError:
    return ConfigError(
        f"data_model_projects names {project.params()}, which Holistics refuses ({exc.cause})",
        source=SOURCE,
        resource=MODELS.table,
        endpoint=f"GET {MODELS.path}",
        hint=config_key_help(SOURCE, "data_model_projects"),
    )
