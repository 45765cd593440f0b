"""Retry an Iceberg commit that lost an optimistic-concurrency race.

Compaction and a streaming MERGE may rewrite the same files: whichever commits second fails
with ``ValidationException`` (its input files are gone) or ``CommitFailedException`` (the
table moved and Iceberg's own retries ran out). Re-running the whole statement re-plans it on
the new snapshot, which is safe for idempotent writes (MERGE by key, compaction).
"""

from __future__ import annotations

import logging
import random
import time
from typing import Callable, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)

CONFLICT_MARKERS = (
    "org.apache.iceberg.exceptions.ValidationException",
    "org.apache.iceberg.exceptions.CommitFailedException",
    "ValidationException:",
    "CommitFailedException:",
    "Found conflicting files",
    "Missing required files to delete",
    "Cannot commit, found new",
    # A copy-on-write MERGE whose scan snapshot was replaced before it wrote (uncached catalog): re-plan it.
    "Runtime file filtering is not possible: the table has been concurrently modified",
)


class ConflictRetriesExhausted(RuntimeError):
    """Every attempt lost its commit race; the last conflict is the cause."""


def is_commit_conflict(exc: BaseException) -> bool:
    """True for Iceberg's optimistic-concurrency failures, seen through PySpark/Py4J wrappers."""
    text = f"{type(exc).__name__}: {exc}"
    java = getattr(exc, "java_exception", None)
    if java is not None:
        try:
            text += " " + java.toString()
        except Exception:  # the JVM may be gone; the Python text is enough
            pass
    return any(marker in text for marker in CONFLICT_MARKERS)


def retry_on_conflict(
    fn: Callable[[], T],
    *,
    attempts: int = 5,
    base_delay_s: float = 0.2,
    max_delay_s: float = 5.0,
    on_conflict: Callable[[int, BaseException], None] | None = None,
) -> T:
    """Call ``fn`` until it commits; on a commit conflict wait (jittered exponential) and retry.

    Other errors propagate at once. After ``attempts`` conflicts, raise
    :class:`ConflictRetriesExhausted` so the conflict is reported, never silently dropped.
    """
    if attempts < 1:
        raise ValueError("attempts must be >= 1")
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except Exception as exc:
            if not is_commit_conflict(exc):
                raise
            if on_conflict is not None:
                on_conflict(attempt, exc)
            if attempt == attempts:
                raise ConflictRetriesExhausted(
                    f"commit conflict persisted after {attempts} attempts: {first_line(exc)}"
                ) from exc
            delay = min(max_delay_s, base_delay_s * 2 ** (attempt - 1)) * (0.5 + random.random())
            log.warning("commit conflict (attempt %d/%d), retrying in %.2fs: %s", attempt, attempts, delay, first_line(exc))
            time.sleep(delay)
    raise AssertionError("unreachable")


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:500] if text else type(exc).__name__
