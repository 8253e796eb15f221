"""Hand memory freed by a bulk part back to the operating system.

pyarrow's allocator (mimalloc) and glibc's malloc both keep freed pages for reuse. After
a million rows went through as pages and Arrow blocks, ~150-200 MB of such pages stayed
with the process, and the load that follows in the same process (DuckDB) stacked its own
memory on top: peak RSS grew with the size of the result instead of staying flat.

The full collection is needed (without it the 1M-row Datawiz bench run peaked 56 MB
higher: cycles hold pages), but it walked every object the imports made: 0.15-0.3 s per
spool closed. Those objects live as long as the process, so `pipelines run` freezes them
once (`cli._tune_gc`), and a collection then takes microseconds. Not on import: a host
that embeds the sources (Dagster, Airflow) keeps its own heap collectable."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
from collections.abc import Callable

import pyarrow as pa


def release_memory() -> None:
    """Collect garbage and return free pages; call when a bulk part is done."""
    gc.collect()
    return_free_pages()


def return_free_pages() -> None:
    """Hand the allocators' free pages back (a few ms, no garbage collection)."""
    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, or None where the C library has none (musl, macOS)."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None
