"""THE streaming query: landing files -> foreachBatch(process_batch), one per checkpoint.

`once=True` runs `trigger(availableNow=True)`: everything not yet processed, then returns.
`once=False` runs a processing-time trigger until stopped. Files are read whole (`wholetext`),
recursively over the hour folders; gzip is decompressed by extension. The checkpoint lives at
`<settings.checkpoint>/<query_name>` (a local dir or S3, never cluster HDFS).
"""

from __future__ import annotations

import logging
import re
import signal
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass, field

from pyspark.sql import functions as F

from cs_platform.adapters.documentdb import DocumentDBWriter
from cs_platform.adapters.lake_tables import LakeTables
from cs_platform.adapters.landing import skipping_unreadable
from cs_platform.adapters.storage import local_path
from cs_platform.logic.events import explode_lines
from cs_platform.streaming import checkpoint as checkpoints
from cs_platform.streaming.batch import BatchResult, process_batch
from cs_platform.streaming.handover import Handover, repair_lock
from cs_platform.streaming.lock import REPAIR_MODES, CheckpointBusy, checkpoint_lock
from cs_platform.streaming.progress import ProgressLogListener, progress_log

log = logging.getLogger(__name__)

DEFAULT_QUERY = "cs_events"
_PROGRESS_FLUSH_S = 30


@dataclass
class StreamRun:
    query_id: str | None = None
    batches: list[BatchResult] = field(default_factory=list)
    duration_s: float = 0.0

    def total(self, counter: str) -> int:
        return sum(getattr(b, counter) for b in self.batches)

    @property
    def landing_hours(self) -> list[str]:
        return sorted({h for b in self.batches for h in b.landing_hours})

    def entries(self) -> list[dict]:
        """Each batch's result with its batch id, as the progress log holds them (JSON-able: what
        a remote run sends back to Dagster)."""
        return [{"batch_id": int(b.batch_token.rsplit(":", 1)[-1]), **b.as_dict()} for b in self.batches]


def checkpoint_location(settings, query_name: str = DEFAULT_QUERY) -> str:
    return checkpoints.checkpoint_location(settings, query_name)


def writer_lock(settings, mode: str, query_name: str = DEFAULT_QUERY, wait_seconds: float = 0):
    """The lock (an S3 lease for an S3 checkpoint) of the query that writes the CS tables. A backfill
    and a reprojection take it too: beside a running query, two writers could insert one event twice
    or write an older document over a newer one. A continuous query hands it over to them between
    batches (`cs_platform.streaming.handover`)."""
    if mode in REPAIR_MODES:
        return repair_lock(settings, query_name, mode, wait_seconds)
    return checkpoint_lock(settings, query_name, mode, wait_seconds)


def stop_on_signals() -> threading.Event:
    """An event that SIGTERM and SIGINT set: the `stop` of a continuous :func:`start_stream`, which then
    stops the query (a batch cut short has not committed: the next start replays it)."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def start_stream(spark, settings, *, once: bool, tables: LakeTables | None = None,
                 writer: DocumentDBWriter | None = None, query_name: str = DEFAULT_QUERY,
                 max_files_per_trigger: int | None = None, progress_extra: dict | None = None,
                 lock_wait_seconds: float = 0, use_documentdb: bool = True,
                 stop: threading.Event | None = None, on_committed=None) -> StreamRun:
    """Run the query (blocking) under the checkpoint lock; return what each batch did.

    A continuous query runs until `stop` is set (the CLI sets it on SIGTERM/SIGINT) or it fails.
    `on_committed` is called with each committed batch's progress-log entry, also when a later
    batch fails (the caller can still report what committed).
    """
    tables = tables or LakeTables()
    own_writer = writer is None and use_documentdb
    if own_writer:
        writer = DocumentDBWriter.from_settings(settings)
    checkpoint = checkpoint_location(settings, query_name)
    run = StreamRun()
    results: dict[int, BatchResult] = {}
    started = time.monotonic()
    with writer_lock(settings, "once" if once else "continuous", query_name, lock_wait_seconds) as held:
        tables.ensure(spark)
        landing_dir = local_path(settings.landing)
        if landing_dir is not None:  # a fresh local stack: nothing landed yet is not an error
            landing_dir.mkdir(parents=True, exist_ok=True)
        listener = ProgressLogListener(progress_log(settings, query_name), results,
                                       {"mode": "once" if once else "continuous", **(progress_extra or {})},
                                       on_entry=on_committed)

        handover = Handover(settings, query_name, held, stop)  # watches for repairs when continuous

        def each_batch(batch_df, batch_id: int) -> None:
            def process(lines, unreadable) -> BatchResult:
                return process_batch(lines, tables, writer, batch_token=f"{query_name}:{batch_id}", unreadable=unreadable)

            with handover.batch():  # a query whose lease was taken over writes nothing more
                # a corrupt object would fail this batch on every replay: it is quarantined instead
                result = skipping_unreadable(batch_df.sparkSession, explode_lines(batch_df),
                                             lambda: checkpoints.batch_files(checkpoint, batch_id, settings), process)
            results[batch_id] = result
            if once:  # a continuous query reports through the progress log only (bounded memory)
                run.batches.append(result)

        files = (
            spark.readStream.format("text")
            .option("wholetext", True)
            .option("recursiveFileLookup", True)
            .option("maxFilesPerTrigger", max_files_per_trigger or settings.stream_max_files_per_trigger)
            .option("maxFileAge", f"{int(checkpoints.MAX_FILE_AGE.total_seconds())}s")
            .load(settings.landing)
            .select(F.col("value"), F.col("_metadata.file_path").alias("source_file"))
        )
        writer_stream = (
            files.writeStream.queryName(query_name)
            .option("checkpointLocation", checkpoint)
            .foreachBatch(each_batch)
        )
        writer_stream = (writer_stream.trigger(availableNow=True) if once
                         else writer_stream.trigger(processingTime=f"{settings.stream_trigger_seconds} seconds"))
        spark.streams.addListener(listener)
        try:
            with handover if not once else nullcontext():
                query = writer_stream.start()
                listener.query_id = str(query.id)
                run.query_id = str(query.id)
                while not query.awaitTermination(1):
                    if (stop is not None and stop.is_set()) or handover.lost is not None:
                        query.stop()  # a query that could not take its lock back must not plan more batches
                if handover.lost is not None:
                    raise CheckpointBusy(f"the query stopped: it could not take its checkpoint back after a "
                                         f"hand-over: {handover.lost}")
        finally:
            _wait_for_progress(results)  # also after a failure: the batches before it have committed
            tables.refresh(spark)
            spark.streams.removeListener(listener)
            if own_writer:
                writer.close()
    run.duration_s = round(time.monotonic() - started, 3)
    return run


def _wait_for_progress(results: dict) -> None:
    """Progress events arrive asynchronously after the query ends: let the last ones land."""
    deadline = time.monotonic() + _PROGRESS_FLUSH_S
    while results and time.monotonic() < deadline:
        time.sleep(0.2)
    if results:
        log.warning("progress of batches %s was not reported by Spark within %ss", sorted(results), _PROGRESS_FLUSH_S)


_CAUSE = re.compile(r"^\s*((?:[A-Za-z_][\w]*\.)*[A-Za-z_]\w*(?:Error|Exception|Busy)): (.+)$")


def failure_cause(exc: BaseException) -> str:
    """The innermost `SomeError: message` line of a (py4j-wrapped) failure, else its first line."""
    text = str(exc)
    causes = [m.group(0).strip() for m in map(_CAUSE.match, text.splitlines()) if m]
    pythonish = [c for c in causes if not c.startswith(("org.", "java.", "py4j."))]
    chosen = (pythonish or causes or [text.strip().splitlines()[0] if text.strip() else type(exc).__name__])[-1]
    return chosen[:500]
