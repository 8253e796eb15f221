"""Hand memory freed by a bulk part back to the operating system.

pyarrow's allocator (mimalloc) and glibc's malloc both keep freed pages for reuse. After
a million rows went through as pages and Arrow blocks, ~150-200 MB of such pages stayed
with the process, and the load that follows in the same process (DuckDB) stacked its own
memory on top: peak RSS grew with the size of the result instead of staying flat.

No `gc.collect()` here: Arrow buffers and pages are freed by reference counting as soon
as they are dropped, and a full collection walks every object dlt and pyarrow created
(0.1-0.3 s each time on this machine, once per spool closed: seconds per run)."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable

import pyarrow as pa


def release_memory() -> None:
    """Return free pages to the operating system; call when a bulk part is done."""
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
