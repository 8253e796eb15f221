"""Checks on settings that every source shares; each failure names the key and where to set it."""

from __future__ import annotations

import difflib
import ipaddress
import math
from typing import Any

import httpx

from sources.common.errors import ConfigError, config_key_help
from sources.common.http import HttpPolicy

_LOOPBACK_NAMES = {"localhost"}


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_url(source: str, key: str, value: object) -> str:
    """An https URL, or http on loopback (the sandbox). No trailing slash."""
    text = str(value or "").strip()
    try:
        url = httpx.URL(text)
    except Exception:
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise ConfigError(
            f"{key} = {text!r} is not an http(s) URL",
            source=source,
            hint=config_key_help(source, key),
        )
    if url.scheme == "http" and not _is_loopback(url.host):
        raise ConfigError(
            f"{key} = {text!r} must use https (credentials would travel in clear)",
            source=source,
            hint=config_key_help(source, key),
        )
    return text.rstrip("/")


def require_positive(source: str, key: str, value: object, kind: type = int) -> int | float:
    return _require_number(source, key, value, kind, allow_zero=False)


def require_non_negative(source: str, key: str, value: object, kind: type = int) -> int | float:
    return _require_number(source, key, value, kind, allow_zero=True)


def _require_number(source: str, key: str, value: object, kind: type, allow_zero: bool) -> Any:
    try:
        number = kind(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        number = None
    if (
        number is None
        or not math.isfinite(number)
        or number < 0
        or (number == 0 and not allow_zero)
    ):
        wanted = "≥ 0" if allow_zero else "> 0"
        raise ConfigError(
            f"{key} = {value!r} must be a {kind.__name__} {wanted}",
            source=source,
            hint=config_key_help(source, key),
        )
    return number


def require_secret(source: str, key: str, value: object) -> str:
    text = "" if value is None else str(value).strip()
    if not text:
        raise ConfigError(
            f"{key} is empty", source=source, hint=config_key_help(source, key, secret=True)
        )
    return text


def optional_list(source: str, key: str, value: object) -> list[str]:
    """A list setting; TOML gives a list, an environment variable JSON (dlt parses it)."""
    if value is None:
        return []
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str | int) for v in value):
        raise ConfigError(
            f"{key} must be a list of ids, got {value!r}",
            source=source,
            hint=config_key_help(source, key),
        )
    return [str(v) for v in value]


# `[sources.<vendor>.http]` keys that may be 0 (no backoff, never sleep for Retry-After)
_HTTP_ZERO_OK = ("backoff_initial", "max_retry_after")


def require_http_policy(source: str, policy: HttpPolicy | None) -> HttpPolicy:
    """`[sources.<vendor>.http]`: every timeout, count and delay a finite number, as documented."""
    policy = policy or HttpPolicy()
    for name, kind in (
        ("connect_timeout", float),
        ("read_timeout", float),
        ("max_attempts", int),
        ("backoff_initial", float),
        ("backoff_max", float),
        ("max_retry_after", float),
        ("max_connections", int),
    ):
        check = require_non_negative if name in _HTTP_ZERO_OK else require_positive
        setattr(policy, name, check(source, f"http.{name}", getattr(policy, name), kind))
    return policy


def suggestion(value: object, choices: object) -> str:
    """` (did you mean 'x'?)` for a value close to one of `choices`, else nothing."""
    close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
