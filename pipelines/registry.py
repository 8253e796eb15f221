"""The sources the CLI knows: each vendor package declares itself in its `manifest.py`
(`sources.common.config.Declaration`); this module only collects them."""

from __future__ import annotations

import importlib

from sources.common.config import Declaration

# the vendor packages under `sources/`, in the order the CLI lists and runs them
VENDORS = ("datawiz", "holistics", "quantive", "kissmetrics")

SourceEntry = Declaration  # the name the CLI and the runner use
SOURCES: dict[str, Declaration] = {
    vendor: importlib.import_module(f"sources.{vendor}.manifest").DECLARATION for vendor in VENDORS
}


def names() -> list[str]:
    return list(SOURCES)
