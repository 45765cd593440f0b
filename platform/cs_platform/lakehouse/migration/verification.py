"""Verification of a migrated table against its Hive source, computed by Spark on both sides.

Per partition: the row count, per column the sum of `xxhash64` of the column's values (as a
DECIMAL(38,0), so the sum cannot overflow), and the same sum over whole rows. A single altered
value changes one column's checksum in one partition, which the report names; values swapped
between rows leave every column's sum equal and change the rows' one. Widened columns (tinyint ->
int, char -> string) are compared too, the source's values cast to the target's type. The schema
mapping compares Spark types column by column. Spark cannot hash a map, and a map's entries have
no order: a column holding maps (at any depth) is hashed in a canonical form, its entries as an
array of (key, value) structs sorted by key.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, DataType, MapType, StructType

UNPARTITIONED = "(whole table)"
# Hive types Iceberg stores differently but losslessly for Spark readers.
_WIDENINGS = {("char", "string"), ("varchar", "string"), ("tinyint", "int"), ("smallint", "int")}


def _has_map(dtype: DataType) -> bool:
    if isinstance(dtype, MapType):
        return True
    if isinstance(dtype, ArrayType):
        return _has_map(dtype.elementType)
    if isinstance(dtype, StructType):
        return any(_has_map(f.dataType) for f in dtype.fields)
    return False


def canonical(column, dtype: DataType):
    """`column` in a form `xxhash64` accepts and equal maps hash alike: each map (at any depth) becomes
    its entries sorted by key; columns without maps are returned as they are."""
    if not _has_map(dtype):
        return column
    if isinstance(dtype, MapType):
        entries = F.transform(F.map_entries(column), lambda e: F.struct(
            canonical(e["key"], dtype.keyType).alias("key"), canonical(e["value"], dtype.valueType).alias("value")))
        return F.array_sort(entries)
    if isinstance(dtype, ArrayType):
        return F.transform(column, lambda x: canonical(x, dtype.elementType))
    fields = [canonical(column[f.name], f.dataType).alias(f.name) for f in dtype.fields]
    return F.when(column.isNull(), F.lit(None)).otherwise(F.struct(*fields))


def partition_profile(df: DataFrame, partition_columns: list[str], columns: list[str]) -> DataFrame:
    """df -> one row per partition: `partition` (e.g. 'dt=2024-03-01'), `row_count`, `chk_<i>` per column."""
    if partition_columns:
        key = F.concat_ws("/", *[
            F.concat(F.lit(f"{c}="), F.coalesce(F.col(c).cast("string"), F.lit("__HIVE_DEFAULT_PARTITION__")))
            for c in partition_columns
        ])
    else:
        key = F.lit(UNPARTITIONED)
    types = {f.name: f.dataType for f in df.schema}
    hashable = [canonical(F.col(c), types[c]) for c in columns]
    checksums = [
        F.coalesce(F.sum(F.xxhash64(h).cast("decimal(38,0)")), F.lit(0).cast("decimal(38,0)")).alias(f"chk_{i}")
        for i, h in enumerate(hashable)
    ]
    rows = F.sum(F.xxhash64(*hashable) if columns else F.lit(0)).cast("decimal(38,0)")
    return df.groupBy(key.alias("partition")).agg(F.count(F.lit(1)).alias("row_count"), *checksums,
                                                  F.coalesce(rows, F.lit(0).cast("decimal(38,0)")).alias("chk_rows"))


def collect_profile(df: DataFrame, partition_columns: list[str], columns: list[str]) -> dict[str, dict]:
    """{partition: {"rows": n, "checksums": {column: "decimal as text"}, "row_checksum": "..."}}: small,
    one row per partition."""
    profile = {}
    for row in partition_profile(df, partition_columns, columns).collect():
        profile[row["partition"]] = {
            "rows": int(row["row_count"]),
            "checksums": {c: str(row[f"chk_{i}"]) for i, c in enumerate(columns)},
            "row_checksum": str(row["chk_rows"]),
        }
    return profile


def comparable_columns(df: DataFrame, schema: list[dict]) -> tuple[DataFrame, list[str]]:
    """The source side as the target stores it: widened columns cast to their target type; and
    the columns both sides can be compared on (`same` and `widened`)."""
    widened = {m["column"]: m["target_type"] for m in schema if m["status"] == "widened"}
    cast = df.select(*[F.col(c).cast(widened[c]).alias(c) if c in widened else F.col(c) for c in df.columns])
    return cast, [m["column"] for m in schema if m["status"] in ("same", "widened")]


def schema_mapping(source_fields: list[tuple[str, str]], target_fields: list[tuple[str, str]]) -> list[dict]:
    """Column by column: source type, target type and `same` | `widened` | `missing` | `changed`."""
    target = {name.lower(): dtype for name, dtype in target_fields}
    mapping = []
    for name, stype in source_fields:
        ttype = target.get(name.lower())
        base = stype.split("(")[0]
        if ttype is None:
            status = "missing"
        elif ttype == stype:
            status = "same"
        elif (base, ttype) in _WIDENINGS:
            status = "widened"
        else:
            status = "changed"
        mapping.append({"column": name, "source_type": stype, "target_type": ttype, "status": status})
    return mapping


@dataclass
class VerificationReport:
    partitions: int
    source_rows: int
    target_rows: int
    columns_checked: int
    schema: list[dict]
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def as_metadata(self) -> dict:
        return {
            "ok": self.ok,
            "partitions": self.partitions,
            "source_rows": self.source_rows,
            "target_rows": self.target_rows,
            "columns_checked": self.columns_checked,
            "schema": self.schema,
            "mismatches": self.mismatches,
        }


def compare(source: dict[str, dict], target: dict[str, dict], schema: list[dict]) -> VerificationReport:
    """Every difference between two profiles, as sentences naming partition and column."""
    mismatches = [f"column {m['column']}: {m['source_type']} became {m['target_type']}"
                  for m in schema if m["status"] in ("missing", "changed")]
    for part in sorted(set(source) | set(target)):
        s, t = source.get(part), target.get(part)
        if t is None:
            mismatches.append(f"{part}: missing in target ({s['rows']} rows in source)")
            continue
        if s is None:
            mismatches.append(f"{part}: not in source ({t['rows']} rows in target)")
            continue
        found = len(mismatches)
        if s["rows"] != t["rows"]:
            mismatches.append(f"{part}: {s['rows']} rows in source, {t['rows']} in target")
        for column, checksum in s["checksums"].items():
            if t["checksums"].get(column) != checksum:
                mismatches.append(f"{part}: column {column} checksum differs")
        if len(mismatches) == found and s.get("row_checksum") != t.get("row_checksum"):
            mismatches.append(f"{part}: values moved between rows (each column's checksum is equal, the rows' differs)")
    return VerificationReport(
        partitions=len(source),
        source_rows=sum(p["rows"] for p in source.values()),
        target_rows=sum(p["rows"] for p in target.values()),
        columns_checked=sum(1 for m in schema if m["status"] in ("same", "widened")),
        schema=schema,
        mismatches=mismatches,
    )
