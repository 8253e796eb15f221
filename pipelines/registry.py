"""The sources the CLI knows: every package under `sources/` that declares itself in a
`manifest.py` (`sources.common.config.Declaration`); this module only collects them, so
a new vendor is its folder, not an edit here."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil

import sources
from sources.common.config import Declaration


def _declarations() -> dict[str, Declaration]:
    found = {}
    for package in sorted(m.name for m in pkgutil.iter_modules(sources.__path__) if m.ispkg):
        if importlib.util.find_spec(f"sources.{package}.manifest") is not None:
            declared = importlib.import_module(f"sources.{package}.manifest").DECLARATION
            found[declared.name] = declared
    return found


SOURCES: dict[str, Declaration] = _declarations()


def names() -> list[str]:
    return list(SOURCES)
