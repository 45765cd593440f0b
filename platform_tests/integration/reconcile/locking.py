"""A streaming run holding a query's checkpoint lock: who is refused it, and who waits for it."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

from cs_platform.streaming.query import writer_lock


def refusal(held, holder: str, repair: str = "backfill") -> str:
    """The message a repair gets while `held` (a lock whose file reads `holder`) is held."""
    return (f"cannot {repair} now: another streaming query is already running on checkpoint {held.checkpoint} "
            f"(lock {held.path} held by {holder}); wait for it to finish or stop it, then retry")


@contextmanager
def once_run_releasing_after(settings, query_name: str, seconds: float = 3):
    """An --once run (a thread) that holds the query's lock for `seconds`; yields the list its release
    time (monotonic) goes into, filled once the run has ended (at the latest when the block exits)."""
    taken, released_at = threading.Event(), []

    def run():
        with writer_lock(settings, "once", query_name=query_name):
            taken.set()
            time.sleep(seconds)
            released_at.append(time.monotonic())

    thread = threading.Thread(target=run)
    thread.start()
    taken.wait()
    try:
        yield released_at
    finally:
        thread.join()
