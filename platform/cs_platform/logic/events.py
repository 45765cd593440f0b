"""cs-event v1 (DESIGN 3.1): raw Firehose lines -> valid events | quarantined lines.

Three readers, one behaviour. The reference is pure DataFrame code: each line is parsed by
Spark's JSON reader once per kind (text, long, double, boolean, map, array) and comparing the
parses tells a field's JSON kind ("3" vs 3), which a single all-string parse cannot. It is exact
but slow (twelve parses and a huge rule expression per line). So:

1. every line is parsed ONCE with the contract's typed schema (:func:`prepare_lines`); a line is
   decided there only when it is certainly valid: one JSON object, every checked string a plain
   word that no number, boolean, object or array could have produced, seq a long >= 1, a good
   timestamp, a known type with its data. That is nearly every line of a healthy stream.
2. the other lines (malformed ones, and valid ones the typed parse cannot vouch for) go through
   a vectorized pandas UDF that parses each once with ``json.loads`` and applies the rules in
   plain Python;
3. the few lines where Python's reading could differ from Spark's Jackson (invalid JSON,
   NaN/Infinity, duplicated keys, escaped surrogates, very long numbers, deep nesting,
   non-UTF-8) fall back to the reference in the same projection.
Tests pin 1 and 2 equal to the reference on an edge corpus (kinds, blanks, big ints, NaN,
duplicates, junk after the object ...).

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

import json
import math
import re

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
    # The hour is a property of the file: computed in a projection of its own, below the explode,
    # or Spark computes it after the explode, five regexes per line (a third of the batch's parse).
    per_file = files.select(
        F.col(path_col).cast("string").alias("source_file"),
        landing_hour_of(F.col(path_col)).alias("landing_hour"),
        F.col(text_col).alias("_text"),
    )
    exploded = per_file.select("source_file", "landing_hour", F.posexplode(F.split("_text", "\n")).alias("pos", "line"))
    blank = ~F.col("line").startswith("{") & F.col("line").rlike(r"^\s*$")  # the regex only off the common path
    return (
        exploded.where(~blank)
        .select(
            F.when(F.instr("line", "\r") > 0, F.regexp_replace("line", r"\r$", "")).otherwise(F.col("line"))
            .alias("raw_line"),
            "source_file",
            (F.col("pos").cast("long") + F.lit(1)).alias("line_number"),
            "landing_hour",
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


# "Exactly one JSON value" with Spark's reader, which ignores what follows the first value:
# `[line,0]` must be an array of two. The reader stops at the first `]` that closes it, which may
# be the line's own (`{...},0],[x`): then the count does not depend on what follows the line, so
# `[line,0,0]` must also be an array of three.
def _wrapped_length(zeros: int) -> Column:
    """The length Spark's reader finds for the array `[line,0...]` (`zeros` trailing zeros)."""
    return F.expr(f"json_array_length(concat('[', raw_line, '{',0' * zeros}]'))")


def _one_value() -> Column:
    return (_wrapped_length(1) == 2) & (_wrapped_length(2) == 3)


def _spark_annotate(lines: DataFrame, keep: tuple[str, ...] = ()) -> DataFrame:
    """The exact reference: Spark's own JSON reader, parsed once per kind. Slow (~1.4k lines/s),
    so it only sees the lines the Python path cannot decide (see :func:`_python_decision`)."""
    env = _Kinds("env")
    data = _Kinds("dat")
    parsed = _once(lines, [
        _one_value().alias("_one_value"),
        F.expr("json_object_keys(raw_line)").isNotNull().alias("_is_object"),
        *(p.alias(f"env_{k}") for k, p in _parses(F.col("raw_line"), ENVELOPE_FIELDS).items()),
    ])
    parsed = _once(parsed, [p.alias(f"dat_{k}") for k, p in _parses(F.col("env_text.data"), DATA_FIELDS).items()])

    occurred_text = env.text("occurred_at")
    occurred_at = F.when(occurred_text.rlike(ISO_TIMESTAMP), occurred_text.cast("timestamp"))
    event_type = env.text("event_type")
    rules: list[tuple[Column, str]] = [
        (F.col("landing_hour").isNull(), "bad_path:landing_hour"),
        (~F.coalesce(F.col("_one_value"), F.lit(False)), "invalid_json"),
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


# ---- the fast path: one json.loads per line in a vectorized (Arrow) pandas UDF ----------------

_LONG_MIN, _LONG_MAX = -(2 ** 63), 2 ** 63 - 1
# Java's `^\s*$` (rlike finds it): ASCII whitespace, `$` also matching before a final terminator.
_JAVA_BLANK = re.compile("[ \t\n\x0b\f\r]*[\u0085\u2028\u2029]?")
# Lines whose reading may differ between Python's json and Spark's Jackson: escaped surrogates,
# very long numbers (Jackson limits), NaN/Infinity words, duplicated keys, deep nesting.
_RISKY = re.compile(r"\\[uU][dD][89a-fA-F]|[0-9]{100}")
_MAX_BRACKETS = 64
_PY_FIELDS = (("fallback", T.BooleanType()), ("pre", T.StringType()), ("post", T.StringType()),
              ("event_id", T.StringType()), ("event_type", T.StringType()), ("ticket_id", T.StringType()),
              ("seq", T.LongType()), ("occurred_text", T.StringType()),
              *((f, T.IntegerType() if f == "csat_score" else T.StringType()) for f in DATA_FIELDS))
_PY_SCHEMA = T.StructType([T.StructField(n, t) for n, t in _PY_FIELDS])
_FALLBACK = (True,) + (None,) * (len(_PY_FIELDS) - 1)


class _Undecidable(Exception):
    """Python's reading of the line might differ from Spark's: let Spark decide."""


def _no_duplicates(pairs):
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _Undecidable
    return obj


def _no_constant(_word):
    raise _Undecidable


def _is_text(v) -> bool:
    if isinstance(v, float) and not math.isfinite(v):
        raise _Undecidable  # Jackson re-serializes these as quoted words
    return isinstance(v, str)


def _is_long(v) -> bool:
    return type(v) is int and _LONG_MIN <= v <= _LONG_MAX


def _field_reason(obj: dict, field: str, label: str, kind: str) -> str | None:
    """missing_field / bad_type of one field, as the Spark kinds would tell them."""
    v = obj.get(field)
    if v is None or (_is_text(v) and _JAVA_BLANK.fullmatch(v) and kind == "text"):
        return f"missing_field:{label}"
    ok = _is_long(v) if kind == "long" else isinstance(v, dict) if kind == "object" else _is_text(v)
    return None if ok else f"bad_type:{label}"


def _kind(field: str) -> str:
    return "long" if field in _INT_FIELDS else "object" if field == "data" else "text"


def _envelope_reason(obj: dict) -> str | None:
    for field in ENVELOPE_FIELDS:
        reason = _field_reason(obj, field, field, _kind(field))
        if reason:
            return reason
    return "out_of_range:seq" if obj["seq"] < 1 else None


def _data_reason(event_type: str, data: dict) -> str | None:
    """Rule 6 (and unknown_event_type), in the order of the module docstring."""
    if event_type not in EVENT_TYPES:
        return "unknown_event_type"
    for field in DATA_RULES[event_type]:
        reason = _field_reason(data, field, f"data.{field}", _kind(field)) or _value_reason(field, data[field])
        if reason:
            return reason
    if event_type == "ticket_created" and data.get("priority") is not None:
        if not _is_text(data["priority"]):
            return "bad_type:data.priority"
        return _value_reason("priority", data["priority"])
    if event_type == "message_added" and data["author"] == "agent":
        return _field_reason(data, "agent_id", "data.agent_id", "text")
    return None


def _value_reason(field: str, value) -> str | None:
    if field in ENUMS:
        return None if value in ENUMS[field] else f"bad_value:{field}"
    if field == "csat_score":
        low, high = CSAT_RANGE
        return None if low <= value <= high else "out_of_range:csat_score"
    return None


def _applicable_values(event_type: str, data: dict) -> tuple:
    """The flattened data columns of a valid row (null where the field does not apply)."""
    out = dict.fromkeys(DATA_FIELDS)
    for field in APPLICABLE_FIELDS.get(event_type, ()):
        out[field] = data.get(field)
    if event_type == "message_added" and data.get("author") != "agent":
        out["agent_id"] = None
    if event_type == "ticket_created" and out["priority"] is None:
        out["priority"] = DEFAULT_PRIORITY
    return tuple(out[f] for f in DATA_FIELDS)


def _python_decision(raw: bytes) -> tuple:
    """One line -> a row of ``_PY_SCHEMA``: reasons before (``pre``) and after (``post``) the
    timestamp rule, which Spark applies itself, plus the valid columns; or ``fallback``."""
    try:
        text = raw.decode("utf-8")
        if _RISKY.search(text) or text.count("{") + text.count("[") > _MAX_BRACKETS:
            return _FALLBACK
        obj = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
        if not isinstance(obj, dict):
            return (False, "not_an_object") + (None,) * (len(_PY_FIELDS) - 2)
        pre = _envelope_reason(obj)
        if pre:
            return (False, pre) + (None,) * (len(_PY_FIELDS) - 2)
        event_type, data = obj["event_type"], obj["data"]
        post = _data_reason(event_type, data)
        values = _applicable_values(event_type, data) if post is None else (None,) * len(DATA_FIELDS)
        return (False, None, post, obj["event_id"], event_type, obj["ticket_id"], obj["seq"],
                obj["occurred_at"], *values)
    except (_Undecidable, ValueError, RecursionError, TypeError, AttributeError):
        return _FALLBACK


def _decide_batch(raw_lines):
    import pandas as pd

    rows = [_python_decision(raw) for raw in raw_lines]
    columns = list(zip(*rows)) if rows else [()] * len(_PY_FIELDS)
    # built per column: a row-wise frame would turn int columns holding nulls into float64
    dtypes = {"fallback": "bool", "seq": "Int64", "csat_score": "Int32"}
    return pd.DataFrame({name: pd.array(list(values), dtype=dtypes.get(name, object))
                         for (name, _), values in zip(_PY_FIELDS, columns)})


def _python_columns(py: str) -> dict[str, Column]:
    """The annotated columns from the Python decision ``py`` (Spark applies rules 1 and 5's
    timestamp rule itself, with the reference's exact cast)."""
    text = F.col(f"{py}.occurred_text")
    occurred_at = F.when(text.rlike(ISO_TIMESTAMP), text.cast("timestamp"))
    reason = F.when(F.col("landing_hour").isNull(), F.lit("bad_path:landing_hour")).otherwise(F.coalesce(
        F.col(f"{py}.pre"), F.when(occurred_at.isNull(), F.lit("bad_timestamp:occurred_at")), F.col(f"{py}.post")))
    columns = {f: F.col(f"{py}.{f}") for f in ("event_id", "event_type", "ticket_id", "seq", *DATA_FIELDS)}
    return {"reason": reason, "occurred_at": occurred_at, **columns}


def _annotate(lines: DataFrame) -> DataFrame:
    """One pass: the Python decision per line, then the Spark reference only where the Python
    path fell back (the reference's parses see null for all other lines, which is cheap)."""
    decide = F.pandas_udf(_decide_batch, _PY_SCHEMA)
    tagged = lines.select(*LINE_COLUMNS, decide(F.col("raw_line").cast("binary")).alias("_py"))
    fallback = F.col("_py.fallback")
    masked = tagged.withColumnRenamed("raw_line", "_raw").withColumn("raw_line", F.when(fallback, F.col("_raw")))
    reference = _spark_annotate(masked, keep=("_raw", "_py"))
    python = _python_columns("_py")
    columns = [F.when(fallback, F.col(c)).otherwise(python[c]).alias(c) for c in ANNOTATED_COLUMNS]
    return reference.select(F.col("_raw").alias("raw_line"), *LINE_COLUMNS[1:], *columns)


ANNOTATED_COLUMNS = ("reason", "event_id", "event_type", "ticket_id", "seq", "occurred_at", *DATA_FIELDS)


# ---- the fastest path: ordinary valid lines, decided by Spark's reader in one typed parse ------

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
    # _one_value), in the same pass (a second parse for the check cost 15 % of this function).
    parsed = _once(lines, [
        F.from_json(F.concat(F.lit("["), F.col("raw_line"), F.lit("]")), T.ArrayType(raw_event_schema()),
                    {"mode": "PERMISSIVE"}).alias("_values"),
    ])
    parsed = parsed.withColumn("_p", F.col("_values")[0])
    certain, values = _fast_verdict("_p")
    return parsed.select(
        F.when(~certain, F.col("raw_line")).alias("raw_line"), *LINE_COLUMNS[1:], certain.alias("_certain"),
        *(column.alias(name) for name, column in values.items()),  # read only where certain
    )


def annotate_prepared(prepared: DataFrame, keep_others=lambda df: df) -> DataFrame:
    """:func:`annotate_lines` of a :func:`prepare_lines` result: certain lines as they are, the
    others through the Python path (and the Spark reference where Python could read differently).
    ``keep_others`` may cache the annotation of the others (few lines, costly per line)."""
    certain = prepared.where(F.col("_certain")).select(
        *LINE_COLUMNS, F.lit(None).cast("string").alias("reason"), *ANNOTATED_COLUMNS[1:])
    # One task per core: every task of the Python path pays a worker round trip, which outweighed
    # the work itself (5k other lines of 1M in 14 tasks on 2 cores: 1.7 s; in 2 tasks: 0.5 s).
    cores = prepared.sparkSession.sparkContext.defaultParallelism
    others = _annotate(prepared.where(~F.col("_certain")).select(*LINE_COLUMNS).coalesce(cores))
    others = others.withColumn("raw_line", F.when(F.col("reason").isNotNull(), F.col("raw_line")))
    return certain.unionByName(keep_others(others.select(*LINE_COLUMNS, *ANNOTATED_COLUMNS)))


def annotate_lines(lines: DataFrame) -> DataFrame:
    """Every line once, with its verdict: ``LINE_COLUMNS`` + ``ANNOTATED_COLUMNS`` (``reason``
    null for a valid line). ``raw_line`` is kept only for quarantined lines (valid ones do not
    need it). Split it with :func:`split_annotated`."""
    return annotate_prepared(prepare_lines(lines))


def split_annotated(annotated: DataFrame) -> tuple[DataFrame, DataFrame]:
    """``(valid, quarantined)`` of an :func:`annotate_lines` result."""
    valid = annotated.where(F.col("reason").isNull()).select(*VALID_COLUMNS)
    quarantined = annotated.where(F.col("reason").isNotNull()).select(*QUARANTINE_COLUMNS)
    return valid, quarantined


def validate_lines(lines: DataFrame) -> tuple[DataFrame, DataFrame]:
    """Split raw lines into ``(valid, quarantined)`` by the rules of the module docstring.

    Input: raw_line, source_file, line_number, landing_hour (as from :func:`explode_lines`).
    valid: ``VALID_COLUMNS`` (data flattened; fields not applicable to the type are null;
    an absent ticket_created priority is ``normal``). quarantined: ``QUARANTINE_COLUMNS``.
    Both come from one annotated projection. Uncached, each half (and each branch of the union:
    certain lines, the others) parses the lines again: to use more than one, cache
    :func:`prepare_lines` and call :func:`annotate_prepared` (what the stream's batch does).
    """
    return split_annotated(annotate_lines(lines))
