"""Holistics error bodies `{type, message, details}` on one line, by type
(vendor-docs/holistics-api-v2.txt, "Errors")."""

from __future__ import annotations

import re

import httpx

from sources.common.http import describe_plain

_OBJECT = re.compile(r"/([a-z_]+)/(\d+)(?:/[a-z_]+)?/?$")


def _object_of(url: httpx.URL) -> str | None:
    """`dashboard_widgets/17/submit_export` → 'dashboard widget 17'."""
    match = _OBJECT.search(url.path)
    if not match:
        return None
    kind = match.group(1).removesuffix("s").replace("_", " ")
    return f"{kind} {match.group(2)}"


def describe_error(response: httpx.Response) -> str:
    """The documented error body `{type, message, details}` on one line, by type."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not (body.get("type") or body.get("message")):
        return describe_plain(response)
    kind = str(body.get("type") or "BaseError")
    message = " ".join(str(body.get("message") or "").split())
    details = body.get("details") if isinstance(body.get("details"), dict) else {}
    text = f"{kind}: {message}" if message else kind
    if kind == "PermissionDeniedError":
        thing = _object_of(response.request.url)
        text = f"{kind} on {thing}: {message}" if thing else text
    elif kind == "RecordError" and isinstance(body.get("record"), dict):
        problems = [
            f"{name}: {', '.join(map(str, errors))}"
            for name, errors in body["record"].items()
            if errors
        ]
        if problems:
            text += f" ({'; '.join(problems)})"
    elif kind == "InternalHolisticsError":
        debug_id = body.get("debug_id") or details.get("debug_id")
        if debug_id and str(debug_id) not in text:
            text += f" (debug id {debug_id})"
    elif kind == "MaintenanceError":
        text += " (Holistics is in maintenance mode; rerun later)"
    elif kind == "SubscriptionError":
        text += " (the plan does not include this; ask the Holistics admin)"
    description = details.get("description")
    if description and str(description) not in text:
        text += f" - {description}"
    return text[:500]
