"""The shared no-silent-loss guarantee (sources/common/completeness.py and names; paging's
share is in test_paging.py) and the HTTP layer's tolerance of the forms the vendor docs
leave open: pre-signed redirects, refusals from hosts that got no credentials, waits
spelled as Unix times."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pyarrow as pa
import pytest

from sandbox.server import Reply, VendorServer, reset_value
from sources.common.arrow import positional_rows_to_table
from sources.common.completeness import Incomplete, RepeatGuard, Tally, unreadable
from sources.common.errors import AuthError, MalformedResponse, VendorError
from sources.common.http import HttpPolicy, ScopedAuth, VendorHttp, origin_of
from sources.common.names import column_names, with_fields
from sources.common.records import records_to_table
from sources.common.redaction import register_secret
from sources.common.retry import parse_rate_limit_reset, parse_retry_after
from sources.common.stats import SourceStats

SECRET = "completeness-test-secret"
FAST = HttpPolicy(backoff_initial=0.01, backoff_max=0.05, max_attempts=4, read_timeout=2)
SIGNATURE = {"X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Signature": "abc123"}


# -- Tally and RepeatGuard ----------------------------------------------------------------


def test_tally_fails_a_part_that_read_fewer_rows_than_it_received() -> None:
    tally = Tally("window 2026-05-04", source="src", endpoint="GET /x")
    tally.received(3)
    tally.emitted(2)
    with pytest.raises(Incomplete) as caught:
        tally.settle()
    assert caught.value.line() == (
        "src: GET /x: window 2026-05-04: 3 record(s) received but 2 row(s) read "
        "(records this source could not read; nothing of this part was loaded)"
    )


def test_tally_fails_when_fewer_records_came_than_announced() -> None:
    tally = Tally("list", source="src")
    tally.declared(10)
    tally.received(8)
    tally.emitted(8)
    with pytest.raises(Incomplete, match=r"announced 10 record\(s\) and sent 8"):
        tally.settle()


def test_tally_settles_when_everything_is_accounted_for() -> None:
    tally = Tally("list", source="src")
    tally.declared(4)
    tally.received(4)
    tally.emitted(4)
    tally.settle()


def test_repeat_guard_refuses_an_item_sent_on_two_pages() -> None:
    guard = RepeatGuard("kpis", source="src", endpoint="GET /v2/kpis")
    guard.seen("skip 0", ["a", "b"])
    with pytest.raises(MalformedResponse, match="skip 2 repeats 'a' already sent at skip 0"):
        guard.seen("skip 2", ["a", "b"])


def test_unreadable_names_what_was_seen_without_secrets() -> None:
    register_secret(SECRET)
    error = unreadable("expected snapshot groups", {"weird": [1, 2], "token": SECRET}, source="src")
    line = error.line()
    assert "expected snapshot groups; got an object with keys [weird, token]" in line
    assert SECRET not in line and "***" in line


# -- names, records and drift --------------------------------------------------------------


def test_vendor_names_never_clash_with_each_other_or_the_sources_columns() -> None:
    names = column_names(["kpiId", "kpi_id", "Count", "count", "value"], reserved=["kpi_id"])
    assert names == ["kpi_id__vendor", "kpi_id__vendor_2", "count", "count__vendor", "value"]
    assert with_fields({"kpiId": "v", "x": 1}, {"kpi_id": "ours"}) == {
        "kpi_id": "ours",
        "kpi_id__vendor": "v",
        "x": 1,
    }


def test_records_keep_a_drifted_value_instead_of_failing_the_cast() -> None:
    records = [{"value": 1.5, "timeZone": "UTC"}, {"value": "1000 pts", "timeZone": "UTC"}]
    table = records_to_table(
        records, constants={"time_zone": "UTC+1"}, types={"value": pa.float64()}
    )
    assert table.column("value").to_pylist() == ["1.5", "1000 pts"]
    assert table.column("time_zone").to_pylist() == ["UTC+1", "UTC+1"]
    assert table.column("time_zone__vendor").to_pylist() == ["UTC", "UTC"]


def test_positional_columns_with_one_name_keep_both() -> None:
    table = positional_rows_to_table([[1, 2, 3]], ["Revenue", "revenue"], reserved=["_row_number"])
    assert table.column_names == ["revenue", "revenue__vendor", "col_2"]


# -- HTTP: pre-signed redirects, foreign refusals, waits as Unix times ---------------------


@pytest.fixture
def hosts() -> Iterator[tuple[VendorServer, VendorServer]]:
    """A vendor whose download redirects to storage signing in the query string, as S3
    does; storage refuses any extra parameter or an Authorization header."""
    vendor, storage = VendorServer("vendor"), VendorServer("storage")

    def signed(req) -> Reply:
        if req.query != {k: [v] for k, v in SIGNATURE.items()} or "authorization" in req.headers:
            return Reply(403, b"<Error><Code>SignatureDoesNotMatch</Code></Error>", "text/xml")
        return Reply(200, b"a,b\n1,2\n", "text/csv")

    def download(req) -> Reply:
        query = "&".join(f"{k}={v}" for k, v in SIGNATURE.items())
        return Reply(302, b"", headers={"Location": f"{storage.base_url}/blob?{query}"})

    storage.route("GET", r"/blob", signed)
    vendor.route("GET", r"/exports/download", download)
    vendor.start()
    storage.start()
    yield vendor, storage
    vendor.stop()
    storage.stop()


def client(vendor: VendorServer) -> VendorHttp:
    auth = ScopedAuth([origin_of(vendor.base_url)], lambda: {"Authorization": SECRET})
    return VendorHttp(
        "src", base_urls=[vendor.base_url], auth=auth, policy=FAST, stats=SourceStats()
    )


def test_a_redirect_keeps_the_targets_own_query_string(hosts, tmp_path) -> None:
    vendor, storage = hosts
    http = client(vendor)

    async def go() -> int:
        async with http:
            url = f"{vendor.base_url}/exports/download"
            return await http.download_to_path(url, tmp_path / "f", params={"job_id": 7})

    assert asyncio.run(go()) == 8
    assert vendor.requests[0].query == {"job_id": ["7"]}
    assert storage.requests[0].query == {k: [v] for k, v in SIGNATURE.items()}


def test_a_refusal_from_a_host_without_our_credentials_is_not_an_auth_error(hosts) -> None:
    vendor, storage = hosts
    storage._routes.clear()
    storage.route("GET", r"/blob", lambda req: Reply(403, b"SignatureDoesNotMatch", "text/xml"))
    http = client(vendor)

    async def go() -> None:
        async with http:
            await http.request("GET", f"{vendor.base_url}/exports/download")

    with pytest.raises(VendorError) as caught:
        asyncio.run(go())
    assert not isinstance(caught.value, AuthError)
    assert caught.value.exit_code == 1
    assert "which got no credentials from us: SignatureDoesNotMatch" in caught.value.line()


@pytest.mark.parametrize("form", ["seconds", "unix", "unix_ms"])
def test_waits_are_read_in_every_form(form: str) -> None:
    now = time.time()
    value = reset_value(30, form)
    assert 28 <= parse_retry_after(value, now=now) <= 32
    assert 28 <= parse_rate_limit_reset(value, now=now) <= 32


@pytest.mark.parametrize("form", ["seconds", "unix"])
def test_a_429_with_a_unix_time_retry_after_is_waited_for(form: str) -> None:
    vendor = VendorServer("vendor")
    vendor.route("GET", r"/items", lambda req: Reply.json({"items": [1]}))
    vendor.faults.rate_limit_burst, vendor.faults.retry_after = 1, 0.5
    vendor.faults.reset_format = form
    vendor.start()
    try:

        async def go():
            async with (http := client(vendor)):
                return await http.get_json(f"{vendor.base_url}/items"), http.stats

        body, stats = asyncio.run(go())
    finally:
        vendor.stop()
    assert body == {"items": [1]}
    assert stats.rate_limited == 1
