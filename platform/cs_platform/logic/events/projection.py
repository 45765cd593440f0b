"""A Spark projection helper shared by the readers."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F


def once(df: DataFrame, expressions: list[Column]) -> DataFrame:
    """Add columns computed exactly once per row.

    The split filters on ``reason``; Spark pushes that filter below plain projections and
    inlines every parse into it (hundreds of from_json per line). A generator (inline of a
    one-element array) is a barrier the optimizer does not see through.
    """
    return df.select("*", F.inline(F.array(F.struct(*expressions))))
