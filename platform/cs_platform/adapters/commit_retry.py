"""Retry an Iceberg commit that lost an optimistic-concurrency race.

Compaction and a streaming MERGE may rewrite the same files: whichever commits second fails
with ``ValidationException`` (its input files are gone, or the other side added deletes for the
files it replaces) or ``CommitFailedException`` (the table moved and Iceberg's own retries ran
out). Re-running the whole statement re-plans it on the new snapshot, which is safe for
idempotent writes (MERGE by key, compaction).

Only those races are retried: ``CommitFailedException`` (Iceberg's "out of date metadata") and
the ``ValidationException`` messages of Iceberg 1.10's concurrent-commit checks
(:data:`RACE_MESSAGES`). Iceberg also throws ``ValidationException`` for errors no retry cures
("Cannot expire snapshots: GC is disabled ...", a field it cannot find): those propagate at once.

Spark hands an Iceberg exception to Python as py4j's ``Py4JJavaError``, whose text starts with
"An error occurred while calling o123.sql."; :func:`first_line` reports the Java exception
instead, so a conflict's reason names Iceberg's message.
"""

from __future__ import annotations

import logging
import random
import time
from typing import Callable, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)

# Iceberg's exception for a commit whose base metadata is no longer current (every catalog: JDBC
# "Cannot commit ...: metadata location ... has changed", Glue/Hive "base metadata location ... is
# not same as the current ...", REST "Commit failed: ..."): by definition a lost race.
COMMIT_FAILED = "CommitFailedException:"

# The ValidationException (and Spark) messages of Iceberg 1.10 that mean another commit won the
# race; a re-planned statement sees that commit. MergingSnapshotProducer, ManifestFilterManager,
# BaseRewriteManifests, SnapshotUtil and SparkCopyOnWriteScan of iceberg-spark-runtime 1.10.
RACE_MESSAGES = (
    # a write whose conflict-detection filter matches files or deletes committed meanwhile
    "Found conflicting files that can contain records",
    "Found new conflicting delete files that can apply to records",
    "Found conflicting deleted files that can contain records",
    "Found conflicting deleted files that can apply to records",
    "Found concurrently added DV for",
    # compaction (RewriteFiles) after a merge-on-read write added deletes for the files it replaces
    "Cannot commit, found new position delete for replaced data file",
    "Cannot commit, found new delete for replaced data file",
    # a merge-on-read MERGE whose deletes point at data files a compaction replaced meanwhile
    "Cannot commit, missing data files",
    # a copy-on-write MERGE or a compaction removing files another commit already removed
    "Missing required files to delete",
    # a manifest rewrite whose manifests another commit replaced
    "could not be found in the latest snapshot",
    # the snapshot a validation starts from was expired meanwhile
    "Cannot determine history between",
    # a copy-on-write MERGE whose scan snapshot was replaced before it wrote (uncached catalog): re-plan it
    "Runtime file filtering is not possible: the table has been concurrently modified",
)

_PY4J_PREFIX = "An error occurred while calling"


class ConflictRetriesExhausted(RuntimeError):
    """Every attempt lost its commit race; the last conflict is the cause."""


def _java_chain(exc: BaseException) -> list[str]:
    """``toString()`` of the Java exception behind a Py4J error and of each of its causes (top first)."""
    java = getattr(exc, "java_exception", None)
    chain: list[str] = []
    try:
        while java is not None and len(chain) < 20:
            chain.append(str(java.toString()))
            cause = java.getCause()
            java = None if cause is None or cause.equals(java) else cause
    except Exception:  # the JVM may be gone: what was read is all there is
        pass
    return chain


def _text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: "
    try:
        text += str(exc)  # a Py4J error's includes the Java stack trace, its causes too
    except Exception:  # Py4JJavaError.__str__ asks the JVM, which may be gone
        pass
    return " ".join([text, *_java_chain(exc)])


def is_commit_conflict(exc: BaseException) -> bool:
    """True for Iceberg's optimistic-concurrency failures, seen through PySpark/Py4J wrappers."""
    text = _text(exc)
    return COMMIT_FAILED in text or any(message in text for message in RACE_MESSAGES)


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


def first_line(exc: BaseException, limit: int = 500) -> str:
    """The line of an error that names its cause, at most ``limit`` characters.

    For a Py4J error, a Java exception's ``toString()`` ("org.apache.iceberg.exceptions.
    ValidationException: Found conflicting files ..."), not py4j's "An error occurred while calling
    o123.sql.": the first Iceberg exception of its cause chain, else its root cause. When the JVM
    cannot be asked, the first line of the text that names a Java exception. Otherwise the first
    line of ``str(exc)``.
    """
    chain = _java_chain(exc)
    if chain:  # Iceberg's own exception, even wrapped by Spark's ("Job aborted due to stage failure ...")
        return _one_line(next((text for text in chain if text.startswith("org.apache.iceberg.")), chain[-1]), limit)
    try:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    except Exception:
        lines = []
    if lines and lines[0].startswith(_PY4J_PREFIX):
        named = [line.lstrip(": ") for line in lines[1:]
                 if line.lstrip(": ").startswith("org.apache.iceberg") or "Exception:" in line]
        lines = named or lines
    return _one_line(lines[0], limit) if lines else type(exc).__name__


def _one_line(text: str, limit: int) -> str:
    return " ".join(text.split())[:limit]
