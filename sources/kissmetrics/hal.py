"""HAL links, embedded objects and single-object answers, in every form the Kissmetrics
API may send them.

The doc shows one form (kissmetrics-api.md:48-73): `links`, a list of
`{rel, href, name, templated}`. HAL's own form is `_links`, an object keyed by rel whose
value is a link or a list of links, with related objects possibly embedded under
`_embedded` (keyed by rel) instead of linked. The doc's examples are samples, not a
schema, so each reader here accepts all of them (sandbox knob `hal_links`)."""

from __future__ import annotations

from typing import Any

import httpx


def links(body: Any) -> list[tuple[str, str]]:
    """Every (rel, href) of a body, in the order given, from `links` and `_links`."""
    if not isinstance(body, dict):
        return []
    found: list[tuple[str, str]] = []
    listed = body.get("links")
    for link in listed if isinstance(listed, list) else []:
        if isinstance(link, dict) and link.get("rel") and link.get("href"):
            found.append((str(link["rel"]), str(link["href"])))
    keyed = body.get("_links")
    for rel, value in keyed.items() if isinstance(keyed, dict) else []:
        for link in value if isinstance(value, list) else [value]:
            if isinstance(link, dict) and link.get("href"):
                found.append((str(rel), str(link["href"])))
    return found


def link_href(body: Any, rel: str) -> str | None:
    """The `href` of the body's first link with `rel`."""
    return next((href for name, href in links(body) if name == rel), None)


def embedded(body: Any, rel: str) -> dict[str, Any] | None:
    """The object embedded under `_embedded.<rel>` (the first, if a list)."""
    found = body.get("_embedded") if isinstance(body, dict) else None
    value = found.get(rel) if isinstance(found, dict) else None
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, dict) else None


def related_id(body: Any, rel: str) -> str | None:
    """The id of the body's related `rel` object: its `<rel>_id` field (as the doc's
    reports carry `product_id`), else the embedded object's `id`, else the last path
    segment of the link to it."""
    if not isinstance(body, dict):
        return None
    if body.get(f"{rel}_id"):
        return str(body[f"{rel}_id"])
    inner = embedded(body, rel)
    if inner and inner.get("id"):
        return str(inner["id"])
    href = link_href(body, rel) or link_href(inner, "self")
    return last_segment(href) if href else None


def related_href(body: Any, rel: str) -> str | None:
    """Where the related `rel` object is read: the link to it, else the embedded
    object's own `self` link."""
    return link_href(body, rel) or link_href(embedded(body, rel), "self")


def last_segment(href: str) -> str:
    return httpx.URL(href).path.rstrip("/").rsplit("/", 1)[-1]


def single(body: Any) -> dict[str, Any] | None:
    """A single-object answer: the object itself (like a list item), or `data` of a
    `{meta, data, links}` envelope (like every query-API answer), the envelope's links
    kept when the object has none. None when it is neither."""
    if not isinstance(body, dict):
        return None
    data = body.get("data")
    if isinstance(data, dict) and ("meta" in body or set(body) <= {"data", "links", "_links"}):
        item = dict(data)
        for key in ("links", "_links"):
            if key in body and key not in item:
                item[key] = body[key]
        return item
    return body if body and not isinstance(data, list) else None
