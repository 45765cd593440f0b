"""Ticket state as a pure function of the SET of a ticket's events (DESIGN 3.2).

Every field is an order-insensitive aggregate (min/max over structs ordered by seq then
event_id), so arrival order, duplicates, lateness and batch boundaries cannot change the
result: refolding a ticket from all its committed events is always correct, which is what
makes a replayed batch converge after a crash.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

TICKET_COLUMNS = [
    "ticket_id", "customer_id", "channel", "created_at", "status", "priority", "agent_id",
    "csat_score", "message_count", "first_response_at", "resolved_at", "last_seq", "updated_at",
    "event_count",
]

OLTP_COLUMNS = [
    "ticket_id", "status", "priority", "agent_id", "customer_id", "channel", "message_count",
    "last_seq", "updated_at", "event_count",
]

DEFAULT_STATUS = "open"
DEFAULT_PRIORITY = "normal"


def dedupe_batch(valid: DataFrame) -> DataFrame:
    """One row per event_id: same-batch deliveries resolve to the earliest landing_hour, then
    the smallest source_file, then the smallest line_number. Input and output: valid-events columns."""
    first = Window.partitionBy("event_id").orderBy(
        F.col("landing_hour").asc_nulls_last(), F.col("source_file").asc_nulls_last(), F.col("line_number").asc_nulls_last()
    )
    return valid.withColumn("_delivery", F.row_number().over(first)).where("_delivery = 1").drop("_delivery")


def _latest(condition, *fields: str):
    """The struct(seq, event_id, *fields) of the highest-seq event matching `condition` (ties: larger event_id)."""
    return F.max(F.when(condition, F.struct(F.col("seq"), F.col("event_id"), *[F.col(f) for f in fields])))


def fold_tickets(events: DataFrame) -> DataFrame:
    """Current state per ticket (columns TICKET_COLUMNS) from a set of events (events-table or
    valid-events columns; an event_id may appear more than once, it counts once)."""
    kind = F.col("event_type")
    created = kind == "ticket_created"
    # Of several ticket_created events the lowest seq counts (ties: larger event_id, as everywhere).
    first_created = F.max(F.when(created, F.struct(
        (-F.col("seq")).alias("neg_seq"), F.col("seq"), F.col("event_id"), F.col("customer_id"), F.col("channel"),
        F.col("occurred_at"), F.coalesce(F.col("priority"), F.lit(DEFAULT_PRIORITY)).alias("priority"),
    )))
    folded = events.groupBy("ticket_id").agg(
        first_created.alias("_created"),
        _latest(kind == "priority_changed", "priority").alias("_priority"),
        _latest(kind == "status_changed", "status").alias("_status"),
        _latest((kind == "status_changed") & (F.col("status") == "solved"), "occurred_at").alias("_solved"),
        _latest(kind == "agent_assigned", "agent_id").alias("_agent"),
        _latest(kind == "csat_submitted", "csat_score").alias("_csat"),
        _latest(F.lit(True), "occurred_at").alias("_last"),
        F.count_distinct(F.when(kind == "message_added", F.col("event_id"))).alias("message_count"),
        F.min(F.when((kind == "message_added") & (F.col("author") == "agent"), F.col("occurred_at"))).alias("first_response_at"),
        F.count_distinct("event_id").alias("event_count"),
    )
    created_priority = F.when(
        F.col("_created").isNotNull(),
        F.struct(F.col("_created.seq").alias("seq"), F.col("_created.event_id").alias("event_id"),
                 F.col("_created.priority").alias("priority")),
    )
    priority = F.greatest(created_priority, F.col("_priority"))
    status = F.coalesce(F.col("_status.status"), F.lit(DEFAULT_STATUS))
    return folded.select(
        "ticket_id",
        F.col("_created.customer_id").alias("customer_id"),
        F.col("_created.channel").alias("channel"),
        F.col("_created.occurred_at").alias("created_at"),
        status.alias("status"),
        F.coalesce(priority.getField("priority"), F.lit(DEFAULT_PRIORITY)).alias("priority"),
        F.col("_agent.agent_id").alias("agent_id"),
        F.col("_csat.csat_score").cast("int").alias("csat_score"),
        F.col("message_count").cast("long").alias("message_count"),
        "first_response_at",
        F.when(status.isin("solved", "closed"), F.col("_solved.occurred_at")).alias("resolved_at"),
        F.col("_last.seq").cast("long").alias("last_seq"),
        F.col("_last.occurred_at").alias("updated_at"),
        F.col("event_count").cast("long").alias("event_count"),
    )


def oltp_projection(tickets: DataFrame) -> DataFrame:
    """The DocumentDB subset of ticket state (DESIGN 3.3): columns OLTP_COLUMNS."""
    return tickets.select(*OLTP_COLUMNS)
