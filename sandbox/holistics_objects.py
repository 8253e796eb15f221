"""Holistics objects of the simulator (a mixin of `sandbox.holistics.HolisticsSim`).

The objects behind dashboard widgets (Get a Query Report, Get a Data Set, Get a Data
Source), List Data Models (`project_id` required, `branch_name`, `commit_oid`), Get
object's downstream dependencies (`id`, `type` ∈ DataSource, DataModel, DataSet) and Get
Job result, after vendor-docs/holistics-api-v2.txt. A missing required parameter answers
400, a bad one 422 InvalidParameterError, an unknown id 404; `deleted_reports` answer 404
as deleted objects do. Where the doc is silent on a shape, `OBJECT_DIALECTS` gives every
plausible form."""

from __future__ import annotations

from typing import Any, ClassVar

from sandbox.holistics_metadata import _error, _invalid
from sandbox.server import Reply, Request

N_DATA_SETS = 5
N_DATA_SOURCES = 2
DB_PASSWORD = "db-pass-7c1e0b"  # in each data source's dbconfig; never loaded
PROJECTS = {1: 6, 2: 3}  # AML project → models on its production branch
BRANCHES = {(1, "develop"): 7}  # a branch of project 1 with one model more
COMMITS = {(1, "3f2a9c1"): 4, (2, "8be04d7"): 2}  # commits holding a project's first models
DEPENDENCY_TYPES = ("DataSource", "DataModel", "DataSet")


class ObjectsSim:
    """Objects by id; the host class provides `widgets`, `jobs` and the dialect knobs."""

    OBJECT_DIALECTS: ClassVar[dict[str, tuple[str, ...]]] = {
        # how a query report names its data set and a data set its data source:
        # `data_set_id` / `data_source_id`, or a nested `data_set` / `data_source` object
        "object_links": ("ids", "nested"),
        # Get object's downstream dependencies "varies based on the input type": each
        # dependant type lists ids, or objects with an id
        "dependants": ("ids", "objects"),
    }
    OBJECT_ROUTES = (
        ("GET", r"/data_models", "_list_models", 1),
        ("GET", r"/query_reports/(?P<rid>\d+)", "_get_report", 1),
        ("GET", r"/data_sets/(?P<sid>\d+)", "_get_data_set", 1),
        ("GET", r"/data_sources/(?P<sid>\d+)", "_get_data_source", 1),
        ("GET", r"/dependencies/downstream", "_dependencies", 2),
        ("GET", r"/jobs/(?P<jid>\d+)/result", "_job_result", 1),
    )
    widgets: dict[int, Any]
    jobs: dict[int, Any]
    object_links: str
    dependants: str

    def _objects_setup(self) -> None:
        self.deleted_reports: set[str] = set()  # query reports answering 404

    def query_reports(self) -> dict[int, dict[str, Any]]:
        """One report behind each widget (its `source_id`)."""
        return {
            5_000 + w.id: {
                "id": 5_000 + w.id,
                "title": w.title,
                "data_set_id": 1 + w.dashboard_id % N_DATA_SETS,
                "viz_setting": {"viz_type": "table" if w.kind == "sales" else "pie_chart"},
                "created_at": "2025-06-01T00:00:00Z",
            }
            for w in self.widgets.values()
        }

    def data_sets(self) -> dict[int, dict[str, Any]]:
        return {
            i: {
                "id": i,
                "title": f"Data set {i}",
                "data_source_id": 1 + i % N_DATA_SOURCES,
                "project_id": 1 + i % len(PROJECTS),
                "uname": f"data_set_{i}",
            }
            for i in range(1, N_DATA_SETS + 1)
        }

    def data_sources(self) -> dict[int, dict[str, Any]]:
        return {
            i: {
                "id": i,
                "name": f"Warehouse {i}",
                "dbtype": "postgresql",
                "settings": {"query_timeout": 300},
                "dbconfig": {
                    "host": f"db{i}.example.com",
                    "port": 5432,
                    "dbname": "analytics",
                    "password": DB_PASSWORD,  # no doc says it is never returned
                },
            }
            for i in range(1, N_DATA_SOURCES + 1)
        }

    def data_models(
        self, project: int, branch: str | None = None, commit: str | None = None
    ) -> list[dict[str, Any]] | None:
        """The models of a project version; None for a version that does not exist."""
        if commit:
            count = COMMITS.get((project, commit))
        elif branch:
            count = BRANCHES.get((project, branch))
        else:
            count = PROJECTS.get(project)
        if count is None:
            return None
        return [
            {
                "id": project * 100 + k,
                "name": f"model_{project}_{k}",
                "label": f"Model {project}.{k}",
                "type": "table_model",
            }
            for k in range(1, count + 1)
        ]

    def model_ids(self) -> set[int]:
        """Every model id of every version of every project."""
        counts = {**PROJECTS, **{p: n for (p, _), n in BRANCHES.items()}}
        return {p * 100 + k for p, n in counts.items() for k in range(1, n + 1)}

    def downstream(self, kind: str, object_id: int) -> dict[str, list[int]] | None:
        """Dependants by type of an object; None for an object that does not exist."""
        data_sets = self.data_sets()
        if kind == "DataSource" and object_id in self.data_sources():
            return {
                "data_sets": [s for s, d in data_sets.items() if d["data_source_id"] == object_id]
            }
        if kind == "DataSet" and object_id in data_sets:
            used = [r for r, q in self.query_reports().items() if q["data_set_id"] == object_id]
            boards = sorted({self.widgets[r - 5_000].dashboard_id for r in used})
            return {"query_reports": used, "dashboards": boards}
        if kind == "DataModel" and object_id in self.model_ids():
            project = object_id // 100
            return {"data_sets": [s for s, d in data_sets.items() if d["project_id"] == project]}
        return None

    # -- handlers --------------------------------------------------------------------

    def _list_models(self, request: Request) -> Reply:
        raw = request.arg("project_id")
        if raw is None:
            return _invalid("project_id is required", 400)
        if not raw.isdigit():
            return _invalid("project_id must be an integer")
        models = self.data_models(int(raw), request.arg("branch_name"), request.arg("commit_oid"))
        if models is None:
            return _error(404, "BaseError", f"Project {raw} (or its branch or commit) not found")
        return Reply.json({"data_models": models})

    def _get_report(self, request: Request, rid: str) -> Reply:
        report = self.query_reports().get(int(rid))
        if report is None or rid in self.deleted_reports:
            return _error(404, "BaseError", f"Query report {rid} not found")
        if self.object_links == "nested":
            set_id = report.pop("data_set_id")
            report["data_set"] = {"id": set_id, "title": f"Data set {set_id}"}
        return Reply.json({"query_report": report})

    def _get_data_set(self, request: Request, sid: str) -> Reply:
        data_set = self.data_sets().get(int(sid))
        if data_set is None:
            return _error(404, "BaseError", f"Data set {sid} not found")
        if self.object_links == "nested":
            source = data_set.pop("data_source_id")
            data_set["data_source"] = {"id": source, "name": f"Warehouse {source}"}
        return Reply.json({"data_set": data_set})

    def _get_data_source(self, request: Request, sid: str) -> Reply:
        source = self.data_sources().get(int(sid))
        if source is None:
            return _error(404, "BaseError", f"Data source {sid} not found")
        return Reply.json({"data_source": source})

    def _dependencies(self, request: Request) -> Reply:
        kind, raw = request.arg("type"), request.arg("id")
        if kind is None or raw is None:
            return _invalid("id and type are required", 400)
        if kind not in DEPENDENCY_TYPES or not raw.isdigit():
            return _invalid(f"type must be one of {', '.join(DEPENDENCY_TYPES)}, id an integer")
        found = self.downstream(kind, int(raw))
        if found is None:
            return _error(404, "BaseError", f"{kind} {raw} not found")
        if self.dependants == "objects":
            return Reply.json(
                {
                    "dependants": {
                        k: [{"id": i, "name": f"{k} {i}"} for i in v] for k, v in found.items()
                    }
                }
            )
        return Reply.json({"dependants": found})

    def _job_result(self, request: Request, jid: str) -> Reply:
        job = self.jobs.get(int(jid))
        if job is None:
            return _error(404, "BaseError", f"Job {jid} not found")
        return Reply.json(self.job_result(job))

    @staticmethod
    def job_result(job: Any) -> dict[str, Any]:
        """Get Job result's body: `{status, error, result}` (the documented sample)."""
        status = job.status()
        if status == "success":
            result = {"file_name": f"widget_{job.widget.id}.csv", "output": "csv"}
            return {"status": status, "error": None, "result": result}
        error = {"failure": f"Query of widget {job.widget.id} failed", "cancelled": "Job cancelled"}
        return {"status": status, "error": error.get(status), "result": None}
