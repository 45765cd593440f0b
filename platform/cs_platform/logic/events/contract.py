"""The cs-event v1 contract (DESIGN 3.1) as data: event types, enums, the rules' field lists,
the Spark schemas of a raw line, a valid event and a quarantined line."""

from __future__ import annotations

from pyspark.sql import types as T

EVENT_TYPES = (
    "ticket_created", "agent_assigned", "message_added", "status_changed", "priority_changed",
    "csat_submitted",
)
CHANNELS = ("chat", "email", "phone")
PRIORITIES = ("low", "normal", "high", "urgent")
AUTHORS = ("customer", "agent")
STATUSES = ("open", "pending", "solved", "closed")
DEFAULT_PRIORITY = "normal"
CSAT_RANGE = (1, 5)

ENVELOPE_FIELDS = ("event_id", "event_type", "ticket_id", "seq", "occurred_at", "data")
DATA_FIELDS = ("customer_id", "channel", "priority", "agent_id", "author", "status", "csat_score")
INT_FIELDS = {"seq", "csat_score"}

# event_type -> required data fields, checked in this order (message_added's agent_id is
# required only when author is agent; ticket_created's priority is optional but checked if set).
DATA_RULES: dict[str, tuple[str, ...]] = {
    "ticket_created": ("customer_id", "channel"),
    "agent_assigned": ("agent_id",),
    "message_added": ("author",),
    "status_changed": ("status",),
    "priority_changed": ("priority",),
    "csat_submitted": ("csat_score",),
}
# data fields copied to the valid row per event type (the others are null)
APPLICABLE_FIELDS: dict[str, tuple[str, ...]] = {
    "ticket_created": ("customer_id", "channel", "priority"),
    "agent_assigned": ("agent_id",),
    "message_added": ("author", "agent_id"),
    "status_changed": ("status",),
    "priority_changed": ("priority",),
    "csat_submitted": ("csat_score",),
}
ENUMS = {"channel": CHANNELS, "priority": PRIORITIES, "author": AUTHORS, "status": STATUSES}

LINE_COLUMNS = ("raw_line", "source_file", "line_number", "landing_hour")
VALID_COLUMNS = (
    "event_id", "event_type", "ticket_id", "seq", "occurred_at", "customer_id", "channel",
    "priority", "agent_id", "author", "status", "csat_score", "source_file", "line_number",
    "landing_hour",
)
QUARANTINE_COLUMNS = ("raw_line", "source_file", "line_number", "landing_hour", "reason")
# what every reader adds to a line: the first failing rule (null when valid), then the valid columns
ANNOTATED_COLUMNS = ("reason", "event_id", "event_type", "ticket_id", "seq", "occurred_at", *DATA_FIELDS)

# ISO-8601 with an explicit UTC designator or offset; the instant is stored in UTC.
ISO_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$"
# `.../YYYY/MM/DD/HH/<file>`: the Firehose arrival-hour prefix right above the object name.
HOUR_PREFIX = r"(\d{4})/(\d{2})/(\d{2})/(\d{2})/[^/]+$"


def raw_event_schema() -> T.StructType:
    """The Spark schema of one cs-event v1 line, typed as the contract says."""
    data = T.StructType([
        T.StructField("customer_id", T.StringType()),
        T.StructField("channel", T.StringType()),
        T.StructField("priority", T.StringType()),
        T.StructField("agent_id", T.StringType()),
        T.StructField("author", T.StringType()),
        T.StructField("status", T.StringType()),
        T.StructField("csat_score", T.LongType()),
    ])
    return T.StructType([
        T.StructField("event_id", T.StringType()),
        T.StructField("event_type", T.StringType()),
        T.StructField("ticket_id", T.StringType()),
        T.StructField("seq", T.LongType()),
        T.StructField("occurred_at", T.StringType()),
        T.StructField("data", data),
    ])


def valid_schema() -> T.StructType:
    types = {"seq": T.LongType(), "occurred_at": T.TimestampType(), "csat_score": T.IntegerType(),
             "line_number": T.LongType(), "landing_hour": T.TimestampType()}
    return T.StructType([T.StructField(c, types.get(c, T.StringType())) for c in VALID_COLUMNS])


def quarantine_schema() -> T.StructType:
    types = {"line_number": T.LongType(), "landing_hour": T.TimestampType()}
    return T.StructType([T.StructField(c, types.get(c, T.StringType())) for c in QUARANTINE_COLUMNS])

