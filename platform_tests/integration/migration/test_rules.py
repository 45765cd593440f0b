"""Pure rules of the migration: strategy choice, names, verification comparison. No Spark."""

from __future__ import annotations

import pytest

from cs_platform.adapters.identifiers import InvalidIdentifier
from cs_platform.lakehouse.migration.names import MigrationNames
from cs_platform.lakehouse.migration.strategy import TableFacts, choose_strategy, file_format
from cs_platform.lakehouse.migration.verification import compare, schema_mapping


def facts(**overrides) -> TableFacts:
    base = dict(format="parquet", table_type="EXTERNAL", partition_columns=("dt",))
    return TableFacts(**{**base, **overrides})


def test_external_parquet_to_lake_adopts_files():
    strategy = choose_strategy(facts(), "lake")
    assert (strategy.name, strategy.reason) == (
        "add_files",
        "external parquet table, target in catalog lake: in-place migrate only works within the session catalog, "
        "so the files are adopted with add_files (no copy)",
    )


@pytest.mark.parametrize("overrides, reason", [
    ({"format": "text"}, "text files cannot be read by Iceberg: rows are rewritten as Parquet"),
    ({"format": "csv"}, "csv files cannot be read by Iceberg: rows are rewritten as Parquet"),
    ({"bucket_columns": ("ticket_id",), "num_buckets": 4},
     "bucketed by ticket_id (4 buckets): Hive bucketing cannot be adopted, rows are rewritten"),
    ({"table_type": "MANAGED"},
     "managed table: the cutover rename would move its files, so rows are rewritten instead of adopted"),
])
def test_tables_that_cannot_be_adopted_are_rewritten(overrides, reason):
    strategy = choose_strategy(facts(**overrides), "lake")
    assert (strategy.name, strategy.reason) == ("ctas_rewrite", reason)


def test_a_datasource_table_the_metastore_stores_in_sparks_own_format_is_rewritten():
    """Iceberg reads the storage the metastore declares (`Unknown partition format: LazySimpleSerDe`), not the
    provider: neither add_files nor migrate can adopt such a table's Parquet files."""
    spark_format = file_format("org.apache.hadoop.mapred.SequenceFileInputFormat",
                               "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe")
    assert spark_format == "text"
    for catalog in ("lake", "spark_catalog"):
        strategy = choose_strategy(facts(storage_format=spark_format), catalog)
        assert (strategy.name, strategy.reason) == (
            "ctas_rewrite",
            "parquet table kept in Spark's own metastore format (the metastore declares text storage, as Spark does "
            "when Hive cannot represent its schema, e.g. a field name with a dash or a dot): Iceberg reads what the "
            "metastore declares and cannot adopt its files, rows are rewritten")
    assert choose_strategy(facts(storage_format="parquet"), "lake").name == "add_files"


def test_facts_recorded_before_the_storage_format_still_load():
    recorded = {"format": "parquet", "table_type": "EXTERNAL", "partition_columns": ["dt"], "bucket_columns": [],
                "num_buckets": 0, "location": "file:/x", "size_bytes": 10, "file_count": 1, "partition_count": 1,
                "columns": [["id", "int"], ["dt", "string"]]}
    loaded = TableFacts.from_dict(recorded)
    assert (loaded.storage_format, loaded.columns) == ("", (("id", "int"), ("dt", "string")))
    assert loaded.as_dict() == {**recorded, "storage_format": ""}
    assert TableFacts.from_dict(facts(storage_format="text").as_dict()) == facts(storage_format="text")


def test_in_place_migrate_only_within_the_session_catalog():
    assert choose_strategy(facts(format="orc"), "spark_catalog").name == "in_place_migrate"


@pytest.mark.parametrize("input_format, serde, expected", [
    ("org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
     "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe", "parquet"),
    ("org.apache.hadoop.hive.ql.io.orc.OrcInputFormat", "org.apache.hadoop.hive.ql.io.orc.OrcSerde", "orc"),
    ("org.apache.hadoop.mapred.TextInputFormat", "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe", "text"),
    ("org.apache.hadoop.mapred.TextInputFormat", "org.apache.hadoop.hive.serde2.OpenCSVSerde", "csv"),
    ("org.apache.hadoop.mapred.SequenceFileInputFormat", "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe", "text"),
])
def test_file_format_from_hive_classes(input_format, serde, expected):
    assert file_format(input_format, serde) == expected


def test_default_target_name():
    names = MigrationNames.parse("legacy.cs_ticket_history")
    assert (names.target_name, names.backup_name) == ("lake.cs.ticket_history", "legacy.cs_ticket_history__hive_backup")
    assert MigrationNames.parse("cs_agent_roster").target_name == "lake.cs.agent_roster"
    assert MigrationNames.parse("legacy.orders").target_name == "lake.legacy.orders"


def test_names_that_could_inject_sql_are_rejected():
    with pytest.raises(InvalidIdentifier, match=r"invalid table name part \"x'; DROP TABLE y --\""):
        MigrationNames.parse("legacy.x'; DROP TABLE y --")


def test_one_altered_value_is_named_by_partition_and_column():
    source = {"dt=2024-03-01": {"rows": 2, "checksums": {"id": "10", "status": "20"}},
              "dt=2024-03-02": {"rows": 1, "checksums": {"id": "5", "status": "7"}}}
    target = {"dt=2024-03-01": {"rows": 2, "checksums": {"id": "10", "status": "21"}},
              "dt=2024-03-02": {"rows": 1, "checksums": {"id": "5", "status": "7"}}}
    schema = schema_mapping([("id", "string"), ("status", "string")], [("id", "string"), ("status", "string")])
    report = compare(source, target, schema)
    assert report.mismatches == ["dt=2024-03-01: column status checksum differs"]
    assert (report.ok, report.partitions, report.source_rows, report.columns_checked) == (False, 2, 3, 2)


def test_values_moved_between_rows_are_caught_by_the_row_checksum():
    source = {"dt=a": {"rows": 2, "checksums": {"id": "3", "status": "9"}, "row_checksum": "40"}}
    moved = {"dt=a": {"rows": 2, "checksums": {"id": "3", "status": "9"}, "row_checksum": "41"}}
    schema = schema_mapping([("id", "string"), ("status", "string")], [("id", "string"), ("status", "string")])
    assert compare(source, moved, schema).mismatches == [
        "dt=a: values moved between rows (each column's checksum is equal, the rows' differs)"]
    altered = {"dt=a": {"rows": 2, "checksums": {"id": "3", "status": "8"}, "row_checksum": "41"}}
    assert compare(source, altered, schema).mismatches == ["dt=a: column status checksum differs"]  # named once


def test_missing_partition_and_changed_type_are_reported():
    source = {"dt=a": {"rows": 2, "checksums": {}}, "dt=b": {"rows": 1, "checksums": {}}}
    target = {"dt=a": {"rows": 1, "checksums": {}}}
    schema = schema_mapping([("n", "int"), ("c", "char(3)")], [("n", "bigint"), ("c", "string")])
    assert [m["status"] for m in schema] == ["changed", "widened"]
    assert compare(source, target, schema).columns_checked == 1  # the widened column, compared as its target type
    assert compare(source, target, schema).mismatches == [
        "column n: int became bigint",
        "dt=a: 2 rows in source, 1 in target",
        "dt=b: missing in target (1 rows in source)",
    ]
