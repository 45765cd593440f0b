"""cs-event v1 (DESIGN 3.1): raw Firehose lines -> valid events | quarantined lines.

Pure DataFrame code, no Python UDFs: each line is parsed by Spark's JSON reader a few times with
differently typed schemas (text, long, double, boolean, map, array). Spark keeps the fields
that fit a schema and nulls the others, so comparing the parses tells a field's JSON kind
(string vs number vs object ...), which a single all-string parse cannot ("3" and 3 look alike).

Rules, in order; the FIRST failing rule names the line's ``reason``:

1. ``bad_path:landing_hour``   the file is not under a ``YYYY/MM/DD/HH/`` prefix
2. ``invalid_json``            not one complete JSON value (trailing junk, two objects on a line)
3. ``not_an_object``           valid JSON, but an array, string, number or null
4. per envelope field, in the order event_id, event_type, ticket_id, seq, occurred_at, data:
   ``missing_field:<f>`` (absent, null or a blank string), then ``bad_type:<f>``
   (strings must be JSON strings, seq a JSON integer, data an object)
5. ``out_of_range:seq`` (seq < 1), ``bad_timestamp:occurred_at``, ``unknown_event_type``
6. per required data field of the event type, in the order of ``DATA_RULES``:
   ``missing_field:data.<f>``, ``bad_type:data.<f>``, then ``bad_value:<f>`` (enums) or
   ``out_of_range:csat_score``.

Unknown extra fields, and data fields that do not apply to the event type, are ignored.
Known leniencies of Spark's JSON reader: single-quoted strings are accepted; a duplicated key
keeps its last value.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
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
_INT_FIELDS = {"seq", "csat_score"}

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


def landing_hour_of(path: Column) -> Column:
    """Start of the arrival hour (UTC timestamp) from a Firehose key; null without the prefix
    or for an impossible date."""
    parts = [F.regexp_extract(path, HOUR_PREFIX, i).cast("int") for i in range(1, 5)]
    start = F.make_timestamp(*parts, F.lit(0), F.lit(0), F.lit("UTC"))
    return F.when(path.rlike(HOUR_PREFIX), start).cast("timestamp")


def explode_lines(files: DataFrame, text_col: str = "value", path_col: str = "source_file") -> DataFrame:
    """One row per file (whole text) -> one row per non-empty line.

    Output: raw_line string (without its line ending), source_file string, line_number long
    (1-based, counting every physical line including empty ones), landing_hour timestamp.
    ``\\r\\n`` endings are handled; empty and whitespace-only lines are skipped.
    """
    exploded = files.select(
        F.col(path_col).alias("source_file"),
        F.posexplode(F.split(F.col(text_col), "\n")).alias("pos", "line"),
    )
    return (
        exploded.where(~F.col("line").rlike(r"^\s*$"))
        .select(
            F.regexp_replace("line", r"\r$", "").alias("raw_line"),
            F.col("source_file").cast("string").alias("source_file"),
            (F.col("pos").cast("long") + F.lit(1)).alias("line_number"),
            landing_hour_of(F.col("source_file")).alias("landing_hour"),
        )
    )


# ---- JSON kind detection ------------------------------------------------------------------


def _schema(fields, kind: T.DataType, int_kind: T.DataType | None = None) -> T.StructType:
    return T.StructType([
        T.StructField(f, int_kind if (int_kind is not None and f in _INT_FIELDS) else kind) for f in fields
    ])


def _parses(json_text: Column, fields) -> dict[str, Column]:
    """The same JSON parsed once per kind; a field is null in a kind's parse unless it has that kind."""
    string_map = T.MapType(T.StringType(), T.StringType())
    kinds = {
        "text": _schema(fields, T.StringType()),
        "long": _schema(fields, T.LongType()),
        "double": _schema(fields, T.DoubleType()),
        "bool": _schema(fields, T.BooleanType()),
        "object": _schema(fields, string_map),
        "array": _schema(fields, T.ArrayType(T.StringType())),
    }
    # An explicit option keeps Spark's OptimizeJsonExprs from rewriting every field access into
    # its own from_json (dozens of parses per line); PERMISSIVE is the default mode anyway.
    return {kind: F.from_json(json_text, schema, {"mode": "PERMISSIVE"}) for kind, schema in kinds.items()}


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
        if field in _INT_FIELDS:
            return self.is_integer(field)
        if field == "data":
            return self.is_object(field)
        return self.is_string(field)

    def missing(self, field: str) -> Column:
        blank = self.text(field).rlike(r"^\s*$") if field not in _INT_FIELDS and field != "data" else F.lit(False)
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


def _once(df: DataFrame, expressions: list[Column]) -> DataFrame:
    """Add columns computed exactly once per row.

    The split filters on ``reason``; Spark pushes that filter below plain projections and
    inlines every parse into it (hundreds of from_json per line). A generator (inline of a
    one-element array) is a barrier the optimizer does not see through.
    """
    return df.select("*", F.inline(F.array(F.struct(*expressions))))


def validate_lines(lines: DataFrame) -> tuple[DataFrame, DataFrame]:
    """Split raw lines into ``(valid, quarantined)`` by the rules of the module docstring.

    Input: raw_line, source_file, line_number, landing_hour (as from :func:`explode_lines`).
    valid: ``VALID_COLUMNS`` (data flattened; fields not applicable to the type are null;
    an absent ticket_created priority is ``normal``). quarantined: ``QUARANTINE_COLUMNS``.
    Both come from one annotated projection; cache ``lines`` if it is expensive to recompute.
    """
    env = _Kinds("env")
    data = _Kinds("dat")
    parsed = _once(lines, [
        F.expr("json_array_length(concat('[', raw_line, ',0]'))").alias("_json_len"),
        F.expr("json_object_keys(raw_line)").isNotNull().alias("_is_object"),
        *(p.alias(f"env_{k}") for k, p in _parses(F.col("raw_line"), ENVELOPE_FIELDS).items()),
    ])
    parsed = _once(parsed, [p.alias(f"dat_{k}") for k, p in _parses(F.col("env_text.data"), DATA_FIELDS).items()])

    occurred_text = env.text("occurred_at")
    occurred_at = F.when(occurred_text.rlike(ISO_TIMESTAMP), occurred_text.cast("timestamp"))
    event_type = env.text("event_type")
    rules: list[tuple[Column, str]] = [
        (F.col("landing_hour").isNull(), "bad_path:landing_hour"),
        (F.col("_json_len").isNull() | (F.col("_json_len") != 2), "invalid_json"),
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

    annotated = parsed.select(
        *(F.col(c) for c in LINE_COLUMNS),
        _first_failing(rules).alias("reason"),
        *(env.text(f).alias(f) for f in ("event_id", "event_type", "ticket_id")),
        env.col("long", "seq").alias("seq"),
        occurred_at.alias("occurred_at"),
        *(_applicable(data, field, event_type).alias(field) for field in DATA_FIELDS),
    )
    valid = annotated.where(F.col("reason").isNull()).select(*VALID_COLUMNS)
    quarantined = annotated.where(F.col("reason").isNotNull()).select(*QUARANTINE_COLUMNS)
    return valid, quarantined


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
