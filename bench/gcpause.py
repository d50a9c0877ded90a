"""The bench's own processes must not add pauses to what they time: a full collection of
the collector in the watcher or the load generator took up to 155 ms (with tens of
thousands of records' objects alive), and every lead answered or read during it looked
that much slower or faster. The services tune their own collector (`gc_gen0_threshold`)."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Collect once, then no cyclic collection until the block ends (reference counting
    still frees what a timed run drops)."""
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
