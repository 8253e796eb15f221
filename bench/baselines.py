"""The baselines a bulk load is measured against, each run as a child process:

    python -m bench.baselines fetch SOURCE DIR    (a) bare httpx: the same pages or file, to disk
    python -m bench.baselines ingest SOURCE DIR   (b) DuckDB reads the fetched bytes natively

The sandbox's settings come from the environment, as for the pipeline. Each prints one
JSON line: seconds (of the measured part only), rows, requests, bytes."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pendulum

CONCURRENCY = 4
PAGE_SIZE = 1000


def _start_date() -> pendulum.Date:
    return pendulum.parse(os.environ[f"SOURCES__{_SOURCE.upper()}__START_DATE"]).date()


_SOURCE = ""


# -- (a) fetch -------------------------------------------------------------------------


class Fetch:
    def __init__(self, out: Path) -> None:
        self.out, self.requests, self.bytes, self.pages = out, 0, 0, 0

    def save(self, body: bytes) -> None:
        (self.out / f"page_{self.pages:06d}.json").write_bytes(body)
        self.pages += 1
        self.bytes += len(body)

    async def send(
        self, client: httpx.AsyncClient, method: str, url: str, **kw: Any
    ) -> httpx.Response:
        self.requests += 1
        response = await client.request(method, url, **kw)
        response.raise_for_status()
        return response

    async def gather_pages(self, urls: list[Any], fetch) -> None:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(item: Any) -> None:
            async with gate:
                self.save(await fetch(item))

        await asyncio.gather(*(one(u) for u in urls))


async def fetch_holistics(f: Fetch) -> None:
    from bench.cases import CSV_DATE_FILTER, CSV_WIDGET

    base = os.environ["SOURCES__HOLISTICS__BASE_URL"]
    headers = {"X-Holistics-Key": os.environ["SOURCES__HOLISTICS__API_KEY"]}
    today = pendulum.today("UTC").date()
    window = [_start_date().isoformat(), today.isoformat()]
    body = {
        "output": "csv",
        "dashboard_filter_conditions": [
            {
                "dynamic_filter_id": CSV_DATE_FILTER,
                "condition": {"operator": "between", "values": window},
            }
        ],
    }
    async with httpx.AsyncClient(headers=headers, timeout=120, follow_redirects=True) as client:
        url = f"{base}/dashboard_widgets/{CSV_WIDGET}/submit_export"
        job = (await f.send(client, "POST", url, params={"output": "csv"}, json=body)).json()
        job_id = job["job"]["id"]
        while True:
            status = (await f.send(client, "GET", f"{base}/jobs/{job_id}")).json()["job"]
            if status["status"] == "success":
                break
            await asyncio.sleep(0.05)
        f.requests += 1
        async with client.stream(
            "GET", f"{base}/exports/download", params={"job_id": job_id}
        ) as response:
            response.raise_for_status()
            with open(f.out / "export.csv", "wb") as sink:
                async for chunk in response.aiter_raw():
                    sink.write(chunk)
                    f.bytes += len(chunk)
        f.requests += len(response.history)


async def fetch_kissmetrics(f: Fetch) -> None:
    from bench.cases import KISSMETRICS_REPORT

    api = os.environ["SOURCES__KISSMETRICS__API_URL"]
    headers = {"Authorization": f"Bearer {os.environ['SOURCES__KISSMETRICS__API_TOKEN']}"}
    start = pendulum.datetime(*_start_date().timetuple()[:3], tz="UTC")
    end = pendulum.now("UTC").replace(microsecond=0)
    async with httpx.AsyncClient(headers=headers, timeout=60) as client:
        reports = (await f.send(client, "GET", f"{api}/core/reports")).json()
        report = next(r for r in reports if r["id"] == KISSMETRICS_REPORT)
        run = next(link["href"] for link in report["links"] if link["rel"] == "run")
        body = {"start_date": start.isoformat(), "end_date": end.isoformat()}
        status_url = (await f.send(client, "POST", run, json=body)).headers["location"]
        while True:
            answer = await f.send(client, "GET", status_url)
            if answer.status_code == 201:
                results = answer.headers["location"]
                break
            await asyncio.sleep(0.05)
        first = (
            await f.send(client, "GET", results, params={"limit": PAGE_SIZE, "offset": 0})
        ).content
        f.save(first)
        total = json.loads(first)["pagination"]["total"]

        async def page(offset: int) -> bytes:
            params = {"limit": PAGE_SIZE, "offset": offset}
            return (await f.send(client, "GET", results, params=params)).content

        await f.gather_pages(list(range(PAGE_SIZE, total, PAGE_SIZE)), page)


async def fetch_datawiz(f: Fetch) -> None:
    from sources.datawiz.queries import parse_tables

    env = os.environ
    form = {
        "grant_type": "password",
        "client_id": env["SOURCES__DATAWIZ__CLIENT_ID"],
        "client_secret": env["SOURCES__DATAWIZ__CLIENT_SECRET"],
        "username": env["SOURCES__DATAWIZ__USERNAME"],
        "password": env["SOURCES__DATAWIZ__PASSWORD"],
    }
    spec = parse_tables(json.loads(env["SOURCES__DATAWIZ__TABLES"]))[0]
    body = spec.body(_start_date(), pendulum.yesterday("UTC").date())
    async with httpx.AsyncClient(timeout=60) as client:
        token = (await f.send(client, "POST", env["SOURCES__DATAWIZ__TOKEN_URL"], data=form)).json()
        client.headers.update(
            {
                "Authorization": f"{token['token_type']} {token['access_token']}",
                "client-id": env["SOURCES__DATAWIZ__ACCOUNT_ID"],
            }
        )
        url = f"{env['SOURCES__DATAWIZ__API_URL']}/api/builder/create-table/"
        params = {"page": 1, "page_size": PAGE_SIZE}
        first = (await f.send(client, "POST", url, params=params, json=body)).content
        f.save(first)
        pages = -(-json.loads(first)["count"] // PAGE_SIZE)

        async def page(n: int) -> bytes:
            params = {"page": n, "page_size": PAGE_SIZE}
            return (await f.send(client, "POST", url, params=params, json=body)).content

        await f.gather_pages(list(range(2, pages + 1)), page)


async def fetch_quantive(f: Fetch) -> None:
    env = os.environ
    base = env["SOURCES__QUANTIVE__BASE_URL"]
    headers = {
        "Authorization": f"Bearer {env['SOURCES__QUANTIVE__ACCESS_TOKEN']}",
        "gtmhub-accountId": env["SOURCES__QUANTIVE__ACCOUNT_ID"],
    }
    async with httpx.AsyncClient(headers=headers, timeout=60) as client:
        ids: list[str] = []
        while True:
            params = {"skip": len(ids), "take": 100}
            page = (await f.send(client, "GET", f"{base}/v2/kpis", params=params)).json()
            ids += [k["id"] for k in page["items"]]
            if not page["items"] or len(ids) >= page["totalCount"]:
                break
        first, last = _start_date(), pendulum.yesterday("UTC").date()
        requests = []
        day = first
        while day <= last:
            until = min(last, day.add(days=91))
            for i in range(0, len(ids), 50):
                requests.append((ids[i : i + 50], day, until))
            day = until.add(days=1)

        async def snap(item: tuple[list[str], Any, Any]) -> bytes:
            batch, lo, hi = item
            params = {
                "ids": ",".join(batch),
                "from": lo.isoformat(),
                "to": hi.isoformat(),
                "timeZone": "UTC",
                "groupBy": "day",
            }
            return (await f.send(client, "GET", f"{base}/v1/kpi-snapshots", params=params)).content

        await f.gather_pages(requests, snap)


# -- (b) DuckDB ingest -------------------------------------------------------------------

INGEST = {
    "holistics": "CREATE TABLE t AS SELECT * FROM read_csv('{dir}/export.csv')",
    "kissmetrics": "CREATE TABLE t AS SELECT unnest(data) AS row "
    "FROM read_json('{dir}/page_*.json', maximum_object_size=268435456)",
    "datawiz": "CREATE TABLE t AS SELECT unnest(results.dataSource, recursive := true) "
    "FROM read_json('{dir}/page_*.json', maximum_object_size=268435456)",
    "quantive": "CREATE TABLE t AS SELECT j.key AS kpi_id, "
    'unnest(from_json(j.value, \'[{{"group": "VARCHAR", "value": "DOUBLE"}}]\'), '
    "recursive := true) FROM read_json_objects('{dir}/page_*.json', "
    "maximum_object_size=268435456) AS o, json_each(o.json) AS j",
}


def ingest(source: str, directory: Path) -> dict[str, Any]:
    import duckdb

    started = time.perf_counter()
    with duckdb.connect(str(directory / "ingest.duckdb")) as con:
        con.execute(INGEST[source].format(dir=directory))
        rows = con.execute("SELECT count(*) FROM t").fetchone()[0]
    return {"seconds": time.perf_counter() - started, "rows": rows}


def main(argv: list[str] | None = None) -> int:
    global _SOURCE
    parser = argparse.ArgumentParser(prog="python -m bench.baselines")
    parser.add_argument("step", choices=("fetch", "ingest"))
    parser.add_argument("source", choices=("holistics", "kissmetrics", "datawiz", "quantive"))
    parser.add_argument("dir", type=Path)
    args = parser.parse_args(argv)
    _SOURCE = args.source
    args.dir.mkdir(parents=True, exist_ok=True)
    if args.step == "fetch":
        for stale in args.dir.glob("page_*.json"):
            stale.unlink()
        f = Fetch(args.dir)
        started = time.perf_counter()
        asyncio.run(globals()[f"fetch_{args.source}"](f))
        result = {
            "seconds": time.perf_counter() - started,
            "requests": f.requests,
            "bytes": f.bytes,
        }
    else:
        result = ingest(args.source, args.dir)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
