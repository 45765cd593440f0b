"""The typed parse: every line parsed ONCE with the contract's typed schema.

A line is decided here only when it is certainly valid: one JSON object, every checked string a
plain word that no number, boolean, object or array could have produced, seq a long >= 1, a good
timestamp, a known type with its data. That is nearly every line of a healthy stream; the others
go to the Python reader.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from cs_platform.logic.events.contract import (
    AUTHORS, CHANNELS, CSAT_RANGE, DEFAULT_PRIORITY, EVENT_TYPES, ISO_TIMESTAMP, LINE_COLUMNS, PRIORITIES, STATUSES,
    raw_event_schema,
)
from cs_platform.logic.events.projection import once

# A string field's text that a non-string JSON value could also produce (Spark's reader turns a
# number, boolean, object or array into its JSON text when the schema says string), or a blank:
# such lines are left to the exact paths. Plain ids ("T-1", UUIDs) and enum words pass.
_PLAIN_TEXT = r"^(?![-+]?(NaN|Infinity|INF)$|true$|false$|-?[0-9][0-9.eE+-]*$)[A-Za-z0-9_]"


def _plain(text: Column) -> Column:
    return text.isNotNull() & text.rlike(_PLAIN_TEXT)


def _fast_verdict(p: str) -> tuple[Column, dict[str, Column]]:
    """(is the line certainly valid, its valid columns) from the typed parse ``p`` of the line.

    True only where every rule of the module docstring certainly passes; every column then equals
    what the reference gives (same reader, same options, same timestamp rule).
    """
    env, data = (lambda f: F.col(f"{p}.{f}")), (lambda f: F.col(f"{p}.data.{f}"))
    kind = env("event_type")
    occurred_at = F.when(env("occurred_at").rlike(ISO_TIMESTAMP), env("occurred_at").cast("timestamp"))
    is_type = {etype: kind == F.lit(etype) for etype in EVENT_TYPES}
    by_agent = is_type["message_added"] & (data("author") == F.lit("agent"))
    low, high = CSAT_RANGE
    data_ok = (
        (is_type["ticket_created"] & _plain(data("customer_id")) & data("channel").isin(*CHANNELS)
         & (data("priority").isNull() | data("priority").isin(*PRIORITIES)))
        | (is_type["agent_assigned"] & _plain(data("agent_id")))
        | (is_type["message_added"] & data("author").isin(*AUTHORS) & (~by_agent | _plain(data("agent_id"))))
        | (is_type["status_changed"] & data("status").isin(*STATUSES))
        | (is_type["priority_changed"] & data("priority").isin(*PRIORITIES))
        | (is_type["csat_submitted"] & data("csat_score").between(low, high))
    )
    certain = F.coalesce(
        # `[line]` holds one value, and no `]` in the line: the `]` that closed it is then the wrapper's
        F.col("landing_hour").isNotNull() & (F.size("_values") == 1) & F.col("raw_line").startswith("{")
        & ~F.col("raw_line").contains("]")
        & _plain(env("event_id")) & _plain(env("ticket_id")) & (env("seq") >= 1) & occurred_at.isNotNull()
        & F.col(f"{p}.data").isNotNull() & data_ok,
        F.lit(False),  # null (a null part) is not certain either: never drop a line
    )
    created = is_type["ticket_created"]
    values = {
        "event_id": env("event_id"), "event_type": kind, "ticket_id": env("ticket_id"), "seq": env("seq"),
        "occurred_at": occurred_at,
        "customer_id": F.when(created, data("customer_id")),
        "channel": F.when(created, data("channel")),
        "priority": F.when(created, F.coalesce(data("priority"), F.lit(DEFAULT_PRIORITY)))
                     .when(is_type["priority_changed"], data("priority")),
        "agent_id": F.when(is_type["agent_assigned"] | by_agent, data("agent_id")),
        "author": F.when(is_type["message_added"], data("author")),
        "status": F.when(is_type["status_changed"], data("status")),
        "csat_score": F.when(is_type["csat_submitted"], data("csat_score").cast("int")),
    }
    return certain, values


def prepare_lines(lines: DataFrame) -> DataFrame:
    """Parse every line once with the contract schema and mark the certainly valid ones.

    Output: ``LINE_COLUMNS`` (``raw_line`` kept only for the other lines), ``_certain``, and the
    valid columns of the certain lines. Feed it to :func:`annotate_prepared`; cache it first when
    the annotation is used more than once (the other lines are annotated on each use).
    """
    # Spark's reader ignores what follows the first value, so the line is parsed as the array
    # `[line]`: "exactly one JSON value" is then an array of one (with no `]` in the line, see
    # reference._one_value), in the same pass (a second parse for the check cost 15 % of this function).
    parsed = once(lines, [
        F.from_json(F.concat(F.lit("["), F.col("raw_line"), F.lit("]")), T.ArrayType(raw_event_schema()),
                    # NaN/Infinity are not JSON: the reference's one-value check rejects them anywhere in
                    # the line, so a line holding one (even in an ignored field) must leave this path
                    {"mode": "PERMISSIVE", "allowNonNumericNumbers": "false"}).alias("_values"),
    ])
    parsed = parsed.withColumn("_p", F.col("_values")[0])
    certain, values = _fast_verdict("_p")
    return parsed.select(
        F.when(~certain, F.col("raw_line")).alias("raw_line"), *LINE_COLUMNS[1:], certain.alias("_certain"),
        *(column.alias(name) for name, column in values.items()),  # read only where certain
    )
