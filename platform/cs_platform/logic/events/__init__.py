"""cs-event v1 (DESIGN 3.1): raw Firehose lines -> valid events | quarantined lines.

Three readers, one behaviour (``contract`` holds the names, enums and schemas; ``lines`` turns
Firehose objects into lines). The reference is pure DataFrame code: each line is parsed by
Spark's JSON reader once per kind (text, long, double, boolean, map, array) and comparing the
parses tells a field's JSON kind ("3" vs 3), which a single all-string parse cannot. It is exact
but slow (twelve parses and a huge rule expression per line). So:

1. ``typed_parse``: every line is parsed ONCE with the contract's typed schema; a line is
   decided there only when it is certainly valid. That is nearly every line of a healthy stream.
2. ``python_reader``: the other lines (malformed ones, and valid ones the typed parse cannot
   vouch for) are parsed once each with ``json.loads`` in a vectorized pandas UDF;
3. ``reference``: the few lines where Python's reading could differ from Spark's Jackson fall
   back to the reference, in the same projection.
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
keeps its last value; a number too large for a double (1e400) where a string is expected reads as
the text "Infinity" (Jackson writes it back that way), so it is not a bad_type.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from cs_platform.logic.events import python_reader
from cs_platform.logic.events.contract import (
    ANNOTATED_COLUMNS, APPLICABLE_FIELDS, AUTHORS, CHANNELS, CSAT_RANGE, DATA_FIELDS, DATA_RULES, DEFAULT_PRIORITY,
    ENUMS, ENVELOPE_FIELDS, EVENT_TYPES, HOUR_PREFIX, ISO_TIMESTAMP, LINE_COLUMNS, PRIORITIES, QUARANTINE_COLUMNS,
    STATUSES, VALID_COLUMNS, quarantine_schema, raw_event_schema, valid_schema,
)
from cs_platform.logic.events.lines import UNREADABLE_FILE, explode_lines, landing_hour_of, unreadable_lines
from cs_platform.logic.events.typed_parse import prepare_lines

__all__ = [
    "ANNOTATED_COLUMNS", "APPLICABLE_FIELDS", "AUTHORS", "CHANNELS", "CSAT_RANGE", "DATA_FIELDS", "DATA_RULES",
    "DEFAULT_PRIORITY", "ENUMS", "ENVELOPE_FIELDS", "EVENT_TYPES", "HOUR_PREFIX", "ISO_TIMESTAMP", "LINE_COLUMNS",
    "PRIORITIES", "QUARANTINE_COLUMNS", "STATUSES", "VALID_COLUMNS", "annotate_lines", "annotate_prepared",
    "explode_lines", "landing_hour_of", "prepare_lines", "quarantine_schema", "raw_event_schema", "split_annotated",
    "valid_schema", "validate_lines", "UNREADABLE_FILE", "unreadable_lines",
]


def annotate_prepared(prepared: DataFrame, keep_others=None, unreadable=()) -> DataFrame:
    """:func:`annotate_lines` of a :func:`prepare_lines` result: certain lines as they are, the
    others through the Python path (and the Spark reference where Python could read differently),
    plus one quarantined line per ``unreadable`` object ((uri, cause): :func:`unreadable_lines`).

    ``keep_others`` (a cache, e.g. :class:`~cs_platform.adapters.spark.Persisted`) keeps the
    annotation of the others (few lines, costly per line) and leaves the reference out of the plan
    when no line needs it; it then runs a Spark job at once (materialize ``prepared`` first, or
    that job computes it with one task per core).
    """
    certain = prepared.where(F.col("_certain")).select(
        *LINE_COLUMNS, F.lit(None).cast("string").alias("reason"), *ANNOTATED_COLUMNS[1:])
    # One task per core: every task of the Python path pays a worker round trip, which outweighed
    # the work itself (5k other lines of 1M in 14 tasks on 2 cores: 1.7 s; in 2 tasks: 0.5 s).
    cores = prepared.sparkSession.sparkContext.defaultParallelism
    others_lines = prepared.where(~F.col("_certain")).select(*LINE_COLUMNS).coalesce(cores)
    others = python_reader.annotate(others_lines, keep=keep_others)
    others = others.withColumn("raw_line", F.when(F.col("reason").isNotNull(), F.col("raw_line")))
    others = others.select(*LINE_COLUMNS, *ANNOTATED_COLUMNS)
    annotated = certain.unionByName(keep_others(others) if keep_others is not None else others)
    return annotated.unionByName(unreadable_lines(prepared.sparkSession, unreadable)) if unreadable else annotated


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
