"""Reconciliation and repair against the real tables, one landing hour at a time.

Reads stay narrow so a check costs a fraction of processing the hour: only hour H's raw files,
only the key columns of lake.cs.events (all hours: a re-delivered event may have its row in an
earlier hour), the quarantine rows of H (partition-pruned by `days(landing_hour)`).
Repair is a backfill: a batch read of exactly the hour's raw files through the same idempotent
foreachBatch body as the stream, so repairing a healthy hour changes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from cs_platform.adapters.catalog import last_change
from cs_platform.adapters.lake_tables import LakeTables
from cs_platform.adapters.spark import Persisted, temp_view
from cs_platform.logic import reconcile as rules

log = logging.getLogger(__name__)

HOUR_FORMAT = "%Y-%m-%dT%H"
DOCUMENT_FIELDS = ("status", "priority", "agent_id", "customer_id", "channel", "message_count", "last_seq",
                   "updated_at", "event_count")
_IN_CHUNK = 1000
# How long tickets_match_events waits for a batch in flight to commit its tickets (a large batch
# refolds for tens of seconds); only a mismatch found while events lead the tickets waits.
SETTLE_SECONDS = 300
_SETTLE_POLL_SECONDS = 2


class HourError(ValueError):
    """An hour argument is not `YYYY-MM-DDTHH` (UTC)."""


def parse_hour(text: str) -> dt.datetime:
    """`2026-11-26T10` -> 2026-11-26 10:00 UTC."""
    try:
        return dt.datetime.strptime(text, HOUR_FORMAT).replace(tzinfo=dt.timezone.utc)
    except (TypeError, ValueError):
        raise HourError(f"invalid hour {text!r}: expected YYYY-MM-DDTHH in UTC, e.g. 2026-11-26T10") from None


def format_hour(hour: dt.datetime) -> str:
    return hour.astimezone(dt.timezone.utc).strftime(HOUR_FORMAT)


def hours_between(first: dt.datetime, last: dt.datetime) -> list[dt.datetime]:
    """Every hour from `first` to `last`, both included."""
    if last < first:
        raise HourError(f"--to {format_hour(last)} is before --from {format_hour(first)}")
    hours, hour = [], first
    while hour <= last:
        hours.append(hour)
        hour += dt.timedelta(hours=1)
    return hours


def hour_of_partition_key(key: str) -> dt.datetime:
    """Dagster `landing_hours` key (`2026-11-26-10:00`) -> the hour, UTC."""
    return dt.datetime.strptime(key, "%Y-%m-%d-%H:%M").replace(tzinfo=dt.timezone.utc)


def _with_raw_lines(spark, landing, hour: dt.datetime, use):
    """``use(lines, unreadable)`` on hour H's raw lines (raw_line, source_file, line_number,
    landing_hour: of H's files only); an object Spark cannot read is left out and
    named in ``unreadable`` ((uri, cause) pairs), as the stream quarantines it."""
    from cs_platform.adapters.landing import read_raw_lines, skipping_unreadable

    uris = [f.uri for f in landing.files_for_hour(hour)]
    return skipping_unreadable(spark, read_raw_lines(spark, uris), lambda: uris, use)


def reconcile_raw(spark, tables: LakeTables, landing, hour: dt.datetime) -> rules.Discrepancies:
    """reconciles_with_raw for hour H: counts and samples of every raw-vs-lake discrepancy."""
    return _with_raw_lines(spark, landing, hour, lambda lines, unreadable: _reconcile_raw(
        spark, tables, lines, unreadable, hour))


def _reconcile_raw(spark, tables: LakeTables, lines: DataFrame, unreadable, hour: dt.datetime) -> rules.Discrepancies:
    from cs_platform.logic.events import annotate_prepared, prepare_lines, split_annotated

    keep = Persisted()
    try:
        # Parse once: the typed parse is cached (counting it computes the cache with the input's
        # parallelism), and so is the annotation of the few other lines, which holds every
        # quarantined position: no second read of the raw files to find them.
        prepared = keep(prepare_lines(lines))
        prepared.count()
        valid, quarantined = split_annotated(annotate_prepared(prepared, keep_others=keep, unreadable=unreadable))
        valid_keys = keep(valid.select("event_id", "source_file", "line_number"))
        quarantined = quarantined.select("source_file", "line_number")
        lake_events = spark.table(tables.events).select(*rules.EVENT_KEY_COLUMNS)
        lake_quarantine = (spark.table(tables.events_quarantine).select(*rules.QUARANTINE_KEY_COLUMNS)
                           .where(F.col("landing_hour") == F.lit(hour).cast("timestamp")))
        return rules.reconcile_hour(valid_keys, quarantined, lake_events, lake_quarantine, hour)
    finally:
        keep.release()


def _touched(spark, tables: LakeTables, hour: dt.datetime) -> DataFrame:
    return rules.touched_ticket_ids(spark.table(tables.events).select("ticket_id", "landing_hour"), hour)


def batch_in_flight(events_change, tickets_change) -> bool:
    """Events were appended after the tickets last changed (each a :func:`~cs_platform.adapters.catalog.last_change`):
    a batch may be between its events commit and its tickets commit (refolding), when the two tables
    disagree for seconds."""
    return (events_change is not None and events_change[2] == "append"
            and (tickets_change is None or events_change[0] > tickets_change[0]))


def reconcile_tickets(spark, tables: LakeTables, hour: dt.datetime,
                      settle_seconds: float = SETTLE_SECONDS) -> rules.Discrepancies:
    """tickets_match_events for hour H: refold the tickets H touched from all their events.

    A mismatch is compared again when it may be a batch's in flight (:func:`batch_in_flight` before or
    after the comparison) or the tickets changed while it ran: after the tickets' next change, up to
    ``settle_seconds`` in all. Otherwise, and once that time is up, it is reported. (0: no second look,
    for a caller that holds the writer lock: no batch can be in flight.)"""
    deadline = time.monotonic() + settle_seconds
    while True:
        folded = last_change(spark, tables.tickets)
        in_flight = batch_in_flight(last_change(spark, tables.events), folded)
        found = _compare_tickets(spark, tables, hour)
        if found.ok or time.monotonic() >= deadline:
            return found
        if last_change(spark, tables.tickets) == folded:
            if not (in_flight or batch_in_flight(last_change(spark, tables.events), folded)):
                return found
            while time.monotonic() < deadline and last_change(spark, tables.tickets) == folded:
                time.sleep(_SETTLE_POLL_SECONDS)
        log.info("tickets_match_events for %s: a batch was in flight, comparing again", format_hour(hour))


def _compare_tickets(spark, tables: LakeTables, hour: dt.datetime) -> rules.Discrepancies:
    from cs_platform.logic.tickets import fold_tickets

    touched = _touched(spark, tables, hour).cache()
    try:
        events = spark.table(tables.events).join(touched, "ticket_id", "left_semi")
        stored = spark.table(tables.tickets).join(touched, "ticket_id", "left_semi")
        return rules.compare_tickets(fold_tickets(events), stored)
    finally:
        touched.unpersist()


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def projected_tickets(spark, tables: LakeTables, hour: dt.datetime) -> DataFrame:
    """The OLTP projection of the lake rows of the tickets hour H touched."""
    from cs_platform.logic.tickets import oltp_projection

    return oltp_projection(spark.table(tables.tickets).join(_touched(spark, tables, hour), "ticket_id", "left_semi"))


def reconcile_documents(spark, tables: LakeTables, collection, hour: dt.datetime) -> rules.Discrepancies:
    """documentdb_matches_lake for hour H: field-by-field, the touched tickets' documents vs the lake."""
    from cs_platform.adapters.documentdb import projected_documents

    # as the writer renders them (timestamps in UTC whatever the host's time zone)
    expected: dict[str, dict[str, Any]] = dict(projected_documents(projected_tickets(spark, tables, hour)))
    actual: dict[str, dict[str, Any]] = {}
    for ids in _chunks(sorted(expected), _IN_CHUNK):
        for document in collection.find({"_id": {"$in": list(ids)}}):
            actual[document["_id"]] = document
    return rules.compare_documents(expected, actual, DOCUMENT_FIELDS)


@dataclass(frozen=True)
class HourlyRate:
    quarantined: int
    valid: int

    @property
    def rate(self) -> float:
        return rules.quarantine_rate(self.quarantined, self.valid)


def quarantine_rate_of_hour(iceberg_catalog, tables: LakeTables, hour: dt.datetime) -> HourlyRate:
    """Quarantined vs valid rows of hour H, read with PyIceberg (no JVM; one narrow column)."""
    from pyiceberg.expressions import EqualTo

    start = hour.astimezone(dt.timezone.utc).isoformat()  # landing_hour is a timestamptz

    def rows(table: str) -> int:
        scan = iceberg_catalog.load_table(tables.identifier(table)).scan(
            row_filter=EqualTo("landing_hour", start), selected_fields=("line_number",))
        return scan.to_arrow().num_rows

    return HourlyRate(quarantined=rows("events_quarantine"), valid=rows("events"))


def collapse_duplicates(spark, tables: LakeTables, hour: dt.datetime) -> int:
    """Leave one row of each event (its first delivery) and of each quarantined line that hour H's
    rows hold twice (`duplicated_events`, `duplicated_quarantine`); returns the rows removed. One
    MERGE per table, and none when there is nothing to collapse. Run under the writer lock."""
    events = spark.table(tables.events)
    quarantine = spark.table(tables.events_quarantine)
    duplicated = [
        (tables.events, events.join(rules.duplicated_event_ids(events.select(*rules.EVENT_KEY_COLUMNS), hour),
                                    "event_id", "left_semi"),
         ["event_id"], rules.EVENT_DELIVERY_ORDER, tables.collapse_events_sql),
        (tables.events_quarantine,
         quarantine.join(rules.duplicated_quarantine_lines(quarantine, hour), ["source_file", "line_number"],
                         "left_semi").where(F.col("landing_hour") == F.lit(hour).cast("timestamp")),
         ["source_file", "line_number", "landing_hour"], rules.QUARANTINE_ORDER, tables.collapse_quarantine_sql),
    ]
    removed = 0
    keep = Persisted()
    try:
        for table, rows, keys, order, statement in duplicated:
            rows = keep(rows)
            hours = [r[0] for r in rows.select(F.col("landing_hour").cast("long")).distinct().collect()]
            if not hours:
                continue
            with temp_view(rules.collapse_source(rows, keys, order), "collapse") as view:
                gone = tables.run_merge(spark, table, statement(view, hours, spark.table(table).columns)).removed_records
            log.warning("%s: %d duplicated rows of %s removed", table, gone, format_hour(hour))
            removed += gone
    finally:
        keep.release()
    return removed


def _forget_readable_objects(spark, tables: LakeTables, hour: dt.datetime, unreadable) -> None:
    """Drop hour H's whole-object quarantine rows (line 0) of objects that read now: a good copy was
    uploaded over a corrupt one, and the batch just inserted its lines."""
    from cs_platform.adapters.storage import normalize
    from cs_platform.logic.events import UNREADABLE_FILE

    hour_literal = F.lit(hour).cast("timestamp")
    rows = (spark.table(tables.events_quarantine)
            .where((F.col("landing_hour") == hour_literal) & (F.col("line_number") == 0)
                   & F.col("reason").startswith(f"{UNREADABLE_FILE}:"))
            .select("source_file").collect())
    still = {normalize(uri) for uri, _ in unreadable}
    readable = sorted({r.source_file for r in rows if normalize(r.source_file) not in still})
    if not readable:
        return
    lines = spark.createDataFrame([(uri,) for uri in readable], "source_file string").select(
        "source_file", F.lit(0).cast("long").alias("line_number"), hour_literal.alias("landing_hour"))
    with temp_view(lines, "readable") as view:
        tables.run_merge(spark, tables.events_quarantine, tables.delete_quarantined_sql(view, [int(hour.timestamp())]))
    log.warning("%s: the whole-object quarantine rows of %s removed: they read now", format_hour(hour), readable)


def backfill_hours(spark, tables: LakeTables, landing, documentdb_writer, hours: Iterable[dt.datetime]) -> list:
    """Re-run exactly these hours' raw files through the foreachBatch body (idempotent), after
    collapsing the hour's duplicated rows (whose tickets the batch then refolds)."""
    from cs_platform.streaming.batch import process_batch

    tables.ensure(spark)
    results = []
    for hour in hours:
        removed = collapse_duplicates(spark, tables, hour)

        def backfill(lines, unreadable, hour=hour):
            result = process_batch(lines, tables, documentdb_writer, batch_token=f"backfill-{format_hour(hour)}",
                                   unreadable=unreadable)
            _forget_readable_objects(spark, tables, hour, unreadable)
            return result

        result = _with_raw_lines(spark, landing, hour, backfill)
        result.duplicates_removed = removed
        log.info("backfilled %s: %s", format_hour(hour), result.as_dict())
        results.append(result)
    return results


@dataclass(frozen=True)
class HourRepair:
    """One backfilled hour: the figures of its batch, then its two lake checks. JSON-able through
    ``as_dict`` / ``from_dict`` (a remote backfill sends it back to Dagster)."""

    hour: dt.datetime
    figures: dict[str, int | float]
    raw: rules.Discrepancies
    tickets: rules.Discrepancies

    @property
    def ok(self) -> bool:
        return self.raw.ok and self.tickets.ok

    def as_dict(self) -> dict[str, Any]:
        return {"hour": format_hour(self.hour), "figures": self.figures, "raw": asdict(self.raw),
                "tickets": asdict(self.tickets)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "HourRepair":
        return cls(parse_hour(data["hour"]), dict(data["figures"]), rules.Discrepancies(**data["raw"]),
                   rules.Discrepancies(**data["tickets"]))


def backfill_and_recheck(spark, tables: LakeTables, landing, documentdb_writer,
                         hours: Sequence[dt.datetime]) -> list[HourRepair]:
    """Backfill the hours, then reconcile each with its raw files and its tickets' events."""
    repairs = []
    for hour, result in zip(hours, backfill_hours(spark, tables, landing, documentdb_writer, hours)):
        figures = {k: v for k, v in result.as_dict().items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        repairs.append(HourRepair(hour, figures, reconcile_raw(spark, tables, landing, hour),
                                  reconcile_tickets(spark, tables, hour, settle_seconds=0)))
    return repairs


def reproject_hours(spark, tables: LakeTables, documentdb_writer, hours: Iterable[dt.datetime]) -> int:
    """Rewrite the touched tickets' documents of these hours from the lake (unconditional)."""
    written = 0
    for hour in hours:
        written += documentdb_writer.reproject(projected_tickets(spark, tables, hour)).operations
    return written


@dataclass(frozen=True)
class HourReprojection:
    """One reprojected hour: the documents rewritten from the lake, then its documents check.
    JSON-able through ``as_dict`` / ``from_dict`` (a remote reproject sends it back to Dagster)."""

    hour: dt.datetime
    written: int
    documents: rules.Discrepancies

    @property
    def ok(self) -> bool:
        return self.documents.ok

    def as_dict(self) -> dict[str, Any]:
        return {"hour": format_hour(self.hour), "written": self.written, "documents": asdict(self.documents)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "HourReprojection":
        return cls(parse_hour(data["hour"]), int(data["written"]), rules.Discrepancies(**data["documents"]))


def reproject_and_recheck(spark, tables: LakeTables, documentdb_writer,
                          hours: Sequence[dt.datetime]) -> list[HourReprojection]:
    """Reproject each hour, then compare its touched tickets' documents with the lake again."""
    return [HourReprojection(hour, reproject_hours(spark, tables, documentdb_writer, [hour]),
                             reconcile_documents(spark, tables, documentdb_writer.target(), hour))
            for hour in hours]
