"""Checks on settings that every source shares; each failure names the key and where to set it."""

from __future__ import annotations

import ipaddress
from typing import Any

import httpx

from sources.common.errors import ConfigError, config_key_help

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
    if number is None or number < 0 or (number == 0 and not allow_zero):
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
