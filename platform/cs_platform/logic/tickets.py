"""Ticket state as a pure function of the SET of a ticket's events (DESIGN 3.2).

Every field is an order-insensitive aggregate (min/max over structs ordered by seq then
event_id, distinct counts), so arrival order, duplicates, lateness and batch boundaries cannot change the
result: refolding a ticket from all its committed events is always correct, which is what
makes a replayed batch converge after a crash.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
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


_EVENT_FIELDS = ("seq", "event_id", "event_type", "occurred_at", "customer_id", "channel", "priority", "agent_id",
                 "author", "status", "csat_score")


def _of(kind: str, condition=None):
    """The events of one type (optionally also matching `condition`) of the ticket's array."""
    return F.filter("_events", lambda e: (e["event_type"] == kind) if condition is None
                    else (e["event_type"] == kind) & condition(e))


def _keyed(e, *fields: str) -> Column:
    return F.struct(e["seq"].alias("seq"), e["event_id"].alias("event_id"), *[e[f].alias(f) for f in fields])


def _latest(events: Column, *fields: str) -> Column:
    """struct(seq, event_id, *fields) of the highest-seq event of `events` (ties: larger event_id)."""
    return F.array_max(F.transform(events, lambda e: _keyed(e, *fields)))


def _distinct_ids(events) -> Column:
    return F.size(F.array_distinct(F.filter(F.transform(events, lambda e: e["event_id"]), lambda i: i.isNotNull())))


def fold_tickets(events: DataFrame) -> DataFrame:
    """Current state per ticket (columns TICKET_COLUMNS) from a set of events (events-table or
    valid-events columns; an event_id may appear more than once, it counts once).

    One shuffle: each ticket's events are gathered into an array (a hash aggregate) and every
    field is an order-insensitive max/min/count over that array.
    """
    gathered = events.groupBy("ticket_id").agg(F.collect_list(F.struct(*_EVENT_FIELDS)).alias("_events"))
    # Of several ticket_created events the lowest seq counts (ties: larger event_id, as everywhere).
    first_created = F.array_max(F.transform(_of("ticket_created"), lambda e: F.struct(
        (-e["seq"]).alias("neg_seq"), e["seq"].alias("seq"), e["event_id"].alias("event_id"),
        e["customer_id"].alias("customer_id"), e["channel"].alias("channel"), e["occurred_at"].alias("occurred_at"),
        F.coalesce(e["priority"], F.lit(DEFAULT_PRIORITY)).alias("priority"),
    )))
    by_agent = _of("message_added", lambda e: e["author"] == "agent")
    folded = gathered.select(
        "ticket_id",
        first_created.alias("_created"),
        _latest(_of("priority_changed"), "priority").alias("_priority"),
        _latest(_of("status_changed"), "status").alias("_status"),
        _latest(_of("status_changed", lambda e: e["status"] == "solved"), "occurred_at").alias("_solved"),
        _latest(_of("agent_assigned"), "agent_id").alias("_agent"),
        _latest(_of("csat_submitted"), "csat_score").alias("_csat"),
        _latest(F.col("_events"), "occurred_at").alias("_last"),
        _distinct_ids(_of("message_added")).alias("message_count"),
        F.array_min(F.transform(by_agent, lambda e: e["occurred_at"])).alias("first_response_at"),
        _distinct_ids(F.col("_events")).alias("event_count"),
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
