"""The exact reference reader: what Spark's own JSON reader makes of a line, rule by rule.

A field's JSON kind ("3" vs 3) cannot be told from one all-string parse, so each line is parsed
once per kind (text, long, double, boolean, map, array) and the parses are compared. Exact but
slow (~1.4k lines/s, twelve parses and a huge rule expression per line): the other readers send
it only the lines they cannot decide themselves, and tests pin them equal to it.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from cs_platform.logic.events.contract import (
    APPLICABLE_FIELDS, CSAT_RANGE, DATA_FIELDS, DATA_RULES, DEFAULT_PRIORITY, ENUMS, ENVELOPE_FIELDS, EVENT_TYPES,
    INT_FIELDS, ISO_TIMESTAMP, LINE_COLUMNS,
)
from cs_platform.logic.events.projection import once


def _schema(fields, kind: T.DataType, int_kind: T.DataType | None = None) -> T.StructType:
    return T.StructType([
        T.StructField(f, int_kind if (int_kind is not None and f in INT_FIELDS) else kind) for f in fields
    ])


_CORRUPT = "_corrupt_record"


def _parses(json_text: Column, fields) -> dict[str, Column]:
    """The same JSON parsed once per kind; a field is null in a kind's parse unless it has that kind.

    The text parse also keeps the line in ``_corrupt_record`` when Jackson fails on it: every field
    is then null, which must not read as a missing field (a raw control character inside a string).
    """
    string_map = T.MapType(T.StringType(), T.StringType())
    text = _schema(fields, T.StringType())
    kinds = {
        "text": text.add(T.StructField(_CORRUPT, T.StringType())),
        "long": _schema(fields, T.LongType()),
        "double": _schema(fields, T.DoubleType()),
        "bool": _schema(fields, T.BooleanType()),
        "object": _schema(fields, string_map),
        "array": _schema(fields, T.ArrayType(T.StringType())),
    }
    # An explicit option keeps Spark's OptimizeJsonExprs from rewriting every field access into
    # its own from_json (dozens of parses per line); PERMISSIVE is the default mode anyway.
    return {kind: F.from_json(json_text, schema, {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": _CORRUPT})
            for kind, schema in kinds.items()}


class _Kinds:
    """Column predicates on the kind of one field of a parsed JSON object."""

    def __init__(self, prefix: str):
        self.prefix = prefix

    def col(self, kind: str, field: str) -> Column:
        return F.col(f"{self.prefix}_{kind}.{field}")

    def text(self, field: str) -> Column:
        return self.col("text", field)

    def present(self, field: str) -> Column:
        return self.text(field).isNotNull()

    def is_string(self, field: str) -> Column:
        # a JSON string parses as double only for "NaN"/"Infinity"-like words, never digits
        number = self.col("double", field).isNotNull() & self.text(field).rlike(r"^-?[0-9]")
        non_string = (number | self.col("bool", field).isNotNull()
                      | self.col("object", field).isNotNull() | self.col("array", field).isNotNull())
        return self.present(field) & ~non_string

    def is_integer(self, field: str) -> Column:
        return self.col("long", field).isNotNull()

    def is_object(self, field: str) -> Column:
        return self.col("object", field).isNotNull()

    def well_typed(self, field: str) -> Column:
        if field in INT_FIELDS:
            return self.is_integer(field)
        if field == "data":
            return self.is_object(field)
        return self.is_string(field)

    def missing(self, field: str) -> Column:
        blank = self.text(field).rlike(r"^\s*$") if field not in INT_FIELDS and field != "data" else F.lit(False)
        return ~self.present(field) | (self.is_string(field) & blank)


def _first_failing(rules: list[tuple[Column, str]]) -> Column:
    """CASE WHEN over (failure condition, reason) pairs: the first failure wins, null if none."""
    chain = None
    for condition, reason in rules:
        chain = F.when(condition, F.lit(reason)) if chain is None else chain.when(condition, F.lit(reason))
    return chain.otherwise(F.lit(None).cast("string"))


def _field_rules(kinds: _Kinds, field: str, label: str) -> list[tuple[Column, str]]:
    return [(kinds.missing(field), f"missing_field:{label}"), (~kinds.well_typed(field), f"bad_type:{label}")]


def _data_rules(data: _Kinds, event_type: Column) -> list[tuple[Column, str]]:
    rules: list[tuple[Column, str]] = []
    for etype, required in DATA_RULES.items():
        applies = event_type == F.lit(etype)
        for field in required:
            rules += [(applies & cond, reason) for cond, reason in _field_rules(data, field, f"data.{field}")]
            rules += _value_rules(data, field, applies)
        if etype == "ticket_created":  # optional priority: checked only when given
            given = applies & data.present("priority")
            rules += [(given & ~data.well_typed("priority"), "bad_type:data.priority")]
            rules += _value_rules(data, "priority", given)
        if etype == "message_added":  # agent_id required when the author is an agent
            by_agent = applies & (data.text("author") == F.lit("agent"))
            rules += [(by_agent & cond, reason) for cond, reason in _field_rules(data, "agent_id", "data.agent_id")]
    return rules


def _value_rules(data: _Kinds, field: str, applies: Column) -> list[tuple[Column, str]]:
    if field in ENUMS:
        return [(applies & ~data.text(field).isin(*ENUMS[field]), f"bad_value:{field}")]
    if field == "csat_score":
        low, high = CSAT_RANGE
        return [(applies & ~data.col("long", field).between(low, high), "out_of_range:csat_score")]
    return []


# "Exactly one JSON value" with Spark's reader, which ignores what follows the first value:
# `[line,0]` must be an array of two. The reader stops at the first `]` that closes it, which may
# be the line's own (`{...},0],[x`): then the count does not depend on what follows the line, so
# `[line,0,0]` must also be an array of three.
def _wrapped_length(zeros: int) -> Column:
    """The length Spark's reader finds for the array `[line,0...]` (`zeros` trailing zeros)."""
    return F.expr(f"json_array_length(concat('[', raw_line, '{',0' * zeros}]'))")


def _one_value() -> Column:
    return (_wrapped_length(1) == 2) & (_wrapped_length(2) == 3)


def annotate(lines: DataFrame, keep: tuple[str, ...] = ()) -> DataFrame:
    """The exact reference: Spark's own JSON reader, parsed once per kind. Slow (~1.4k lines/s),
    so it only sees the lines the Python path cannot decide (see :func:`python_reader.decide_line`)."""
    env = _Kinds("env")
    data = _Kinds("dat")
    parsed = once(lines, [
        _one_value().alias("_one_value"),
        F.expr("json_object_keys(raw_line)").isNotNull().alias("_is_object"),
        *(p.alias(f"env_{k}") for k, p in _parses(F.col("raw_line"), ENVELOPE_FIELDS).items()),
    ])
    parsed = once(parsed, [p.alias(f"dat_{k}") for k, p in _parses(F.col("env_text.data"), DATA_FIELDS).items()])

    occurred_text = env.text("occurred_at")
    occurred_at = F.when(occurred_text.rlike(ISO_TIMESTAMP), occurred_text.cast("timestamp"))
    event_type = env.text("event_type")
    # An object Jackson cannot read through (its one-value check only skips over the text)
    unreadable = F.col("_is_object") & env.col("text", _CORRUPT).isNotNull()
    rules: list[tuple[Column, str]] = [
        (F.col("landing_hour").isNull(), "bad_path:landing_hour"),
        (~F.coalesce(F.col("_one_value"), F.lit(False)) | unreadable, "invalid_json"),
        (~F.col("_is_object"), "not_an_object"),
    ]
    for field in ENVELOPE_FIELDS:
        rules += _field_rules(env, field, field)
    rules += [
        (env.col("long", "seq") < 1, "out_of_range:seq"),
        (occurred_at.isNull(), "bad_timestamp:occurred_at"),
        (~event_type.isin(*EVENT_TYPES), "unknown_event_type"),
    ]
    rules += _data_rules(data, event_type)

    return parsed.select(
        *(F.col(c) for c in LINE_COLUMNS + keep),
        _first_failing(rules).alias("reason"),
        *(env.text(f).alias(f) for f in ("event_id", "event_type", "ticket_id")),
        env.col("long", "seq").alias("seq"),
        occurred_at.alias("occurred_at"),
        *(_applicable(data, field, event_type).alias(field) for field in DATA_FIELDS),
    )


def _applicable(data: _Kinds, field: str, event_type: Column) -> Column:
    types = [etype for etype, fields in APPLICABLE_FIELDS.items() if field in fields]
    value = data.col("long", field).cast("int") if field == "csat_score" else data.text(field)
    if field == "agent_id":  # a customer's message carries no agent
        applies = (event_type == F.lit("agent_assigned")) | (
            (event_type == F.lit("message_added")) & (data.text("author") == F.lit("agent")))
    else:
        applies = event_type.isin(*types)
    if field == "priority":
        value = F.when((event_type == F.lit("ticket_created")) & ~data.present("priority"),
                       F.lit(DEFAULT_PRIORITY)).otherwise(value)
    return F.when(applies, value).otherwise(F.lit(None).cast("int" if field == "csat_score" else "string"))
