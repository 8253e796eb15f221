"""The Kissmetrics core API's metadata in the simulator: reports as listed, Report
Details, products and the account, and the forms of HAL links the doc leaves open.

Doc (kissmetrics-api.md:46-81): each listed report links to itself (`self`,
`/core/reports/<id>`, its Report Details, l. 89), its product (`/core/products/<id>`)
and its account (`/core/accounts/<id>`); none of those answers is shown. Here each is a
GET that answers 404 for an id it does not know. Two products: "Active People" belongs
to the second (the product id of the doc's run example, l. 98), the others to the first.

Knobs (`DIALECTS`, default first): `hal_links` — `array` (the doc's
`links: [{rel, href, …}]`), `object` (HAL's `_links: {rel: {href, …}}`), `embedded`
(`_links`, with the product and the account embedded under `_embedded` instead of
linked, and no `product_id`/`account_id` fields); `core_item` — a single object answers
`bare` (like a list item) or `wrapped` in `{meta, data, links}` like every query-API
answer. Tests delete reports with `deleted_reports` (gone from the list, 404 for their
details)."""

from __future__ import annotations

from datetime import UTC
from typing import Any, ClassVar

from sandbox.server import Reply, Request
from sandbox.simulator import Route

ACCOUNT_ID = "51cc9c30-0edf-0131-ead3-12313b0d181e"
ACCOUNT_NAME = "Sandbox Analytics Inc."
PRODUCT_ID = "6c921840-0edf-0131-ead4-12313b0d181e"
MOBILE_PRODUCT_ID = "65faf01a-ab13-1030-97f2-22000a91b1a1"
PRODUCTS = {PRODUCT_ID: "Marketing Site", MOBILE_PRODUCT_ID: "Mobile App"}
# report id → its product, for reports not in the first product
REPORT_PRODUCTS = {"c7e2f5b0-1a2b-0133-4c5d-22000a9a0001": MOBILE_PRODUCT_ID}
CREATED = "2013-12-18T19:27:43+00:00"
UPDATED = "2025-06-02T08:15:00+00:00"

Link = tuple[str, str, str]  # href, rel, name


class CoreMetadata:
    """Mixin of `KissmetricsSim`: the core API's reports, details, products, account."""

    DIALECTS: ClassVar[dict[str, tuple[str, ...]]] = {
        "hal_links": ("array", "object", "embedded"),
        "core_item": ("bare", "wrapped"),
    }
    deleted_reports: set[str]

    METADATA_ROUTES = (
        Route("api", "GET", r"/core/reports/(?P<rid>[^/]+)", "_get_report"),
        Route("api", "GET", r"/core/products/(?P<pid>[^/]+)", "_get_product"),
        Route("api", "GET", r"/core/accounts/(?P<aid>[^/]+)", "_get_account"),
    )

    # -- what tests use ---------------------------------------------------------------

    @staticmethod
    def product_of(report_id: str) -> str:
        return REPORT_PRODUCTS.get(report_id, PRODUCT_ID)

    def listed(self) -> list[Any]:
        """The report definitions the reports list shows (deleted ones left out)."""
        return [d.report for d in self.data.values() if d.report.id not in self.deleted_reports]

    def metadata_truth(self) -> dict[str, list[tuple]]:
        """Per metadata table, what a full load holds: (id, name[, description]) rows."""
        reports = self.listed()
        products = dict.fromkeys(self.product_of(r.id) for r in reports)
        return {
            "products": sorted((pid, PRODUCTS[pid]) for pid in products),
            "accounts": [(ACCOUNT_ID, ACCOUNT_NAME)] if reports else [],
            "report_details": sorted(
                (r.id, self.renamed.get(r.id, r.name), _description(r)) for r in reports
            ),
        }

    def runs_truth(self) -> list[tuple]:
        """(report id, window start, export link, rows) of every query whose results
        were served: what `report_runs` holds after the runs that read them."""
        base = self.query.base_url
        return sorted(
            (q.report.id, q.start.astimezone(UTC), f"{base}/v2/queries/{qid}/export", q.total)
            for qid, q in self.queries.items()
            if q.total is not None
        )

    def metadata_counts(self) -> dict[str, int]:
        """Rows per metadata table and `report_runs` (tests/truth.py)."""
        counts = {table: len(rows) for table, rows in self.metadata_truth().items()}
        return {**counts, "report_runs": len(self.runs_truth())}

    # -- bodies ----------------------------------------------------------------------

    def _report_json(self, report: Any, *, details: bool = False) -> dict[str, Any]:
        api, product = self.api.base_url, self.product_of(report.id)
        body: dict[str, Any] = {
            "created_at": CREATED,
            "name": self.renamed.get(report.id, report.name),
            "report_type": report.report_type,
            "account_id": ACCOUNT_ID,
            "product_id": product,
            "id": report.id,
        }
        columns = self.data[report.id].columns()
        if columns:
            body["columns"] = columns
        if details:
            body.update(description=_description(report), updated_at=UPDATED)
        links = [
            (f"{api}/core/reports/{report.id}", "self", "Self"),
            *self._run_link(report, product),
            (f"{api}/core/products/{product}", "product", "Product"),
            (f"{api}/core/accounts/{ACCOUNT_ID}", "account", "Account"),
        ]
        inner = {"product": self._product_json(product), "account": self._account_json()}
        return self._hal(body, links, inner)

    def _run_link(self, report: Any, product: str) -> list[Link]:
        if self.run_link == "absent":
            return []
        if self.run_link == "api":  # as in the doc's reports list example
            return [(f"{self.api.base_url}/query/reports/{report.id}/run", "run", "Run Report")]
        query = self.query.base_url  # as in the doc's run example
        return [(f"{query}/v2/products/{product}/reports/{report.id}/run", "run", "Run Report")]

    def _product_json(self, pid: str) -> dict[str, Any]:
        api = self.api.base_url
        body = {"id": pid, "name": PRODUCTS[pid], "created_at": CREATED, "account_id": ACCOUNT_ID}
        links = [
            (f"{api}/core/products/{pid}", "self", "Self"),
            (f"{api}/core/accounts/{ACCOUNT_ID}", "account", "Account"),
        ]
        return self._hal(body, links)

    def _account_json(self) -> dict[str, Any]:
        body = {"id": ACCOUNT_ID, "name": ACCOUNT_NAME, "created_at": CREATED}
        href = f"{self.api.base_url}/core/accounts/{ACCOUNT_ID}"
        return self._hal(body, [(href, "self", "Self")])

    def _hal(
        self, body: dict[str, Any], links: list[Link], inner: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """`body` with its links in the `hal_links` form."""
        if self.hal_links == "array":
            return {"links": [link(*each) for each in links], **body}
        embedded = (inner or {}) if self.hal_links == "embedded" else {}
        keyed = {
            rel: {"href": href, "name": name, "templated": False}
            for href, rel, name in links
            if rel not in embedded
        }
        # what is embedded is named there only: no link, no `<rel>_id` field
        fields = {k: v for k, v in body.items() if k.removesuffix("_id") not in embedded}
        return {"_links": keyed, **fields, **({"_embedded": embedded} if embedded else {})}

    def _item(self, body: dict[str, Any]) -> Reply:
        """A single object in the `core_item` form."""
        if self.core_item == "bare":
            return Reply.json(body)
        key = "links" if "links" in body else "_links"
        data = {k: v for k, v in body.items() if k != key}
        return Reply.json({"meta": {"status": 200}, "data": data, key: body[key]})

    # -- routes ----------------------------------------------------------------------

    def _get_report(self, request: Request, rid: str) -> Reply:
        if rid not in self.data or rid in self.deleted_reports:
            return error(404, f"report {rid} not found")
        return self._item(self._report_json(self.data[rid].report, details=True))

    def _get_product(self, request: Request, pid: str) -> Reply:
        if pid not in PRODUCTS:
            return error(404, f"product {pid} not found")
        return self._item(self._product_json(pid))

    def _get_account(self, request: Request, aid: str) -> Reply:
        if aid != ACCOUNT_ID:
            return error(404, f"account {aid} not found")
        return self._item(self._account_json())


def _description(report: Any) -> str:
    return f"{report.name} ({report.report_type})"


def link(href: str, rel: str, name: str) -> dict[str, Any]:
    return {"templated": False, "href": href, "rel": rel, "name": name}


def error(status: int, message: str) -> Reply:
    return Reply.json({"meta": {"status": status, "message": message}}, status)
