"""What a vendor account offers to load, for `python -m pipelines discover SOURCE`.

Each source's `discover()` makes a few cheap authenticated list calls and returns a
`Discovery`: listings a user reads to pick ids (reports, widgets, KPIs, …) and the
`.dlt/config.toml` snippet that loads them, so nobody has to guess ids."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Listing:
    title: str
    columns: Sequence[str]
    rows: list[Sequence[Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Discovery:
    source: str
    listings: list[Listing]
    snippet: str  # TOML for `[sources.<source>]` in .dlt/config.toml


def toml_list(values: Sequence[Any], comments: Sequence[str] | None = None) -> str:
    """A TOML array of ids, one per line, each with its name as a comment."""
    if not values:
        return "[]"
    lines = []
    for index, value in enumerate(values):
        item = f'"{value}"' if isinstance(value, str) else str(value)
        note = f"  # {comments[index]}" if comments and comments[index] else ""
        lines.append(f"  {item},{note}")
    return "[\n" + "\n".join(lines) + "\n]"
