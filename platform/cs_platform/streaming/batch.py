"""The foreachBatch body: lines of one micro-batch (or of a backfilled hour) -> lake -> DocumentDB.

Idempotent and crash-safe by construction:
1. validate; 2. quarantine MERGE, insert-if-absent by (source_file, line_number);
3. dedupe the batch, events MERGE, insert-if-absent by event_id;
4. refold EVERY ticket the batch's valid events touch from all its committed events (not only the
   newly inserted ones), MERGE the state into tickets;
5. after the lake commit, guarded upserts of those tickets' OLTP projection to DocumentDB.
Ticket state is recomputed from the set of committed events, so replaying a batch after a kill -9
at any point converges to the state of an uninterrupted run.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from cs_platform.adapters.catalog import current_snapshot
from cs_platform.adapters.documentdb import DocumentDBWriter
from cs_platform.adapters.lake_tables import EVENT_COLUMNS, QUARANTINE_COLUMNS, Commit, LakeTables
from cs_platform.adapters.spark import Persisted, temp_view
from cs_platform.logic.tickets import dedupe_batch, fold_tickets, oltp_projection
from cs_platform.streaming.faults import crash_if

log = logging.getLogger(__name__)

LINE_COLUMNS = ["raw_line", "source_file", "line_number", "landing_hour"]


@dataclass
class BatchResult:
    batch_token: str
    lines_read: int = 0
    valid: int = 0
    quarantined: int = 0
    new_events: int = 0
    new_quarantined: int = 0
    tickets_touched: int = 0
    tickets_changed: int = 0
    documentdb_writes: int = 0
    documentdb_stale: int = 0
    duplicates_removed: int = 0  # a backfill's: rows two writers outside the lock had both inserted
    snapshot_ids: dict[str, int | None] = field(default_factory=dict)
    landing_hours: list[str] = field(default_factory=list)  # ISO, UTC, start of each Firehose hour
    per_hour: dict[str, dict[str, int]] = field(default_factory=dict)  # hour -> lines_read, valid, quarantined
    duration_s: float = 0.0
    step_seconds: dict[str, float] = field(default_factory=dict)  # where the time went

    def as_dict(self) -> dict:
        return asdict(self)


_NO_HOUR = "none"
_BROADCAST_BATCH_LINES = 100_000  # at most this many ticket ids (~40 bytes each) are broadcast


def _count_by_hour(lines: DataFrame) -> dict[int | None, int]:
    """Lines per landing hour (epoch seconds; None: outside the hour layout)."""
    # grouped by epoch seconds and formatted on the driver: a date_format per line cost more than the count
    rows = lines.groupBy(F.col("landing_hour").cast("long").alias("epoch")).agg(F.count(F.lit(1)).alias("n")).collect()
    return {r["epoch"]: int(r["n"]) for r in rows}


def _per_hour(read: dict[int | None, int], quarantined: dict[int | None, int]) -> dict[str, dict[str, int]]:
    """Line counts per landing hour (ISO, UTC); lines outside the hour layout count under "none"."""
    counts = {_hour_label(epoch): {"lines_read": n, "valid": n - quarantined.get(epoch, 0),
                                   "quarantined": quarantined.get(epoch, 0)}
              for epoch, n in read.items()}
    return dict(sorted(counts.items()))


def _hour_label(epoch: int | None) -> str:
    if epoch is None:
        return _NO_HOUR
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%dT%H:00:00Z")


def _touched_events(spark, tables: LakeTables, valid: DataFrame, events_commit: Commit, valid_lines: int) -> DataFrame:
    """Every committed event of the tickets the batch's valid lines touch, partitioned by ticket_id."""
    events = spark.table(tables.events)
    if events_commit.first_load:  # every committed event is one of this batch's
        return events.repartition("ticket_id")
    # Ticket ids of a small batch are broadcast (no shuffle of the committed events); a large
    # batch's are hashed, not sorted (the planner sorted 1M committed events for this join).
    touched = valid.select("ticket_id").distinct().hint(
        "broadcast" if valid_lines <= _BROADCAST_BATCH_LINES else "shuffle_hash")
    return events.join(touched, "ticket_id", "left_semi").repartition("ticket_id")


def process_batch(lines_df: DataFrame, tables: LakeTables, documentdb_writer: DocumentDBWriter | None,
                  batch_token: str, unreadable: Sequence[tuple[str, str]] = ()) -> BatchResult:
    """Apply one batch of landing lines (columns raw_line, source_file, line_number, landing_hour).

    `documentdb_writer=None` stops after the lake commit (benchmarks; a repair reprojects later).
    `unreadable`: (uri, cause) of the batch's objects Spark could not read (left out of `lines_df`):
    each is quarantined as one line (`adapters.landing.skipping_unreadable`).
    """
    from cs_platform.logic.events import annotate_prepared, prepare_lines, split_annotated, unreadable_lines

    started = time.monotonic()
    spark = lines_df.sparkSession
    result = BatchResult(batch_token=batch_token)
    keep = Persisted()
    views = ExitStack()  # the MERGE sources' temp views, dropped at the end
    mark = [time.monotonic()]

    def step(name: str) -> None:
        now = time.monotonic()
        result.step_seconds[name] = round(now - mark[0], 3)
        mark[0] = now

    try:
        # Each line is parsed once and cached with its verdict: the ordinary valid lines by Spark's
        # typed parse, the others (a few) by the exact paths. Counting the lines computes the cache
        # with the input's parallelism, before the others are annotated (one task per core).
        prepared = keep(prepare_lines(lines_df.select(*LINE_COLUMNS)))
        read = _count_by_hour(prepared)
        for epoch, n in (_count_by_hour(unreadable_lines(spark, unreadable)) if unreadable else {}).items():
            read[epoch] = read.get(epoch, 0) + n  # each unreadable object counts as one line read
        if not read:
            step("validate")
            return result
        annotated = annotate_prepared(prepared, keep_others=keep, unreadable=unreadable)
        quarantined_by_hour = _count_by_hour(annotated.where(F.col("reason").isNotNull()))
        result.per_hour = _per_hour(read, quarantined_by_hour)
        for counts in result.per_hour.values():
            result.lines_read += counts["lines_read"]
            result.valid += counts["valid"]
            result.quarantined += counts["quarantined"]
        result.landing_hours = sorted(h for h in result.per_hour if h != _NO_HOUR)
        step("validate")
        valid, quarantined = split_annotated(annotated)

        if result.quarantined:
            quarantine_src = quarantined.dropDuplicates(["source_file", "line_number"]).withColumn(
                "ingested_at", F.current_timestamp()).select(*QUARANTINE_COLUMNS)
            statement = tables.merge_quarantine_sql(views.enter_context(temp_view(quarantine_src, "quarantine")),
                                                    landing_hours=list(quarantined_by_hour))
            commit = tables.run_merge(spark, tables.events_quarantine, statement)
            result.snapshot_ids["events_quarantine"], result.new_quarantined = commit.snapshot_id, commit.added_records
        else:  # nothing to insert: no statement, no empty snapshot
            result.snapshot_ids["events_quarantine"], _ = current_snapshot(spark, tables.events_quarantine)
        step("quarantine_merge")

        events_src = dedupe_batch(valid).withColumn("ingested_at", F.current_timestamp()).select(*EVENT_COLUMNS)
        events_view = views.enter_context(temp_view(events_src, "events"))
        events_commit = tables.run_merge(spark, tables.events, tables.merge_events_sql(events_view))
        result.snapshot_ids["events"], result.new_events = events_commit.snapshot_id, events_commit.added_records
        step("events_merge")
        crash_if("after_events_merge", batch_token)

        state = keep(fold_tickets(_touched_events(spark, tables, valid, events_commit, result.valid)))
        result.tickets_touched = state.count()
        step("refold")
        tickets_view = views.enter_context(temp_view(state, "tickets"))
        commit = tables.run_merge(spark, tables.tickets, tables.merge_tickets_sql(tickets_view))
        result.snapshot_ids["tickets"], result.tickets_changed = commit.snapshot_id, commit.added_records
        step("tickets_merge")
        crash_if("after_lake_commit", batch_token)

        if documentdb_writer is not None:
            stats = documentdb_writer.write_guarded(oltp_projection(state), after_chunk=lambda _: crash_if("mid_documentdb", batch_token))
            result.documentdb_writes, result.documentdb_stale = stats.operations, stats.stale
            step("documentdb")
        return result
    finally:
        views.close()
        keep.release()
        result.duration_s = round(time.monotonic() - started, 3)
        log.info("batch %s: %s", batch_token, result.as_dict())
