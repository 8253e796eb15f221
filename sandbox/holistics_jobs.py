"""The Holistics simulator's export jobs: `POST /dashboard_widgets/{id}/submit_export`,
List Jobs, Get a Job, its logs, and `GET /exports/download`, which redirects to the
storage host (a URL signed in its path, or pre-signed in its query string as S3 does)
or answers the file itself.

A job goes created → queued → running → success (or failure / cancelled for the widgets
in `fail_widgets` / `cancel_widgets`, or a status nobody documents for
`odd_status_widgets`) over `job_latency` seconds."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from sandbox import holistics_realistic as realistic
from sandbox.holistics_metadata import _error
from sandbox.holistics_widgets import Widget
from sandbox.server import Reply, Request

# the job states of the docs (created, queued, running, success, failure, cancelled) in
# each vocabulary a Holistics build might speak
JOB_STATES: dict[str, dict[str, str]] = {
    "documented": {},
    "pending_processing_succeeded": {
        "created": "pending",
        "queued": "pending",
        "running": "processing",
        "success": "succeeded",
        "failure": "failed",
        "cancelled": "canceled",
    },
    "in_progress_completed_error": {
        "running": "in_progress",
        "success": "completed",
        "failure": "error",
    },
    "upper_case": {s: s.upper() for s in ("created", "queued", "running", "success", "failure")}
    | {"cancelled": "CANCELLED"},
}


S3_SIGNED = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
)


STORAGE_SECRET = b"sandbox-storage-secret"


@dataclass
class Job:
    id: int
    widget: Widget
    conditions: list[dict[str, Any]]
    created: float
    latency: float
    outcome: str  # success | failure | cancelled
    created_at: str

    def status(self) -> str:
        if self.latency <= 0:
            return self.outcome
        share = (time.monotonic() - self.created) / self.latency
        if share < 0.2:
            return "created"
        if share < 0.5:
            return "queued"
        if share < 1.0:
            return "running"
        return self.outcome

    def json(self, states: str = "documented", rows: int | None = None) -> dict[str, Any]:
        status = self.status()
        body = {
            "id": self.id,
            "status": JOB_STATES[states].get(status, status),
            "source_type": "DashboardWidget",
            "source_id": self.widget.id,
            "source_method": "export",
            "created_at": self.created_at,
        }
        if rows is not None and status == "success":
            body["row_count"] = rows
        return body


def _signature(name: str, query: dict[str, str]) -> str:
    signed = "&".join(f"{k}={query.get(k, '')}" for k in S3_SIGNED[:-1])
    return hmac.new(STORAGE_SECRET, f"{name}?{signed}".encode(), hashlib.sha256).hexdigest()


def _presigned(name: str, nonce: str) -> dict[str, str]:
    """The query string of an S3 pre-signed GET of `name`."""
    now = datetime.now(UTC)
    query = {
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": f"AKIA{nonce[:8].upper()}/{now:%Y%m%d}/us-east-1/s3/aws4_request",
        "X-Amz-Date": f"{now:%Y%m%dT%H%M%SZ}",
        "X-Amz-Expires": "300",
        "X-Amz-SignedHeaders": "host",
    }
    return {**query, "X-Amz-Signature": _signature(name, query)}


def _joined(chunks: Iterator[bytes], size: int = 1 << 20) -> list[bytes]:
    """Chunks regrouped into about `size` bytes each."""
    out: list[bytes] = []
    held: list[bytes] = []
    length = 0
    for chunk in chunks:
        held.append(chunk)
        length += len(chunk)
        if length >= size:
            out.append(b"".join(held))
            held, length = [], 0
    if held:
        out.append(b"".join(held))
    return out


class ExportJobs:
    """Mixed into `HolisticsSim` (which has the widgets, the CSV and the knobs)."""

    def _submit_export(self, request: Request, wid: str) -> Reply:
        widget = self.widgets.get(int(wid)) or realistic.widget(int(wid), self.realistic_rows)
        if widget is None:
            return _error(404, "BaseError", f"Dashboard widget {wid} not found")
        if wid in self.forbidden_widgets | self.unexportable_widgets:
            return _error(
                403, "PermissionDeniedError", "You do not have permission to export this widget"
            )
        try:
            body = request.json() or {}
        except ValueError:
            return _error(400, "InvalidParameterError", "body is not JSON")
        output = body.get("output") if self.output_param == "body" else request.arg("output")
        if output not in ("csv", "xlsx", "pdf"):
            return _error(422, "InvalidParameterError", "output must be one of csv, xlsx, pdf")
        if output != "csv":
            return _error(422, "InvalidOperationError", "only csv exports are simulated")
        conditions = body.get("dashboard_filter_conditions") or []
        if not isinstance(conditions, list):
            return _error(422, "InvalidParameterError", "dashboard_filter_conditions: a list")
        if wid in self.odd_status_widgets:
            outcome = "archived"
        elif wid in self.fail_widgets:
            outcome = "failure"
        elif wid in self.cancel_widgets:
            outcome = "cancelled"
        else:
            outcome = "success"
        with self._lock:
            job_id = 9_000 + len(self.jobs) + 1
            self.jobs[job_id] = Job(
                job_id,
                widget,
                conditions,
                time.monotonic(),
                self.job_latency,
                outcome,
                datetime.now(UTC).isoformat(),
            )
            self.exports.append((widget.id, conditions))
        return Reply.json({"job": {"id": job_id, "status": "created"}})

    def _job_ids(self, request: Request) -> list[str]:
        """The ids as this dialect reads them: a Rails array, every repeated `ids` (each
        an integer), or the last `ids` split at commas (Rails keeps the last of a repeat)."""
        if self.job_ids == "rails_array":
            return request.query.get("ids[]", [])
        values = request.query.get("ids", [])
        if self.job_ids == "repeated":
            return values
        return values[-1].split(",") if values else []

    def _list_jobs(self, request: Request) -> Reply:
        if self.job_ids == "unsupported":
            return _error(404, "BaseError", "Not found")
        raw = self._job_ids(request)
        if not raw:
            return _error(422, "InvalidParameterError", "ids is required")
        if not all(v.strip().isdigit() for v in raw):
            return _error(400, "InvalidParameterError", "ids must be an array of integers")
        if len(raw) > 100:
            return _error(422, "InvalidParameterError", "at most 100 ids per request")
        jobs = [self.jobs[int(i)] for i in raw if int(i) in self.jobs]
        if self.unknown_shape:
            return Reply.json({"data": [self._jsonapi(job) for job in jobs]})
        return Reply.json({"jobs": [self._job_json(job) for job in jobs]})

    def _get_job(self, request: Request, jid: str) -> Reply:
        job = self.jobs.get(int(jid))
        if job is None:
            return _error(404, "BaseError", f"Job {jid} not found")
        if self.unknown_shape:
            return Reply.json({"data": self._jsonapi(job)})
        return Reply.json({"job": self._job_json(job)})

    def _job_json(self, job: Job) -> dict[str, Any]:
        rows = None
        if self.row_count == "job_field":
            rows = sum(1 for _ in self.csv_rows(job.widget.id, job.conditions))
        return job.json(self.job_states, rows)

    def _jsonapi(self, job: Job) -> dict[str, Any]:
        """The `unknown_shape` plant: a job as no reading of the Holistics docs gives it."""
        return {"type": "job", "id": str(job.id), "attributes": {"state": job.status()}}

    def _job_logs(self, request: Request, jid: str) -> Reply:
        job = self.jobs.get(int(jid))
        if job is None:
            return _error(404, "BaseError", f"Job {jid} not found")
        return Reply.json({"job_logs": self.log_entries(job)})

    @staticmethod
    def log_entries(job: Job) -> list[dict[str, Any]]:
        logs = [{"id": 1, "job_id": job.id, "level": "info", "message": "Job started"}]
        status = job.status()
        if status == "failure":
            logs.append(
                {
                    "id": 2,
                    "job_id": job.id,
                    "level": "error",
                    "message": f'Query of widget {job.widget.id} failed: relation "sales" '
                    "does not exist",
                }
            )
        elif status == "cancelled":
            logs.append({"id": 2, "job_id": job.id, "level": "warn", "message": "Job cancelled"})
        return logs

    def _download(self, request: Request) -> Reply:
        raw = request.arg("job_id") or ""
        job = self.jobs.get(int(raw)) if raw.isdigit() else None
        if job is None:
            return _error(404, "BaseError", f"Job {raw} not found")
        if job.status() != "success":
            return _error(422, "InvalidOperationError", f"Job {raw} has not succeeded")
        if self.download == "direct":
            return self._export(job)
        token = hashlib.sha1(f"{job.id}:{time.monotonic()}".encode()).hexdigest()
        name = f"widget_{job.widget.id}.csv"
        if self.download == "query_signed":
            query = _presigned(name, token)
            token = query["X-Amz-Signature"]
            location = f"{self.storage.base_url}/signed/{name}?{urlencode(query)}"
        else:
            location = f"{self.storage.base_url}/files/{token}/{name}"
        with self._lock:
            self._files[token] = job.id
        return Reply(302, b"", headers={"Location": location})

    def _file(self, request: Request, token: str, name: str) -> Reply:
        job_id = self._files.get(token)
        if job_id is None:
            return Reply(403, b"<Error>AccessDenied</Error>", "application/xml")
        return self._export(self.jobs[job_id])

    def _signed(self, request: Request, name: str) -> Reply:
        """An S3-style pre-signed URL: exactly the signed query parameters, no credentials
        of ours, or 403 `SignatureDoesNotMatch`."""
        query = {k: v[0] for k, v in request.query.items() if len(v) == 1}
        intact = (
            set(request.query) == set(S3_SIGNED)
            and len(query) == len(S3_SIGNED)
            and not {"authorization", "x-holistics-key"} & set(request.headers)
            and hmac.compare_digest(_signature(name, query), query["X-Amz-Signature"])
        )
        job_id = self._files.get(query.get("X-Amz-Signature", "")) if intact else None
        if job_id is None:
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SignatureDoesNotMatch'
                "</Code><Message>The request signature we calculated does not match the "
                "signature you provided. Check your key and signing method.</Message></Error>"
            )
            return Reply(403, body.encode(), "application/xml")
        return self._export(self.jobs[job_id])

    def _export(self, job: Job) -> Reply:
        """The export's CSV, streamed (or from the benchmark cache)."""
        if not self.cache_exports:
            chunks = self._csv_chunks(job.widget, job.conditions)
            return Reply(200, chunks, "text/csv; charset=utf-8")
        window = self._window(job.widget, job.conditions)
        if window is not None:  # the same rows whatever the window reaches beyond the data
            first, last = self.data_start.date().isoformat(), self.data_end.date().isoformat()
            window = (max(window[0], first), min(window[1], last))
        key = (job.widget.id, window)
        cached = self._export_cache.get(key)
        if cached is None:
            cached = self._export_cache[key] = _joined(self._csv_chunks(job.widget, job.conditions))
        return Reply(200, iter(cached), "text/csv; charset=utf-8")
