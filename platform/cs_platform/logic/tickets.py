"""Ticket state as a pure function of the SET of a ticket's events (DESIGN 3.2).

Every field is finalized from order-insensitive partial aggregates (max over structs ordered by
seq then event_id, min, distinct counts), so arrival order, duplicates, lateness and batch
boundaries cannot change the result. Two ways to the same state:
- `fold_tickets`: refold a ticket from all its committed events (always right; a replayed batch
  after a crash, a backfill);
- `advance_tickets`: combine the stored partials (`tickets.fold_state`) with those of the batch's
  newly inserted events only (a steady-state batch: no read of the ticket's history).
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

FOLD_STATE = "fold_state"
# The partial aggregates a ticket's state is finalized from, kept in `tickets.fold_state` so that
# a batch folds only its new events into them. Each is the max of (seq, event_id, ...) structs over
# a set of events ("created" maxes -seq first: the lowest seq counts), so two partials combine
# with `greatest`, whatever the order and split of the events.
_KEY = "seq: BIGINT, event_id: STRING"
_PARTIAL_TYPES = {
    "created": f"STRUCT<neg_seq: BIGINT, {_KEY}, customer_id: STRING, channel: STRING, occurred_at: TIMESTAMP, "
               "priority: STRING>",
    "priority": f"STRUCT<{_KEY}, priority: STRING>",
    "status": f"STRUCT<{_KEY}, status: STRING>",
    "solved": f"STRUCT<{_KEY}, occurred_at: TIMESTAMP>",
    "agent": f"STRUCT<{_KEY}, agent_id: STRING>",
    "csat": f"STRUCT<{_KEY}, csat_score: INT>",
    "last": f"STRUCT<{_KEY}, occurred_at: TIMESTAMP>",
}
_PARTIALS = tuple(_PARTIAL_TYPES)
_COUNTS = ("message_count", "event_count")  # distinct events: the two sides of a combine are disjoint
FOLD_STATE_DDL = "STRUCT<" + ", ".join(f"{name}: {kind}" for name, kind in _PARTIAL_TYPES.items()) + ">"


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


def ticket_partials(events: DataFrame) -> DataFrame:
    """Per ticket: the partials (_PARTIALS), message_count, first_response_at, event_count of a set
    of events (an event_id may appear more than once, it counts once).

    One shuffle: each ticket's events are gathered into an array (a hash aggregate) and every
    partial is an order-insensitive max/min/count over that array.
    """
    gathered = events.groupBy("ticket_id").agg(F.collect_list(F.struct(*_EVENT_FIELDS)).alias("_events"))
    # Of several ticket_created events the lowest seq counts (ties: larger event_id, as everywhere).
    first_created = F.array_max(F.transform(_of("ticket_created"), lambda e: F.struct(
        (-e["seq"]).alias("neg_seq"), e["seq"].alias("seq"), e["event_id"].alias("event_id"),
        e["customer_id"].alias("customer_id"), e["channel"].alias("channel"), e["occurred_at"].alias("occurred_at"),
        F.coalesce(e["priority"], F.lit(DEFAULT_PRIORITY)).alias("priority"),
    )))
    by_agent = _of("message_added", lambda e: e["author"] == "agent")
    partials = gathered.select(
        "ticket_id",
        first_created.alias("created"),
        _latest(_of("priority_changed"), "priority").alias("priority"),
        _latest(_of("status_changed"), "status").alias("status"),
        _latest(_of("status_changed", lambda e: e["status"] == "solved"), "occurred_at").alias("solved"),
        _latest(_of("agent_assigned"), "agent_id").alias("agent"),
        _latest(_of("csat_submitted"), "csat_score").alias("csat"),
        _latest(F.col("_events"), "occurred_at").alias("last"),
        _distinct_ids(_of("message_added")).cast("long").alias("message_count"),
        F.array_min(F.transform(by_agent, lambda e: e["occurred_at"])).alias("first_response_at"),
        _distinct_ids(F.col("_events")).cast("long").alias("event_count"),
    )
    return partials.select("ticket_id", *[F.col(p).cast(kind).alias(p) for p, kind in _PARTIAL_TYPES.items()],
                           "message_count", "first_response_at", "event_count")


def finalize_partials(partials: DataFrame) -> DataFrame:
    """Ticket state (TICKET_COLUMNS, then FOLD_STATE) from partials (see :func:`ticket_partials`)."""
    created_priority = F.when(
        F.col("created").isNotNull(),
        F.struct(F.col("created.seq").alias("seq"), F.col("created.event_id").alias("event_id"),
                 F.col("created.priority").alias("priority")),
    )
    priority = F.greatest(created_priority, F.col("priority"))
    status = F.coalesce(F.col("status.status"), F.lit(DEFAULT_STATUS))
    return partials.select(
        "ticket_id",
        F.col("created.customer_id").alias("customer_id"),
        F.col("created.channel").alias("channel"),
        F.col("created.occurred_at").alias("created_at"),
        status.alias("status"),
        F.coalesce(priority.getField("priority"), F.lit(DEFAULT_PRIORITY)).alias("priority"),
        F.col("agent.agent_id").alias("agent_id"),
        F.col("csat.csat_score").cast("int").alias("csat_score"),
        "message_count",
        "first_response_at",
        F.when(status.isin("solved", "closed"), F.col("solved.occurred_at")).alias("resolved_at"),
        F.col("last.seq").alias("last_seq"),
        F.col("last.occurred_at").alias("updated_at"),
        "event_count",
        F.struct(*[F.col(p) for p in _PARTIALS]).alias(FOLD_STATE),
    )


def fold_tickets(events: DataFrame) -> DataFrame:
    """Current state per ticket (TICKET_COLUMNS, then FOLD_STATE) from a set of events
    (events-table or valid-events columns; an event_id may appear more than once, it counts once)."""
    return finalize_partials(ticket_partials(events))


def advance_tickets(new_events: DataFrame, current: DataFrame) -> DataFrame:
    """The state of the tickets `new_events` touch, from their stored state (`current`: tickets-table
    rows) and only those events: equal to refolding all their events, provided `new_events` holds
    distinct event_ids that the stored state has not counted yet (the batch's newly inserted events).
    Tickets without a stored row start from nothing."""
    added = ticket_partials(new_events)
    stored = current.select(
        "ticket_id", *[F.col(f"{FOLD_STATE}.{p}").alias(f"_s_{p}") for p in _PARTIALS],
        *[F.col(c).alias(f"_s_{c}") for c in (*_COUNTS, "first_response_at")])
    joined = added.join(stored, "ticket_id", "left")
    return finalize_partials(joined.select(
        "ticket_id",
        *[F.greatest(p, f"_s_{p}").alias(p) for p in _PARTIALS],
        *[(F.col(c) + F.coalesce(F.col(f"_s_{c}"), F.lit(0))).alias(c) for c in _COUNTS],
        F.least("first_response_at", "_s_first_response_at").alias("first_response_at"),
    ))


def oltp_projection(tickets: DataFrame) -> DataFrame:
    """The DocumentDB subset of ticket state (DESIGN 3.3): columns OLTP_COLUMNS."""
    return tickets.select(*OLTP_COLUMNS)
