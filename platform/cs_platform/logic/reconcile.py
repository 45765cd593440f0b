"""Reconciliation rules: what "hour H of the lake matches the raw archive" means.

Pure DataFrame functions plus plain-Python comparisons; the caller reads the inputs (only hour
H's raw files and only the lake columns named here) and decides what to do with the result.
Every discrepancy kind reports an exact count and up to ``SAMPLE_SIZE`` sample keys, sorted, so
reports are deterministic and comparable between runs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

SAMPLE_SIZE = 20

RAW_KINDS = ("missing_events", "missing_quarantine", "unexpected_events", "unexpected_quarantine",
             "duplicated_events", "duplicated_quarantine")
TICKET_KINDS = ("missing_tickets", "mismatched_tickets")
DOCUMENT_KINDS = ("missing_documents", "mismatched_documents")

# Lake columns reconciliation reads: keep the scan narrow.
EVENT_KEY_COLUMNS = ("event_id", "landing_hour")
QUARANTINE_KEY_COLUMNS = ("source_file", "line_number", "landing_hour")


@dataclass(frozen=True)
class Discrepancies:
    """Counts and sorted samples per discrepancy kind; ``ok`` when every count is zero."""

    counts: dict[str, int]
    samples: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(count == 0 for count in self.counts.values())

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def as_metadata(self) -> dict[str, Any]:
        """Flat metadata: ``<kind>`` count and ``<kind>_samples`` list for every kind."""
        meta: dict[str, Any] = {}
        for kind, count in self.counts.items():
            meta[kind] = count
            meta[f"{kind}_samples"] = list(self.samples.get(kind, []))
        return meta


def quarantine_key(source_file: Any, line_number: Any) -> Any:
    """The sample key of a quarantined line: ``<source_file>:<line_number>``."""
    return F.concat_ws(":", source_file, line_number.cast("string"))


def raw_discrepancy_keys(
    raw_valid: DataFrame,
    raw_quarantined: DataFrame,
    lake_events: DataFrame,
    lake_quarantine_of_hour: DataFrame,
    hour: dt.datetime,
) -> DataFrame:
    """Rows ``(kind, key)`` for every discrepancy between hour H's raw lines and the lake.

    raw_valid: validated lines of H (needs ``event_id``); raw_quarantined: invalid lines of H
    (``source_file``, ``line_number``); lake_events: ``event_id``, ``landing_hour`` of ALL hours
    (a re-delivery of an older event is not missing); lake_quarantine_of_hour: ``source_file``,
    ``line_number``, ``landing_hour`` (may hold other hours, filtered here).
    """
    hour_literal = F.lit(hour).cast("timestamp")
    raw_ids = raw_valid.select("event_id").distinct()
    raw_bad = raw_quarantined.select(quarantine_key(F.col("source_file"), F.col("line_number")).alias("key")).distinct()
    lake_ids = _lake_event_ids(lake_events, hour)
    lake_ids_of_hour = lake_ids.where(F.col("_in_hour"))
    lake_bad_rows = (
        lake_quarantine_of_hour.where(F.col("landing_hour") == hour_literal)
        .select(quarantine_key(F.col("source_file"), F.col("line_number")).alias("key"))
    )
    lake_bad = lake_bad_rows.distinct()

    missing_events = raw_ids.join(lake_ids, "event_id", "left_anti").select(
        F.lit("missing_events").alias("kind"), F.col("event_id").alias("key"))
    unexpected_events = lake_ids_of_hour.join(raw_ids, "event_id", "left_anti").select(
        F.lit("unexpected_events").alias("kind"), F.col("event_id").alias("key"))
    missing_quarantine = raw_bad.join(lake_bad, "key", "left_anti").select(
        F.lit("missing_quarantine").alias("kind"), "key")
    unexpected_quarantine = lake_bad.join(raw_bad, "key", "left_anti").select(
        F.lit("unexpected_quarantine").alias("kind"), "key")
    duplicated_events = lake_ids_of_hour.where(F.col("_rows") > 1).select(
        F.lit("duplicated_events").alias("kind"), F.col("event_id").alias("key"))
    duplicated_quarantine = _held_more_than_once(lake_bad_rows, ["key"]).select(F.lit("duplicated_quarantine").alias("kind"), "key")
    return (missing_events.unionByName(missing_quarantine).unionByName(unexpected_events)
            .unionByName(unexpected_quarantine).unionByName(duplicated_events).unionByName(duplicated_quarantine))


def _held_more_than_once(rows: DataFrame, keys: list[str]) -> DataFrame:
    return rows.groupBy(*keys).agg(F.count(F.lit(1)).alias("_rows")).where(F.col("_rows") > 1).select(*keys)


def duplicated_event_ids(lake_events: DataFrame, hour: dt.datetime) -> DataFrame:
    """``event_id`` of hour H's lake rows that lake.cs.events holds more than once (in any hours).

    The stream never writes one: its insert-if-absent MERGE runs under the query's lock. An insert-only
    MERGE commits as a plain append, though, so two writers outside that lock (two queries on one landing
    zone, a hand-run INSERT) can both insert an event; so can a restore of old files."""
    ids = _lake_event_ids(lake_events, hour)
    return ids.where(F.col("_in_hour") & (F.col("_rows") > 1)).select("event_id")


def _lake_event_ids(lake_events: DataFrame, hour: dt.datetime) -> DataFrame:
    """Per event_id of the lake: ``_rows`` stored, ``_in_hour`` (one of them landed in hour H). One
    aggregation serves the missing, unexpected and duplicated events (a check reads every hour's keys)."""
    return lake_events.groupBy("event_id").agg(
        F.count(F.lit(1)).alias("_rows"),
        F.coalesce(F.max(F.col("landing_hour") == F.lit(hour).cast("timestamp")), F.lit(False)).alias("_in_hour"))


def duplicated_quarantine_lines(lake_quarantine: DataFrame, hour: dt.datetime) -> DataFrame:
    """``source_file``, ``line_number`` of the lines hour H's quarantine holds more than once (a line's
    rows all have its file's hour)."""
    of_hour = lake_quarantine.where(F.col("landing_hour") == F.lit(hour).cast("timestamp"))
    return _held_more_than_once(of_hour, ["source_file", "line_number"])


# which copy a collapse keeps: the first committed (DESIGN 3.2), then the same-batch order of dedupe_batch
EVENT_DELIVERY_ORDER = ("ingested_at", "landing_hour", "source_file", "line_number")
QUARANTINE_ORDER = ("ingested_at", "reason")


def collapse_source(rows: DataFrame, keys: Iterable[str], order: Iterable[str]) -> DataFrame:
    """The source of a MERGE that leaves one row per key of ``rows`` (every row of each duplicated
    key): per key a ``delete`` row (its key only), which matches every copy, and the key's first row in
    ``order`` (nulls last) as ``insert``, which matches none (column ``_side``). One commit: a reader
    never sees a key without its row."""
    keys = list(keys)
    first = Window.partitionBy(*keys).orderBy(*[F.col(c).asc_nulls_last() for c in order])
    kept = (rows.withColumn("_n", F.row_number().over(first)).where(F.col("_n") == 1).drop("_n")
            .withColumn("_side", F.lit("insert")))
    markers = rows.select(*keys).distinct().withColumn("_side", F.lit("delete"))
    return kept.unionByName(markers, allowMissingColumns=True)


def summarize(keys: DataFrame, kinds: Iterable[str]) -> Discrepancies:
    """Collapse ``(kind, key)`` rows into counts and the first SAMPLE_SIZE keys (sorted) per kind.

    One Spark job: per kind, the count and the sorted distinct keys truncated to SAMPLE_SIZE.
    """
    rows = (
        keys.groupBy("kind")
        .agg(
            F.count(F.lit(1)).alias("n"),
            F.slice(F.sort_array(F.collect_set("key")), 1, SAMPLE_SIZE).alias("samples"),
        )
        .collect()
    )
    found = {row["kind"]: row for row in rows}
    counts = {kind: int(found[kind]["n"]) if kind in found else 0 for kind in kinds}
    samples = {kind: list(found[kind]["samples"]) if kind in found else [] for kind in kinds}
    return Discrepancies(counts=counts, samples=samples)


def reconcile_hour(
    raw_valid: DataFrame,
    raw_quarantined: DataFrame,
    lake_events: DataFrame,
    lake_quarantine: DataFrame,
    hour: dt.datetime,
) -> Discrepancies:
    """Counts and samples of RAW_KINDS for hour H (see :func:`raw_discrepancy_keys`)."""
    keys = raw_discrepancy_keys(raw_valid, raw_quarantined, lake_events, lake_quarantine, hour)
    return summarize(keys, RAW_KINDS)


def touched_ticket_ids(lake_events: DataFrame, hour: dt.datetime) -> DataFrame:
    """Distinct ``ticket_id`` of the lake events that landed in hour H."""
    return lake_events.where(F.col("landing_hour") == F.lit(hour).cast("timestamp")).select("ticket_id").distinct()


def ticket_discrepancy_keys(expected: DataFrame, actual: DataFrame, key: str = "ticket_id",
                            ignore: Iterable[str] = ()) -> DataFrame:
    """Rows ``(kind, key)``: tickets refolded from events (expected) vs the stored rows (actual).

    Compared columns: those of ``expected`` that ``actual`` also has, minus ``key`` and
    ``ignore`` (bookkeeping columns such as write timestamps). A mismatch's key names the ticket
    and the differing columns: ``T-1: priority,status``. ``actual`` must already be restricted to
    the expected tickets (stored rows of untouched tickets are out of scope).
    """
    skip = {key, *ignore}
    columns = [c for c in expected.columns if c in set(actual.columns) and c not in skip]
    exp = expected.select(key, *[F.col(c).alias(f"e__{c}") for c in columns])
    act = actual.select(key, *[F.col(c).alias(f"a__{c}") for c in columns], F.lit(True).alias("a__present"))
    joined = exp.join(act, key, "left")
    differing = F.concat_ws(",", *[
        F.when(~F.col(f"e__{c}").eqNullSafe(F.col(f"a__{c}")), F.lit(c)) for c in columns
    ]) if columns else F.lit("")
    flagged = joined.select(key, F.col("a__present").isNotNull().alias("present"), differing.alias("diff"))
    missing = flagged.where(~F.col("present")).select(F.lit("missing_tickets").alias("kind"), F.col(key).alias("key"))
    mismatched = flagged.where(F.col("present") & (F.col("diff") != "")).select(
        F.lit("mismatched_tickets").alias("kind"), F.concat_ws(": ", F.col(key), F.col("diff")).alias("key"))
    return missing.unionByName(mismatched)


def compare_tickets(expected: DataFrame, actual: DataFrame, key: str = "ticket_id",
                    ignore: Iterable[str] = ()) -> Discrepancies:
    """Counts and samples of TICKET_KINDS (see :func:`ticket_discrepancy_keys`)."""
    return summarize(ticket_discrepancy_keys(expected, actual, key, ignore), TICKET_KINDS)


def _comparable(value: Any) -> Any:
    """Normalize what a document store changes on the way: datetimes to naive UTC milliseconds
    (BSON dates have millisecond precision), numbers to int when integral."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value.replace(microsecond=value.microsecond // 1000 * 1000)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def compare_documents(expected: Mapping[str, Mapping[str, Any]], actual: Mapping[str, Mapping[str, Any]],
                      fields: Iterable[str]) -> Discrepancies:
    """Field-by-field comparison of projected documents: ``expected``/``actual`` map _id -> fields.

    ``missing_documents``: expected ids without a document; ``mismatched_documents``: samples
    ``<_id>: field1,field2`` naming the differing fields.
    """
    fields = list(fields)
    missing: list[str] = []
    mismatched: list[str] = []
    for doc_id in sorted(expected):
        document = actual.get(doc_id)
        if document is None:
            missing.append(doc_id)
            continue
        want = expected[doc_id]
        diff = [f for f in fields if _comparable(want.get(f)) != _comparable(document.get(f))]
        if diff:
            mismatched.append(f"{doc_id}: {','.join(diff)}")
    return Discrepancies(
        counts={"missing_documents": len(missing), "mismatched_documents": len(mismatched)},
        samples={"missing_documents": missing[:SAMPLE_SIZE], "mismatched_documents": mismatched[:SAMPLE_SIZE]},
    )


def quarantine_rate(quarantined: int, valid: int) -> float:
    """Share of an hour's lake rows that are quarantined lines (0.0 for an empty hour): `valid` counts the
    events first delivered in the hour, so a re-delivery of an earlier hour's event counts in neither."""
    total = quarantined + valid
    return quarantined / total if total else 0.0
