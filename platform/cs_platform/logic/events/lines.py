"""Firehose objects -> one row per line, with its position and the arrival hour of its file."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from cs_platform.logic.events.contract import ANNOTATED_COLUMNS, HOUR_PREFIX, LINE_COLUMNS, valid_schema

UNREADABLE_FILE = "unreadable_file"  # the reason of a whole object that could not be read, at line 0


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
    # The regex only off the common path; `\z`, not `$`, which also matches before a final U+2028,
    # U+0085 or U+2029: such a line is not blank, and would have been dropped instead of quarantined.
    blank = ~F.col("line").startswith("{") & F.col("line").rlike(r"^\s*\z")
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



def unreadable_lines(spark, files) -> DataFrame:
    """One quarantined line per unreadable object (``files``: (uri, cause) pairs): at line_number 0,
    which no real line has (they count from 1), reason ``unreadable_file:<cause>``. Columns as
    :func:`~cs_platform.logic.events.annotate_lines` gives them."""
    rows = [(uri, f"{UNREADABLE_FILE}:{cause}") for uri, cause in files]
    types = {f.name: f.dataType for f in valid_schema().fields}
    named = spark.createDataFrame(rows, "source_file string, reason string")
    return named.select(
        F.lit(None).cast("string").alias("raw_line"), "source_file", F.lit(0).cast("long").alias("line_number"),
        landing_hour_of(F.col("source_file")).alias("landing_hour"), "reason",
        *(F.lit(None).cast(types[c]).alias(c) for c in ANNOTATED_COLUMNS[1:]),
    ).select(*LINE_COLUMNS, *ANNOTATED_COLUMNS)
