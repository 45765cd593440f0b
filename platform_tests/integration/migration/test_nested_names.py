"""Nested struct field names that must be backquoted in DDL survive the migration: the target's CREATE TABLE
renders types with `sql.ddl_type`, not `simpleString()`, which leaves nested names bare (`struct<first-name:string>`
does not parse; `struct<city :string>` parses as `city`)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pyspark.sql import types as T

from cs_platform.lakehouse.migration import HiveMigration, MigrationError, MigrationNames, sql

NESTED = T.StructType([
    T.StructField("order", T.IntegerType()),
    T.StructField("first-name", T.StringType()),
    T.StructField("first name", T.StringType()),
    T.StructField("a.b", T.StringType()),
    T.StructField("a`b", T.ArrayType(T.StructType([T.StructField("x-y", T.LongType())]))),
    T.StructField("tags", T.MapType(T.StringType(), T.StructType([T.StructField("k v", T.DecimalType(10, 2))]))),
])
NESTED_DDL = ("struct<`order`:int,`first-name`:string,`first name`:string,`a.b`:string,"
              "`a``b`:array<struct<`x-y`:bigint>>,`tags`:map<string,struct<`k v`:decimal(10,2)>>>")


def test_ddl_type_backquotes_nested_names_through_struct_array_and_map(spark, lake_ns):
    assert sql.ddl_type(NESTED) == NESTED_DDL
    deep = T.ArrayType(T.MapType(T.StringType(), T.StructType([T.StructField("from", T.DateType())])))
    assert sql.ddl_type(deep) == "array<map<string,struct<`from`:date>>>"
    # Types without structs render as simpleString() did: states recorded before hold the same text.
    for plain in (T.MapType(T.StringType(), T.IntegerType()), T.ArrayType(T.DecimalType(38, 0)), T.TimestampType(),
                  T.CharType(3), T.ByteType()):
        assert sql.ddl_type(plain) == plain.simpleString()
    # Only names padded with spaces make preflight probe the metastore (the probe writes the table back).
    assert sql.padded_field_names(NESTED) == []
    padded = T.StructType([T.StructField("m", T.MapType(T.StringType(), T.StructType([T.StructField("city ", T.StringType())]))),
                           T.StructField("a", T.ArrayType(T.StructType([T.StructField(" zip", T.IntegerType())])))])
    assert sql.padded_field_names(padded) == ["city ", " zip"]

    # The target DDL creates exactly this type in the lake catalog, and it holds a row.
    names = MigrationNames.parse("legacy.any_table", f"{lake_ns}.nested")
    spark.sql(sql.create_namespace(names))
    spark.sql(sql.create_target(names, [("id", "int"), ("meta", sql.ddl_type(NESTED))], [], {}))
    assert spark.table(names.target).schema == T.StructType([T.StructField("id", T.IntegerType()),
                                                              T.StructField("meta", NESTED)])
    spark.sql(f"INSERT INTO {names.target} SELECT 1, named_struct('order', 2, 'first-name', 'Ada', "
              "'first name', 'A L', 'a.b', 'x', 'a`b', array(named_struct('x-y', 7L)), "
              "'tags', map('vip', named_struct('k v', 1.50BD)))")
    assert [r.asDict(recursive=True) for r in spark.table(names.target).collect()] == [
        {"id": 1, "meta": {"order": 2, "first-name": "Ada", "first name": "A L", "a.b": "x", "a`b": [{"x-y": 7}],
                           "tags": {"vip": {"k v": Decimal("1.50")}}}}]


# Nested names a Spark `USING parquet` table keeps in its Hive-compatible form (ParquetHiveSerDe, so add_files
# adopts its files): keywords, and leading or trailing spaces, which simpleString() left bare and the parser
# trimmed. (A dash, a dot or an inner space make Spark store the table in its own format: see the last test.)
SPACED = T.StructType([
    T.StructField("order", T.IntegerType()),
    T.StructField("from", T.StringType()),
    T.StructField("city ", T.StringType()),
    T.StructField(" zip", T.StringType()),
    T.StructField("Lines ", T.ArrayType(T.StructType([T.StructField(" qty", T.LongType())]))),
    T.StructField("tags", T.MapType(T.StringType(), T.StructType([T.StructField("score ", T.DecimalType(10, 2))]))),
])
SPACED_DDL = ("struct<`order`:int,`from`:string,`city `:string,` zip`:string,`Lines `:array<struct<` qty`:bigint>>,"
              "`tags`:map<string,struct<`score `:decimal(10,2)>>>")


class WithoutRenameRefusal(HiveMigration):
    """The migration without its refusal of padded names at preflight: copy and verify of such a table."""

    def rename_refusal(self, facts):
        return None


def create_spaced_table(spark, settings, database: str) -> str:
    """`database`.cs_ticket_meta, partitioned by dt: 3 rows whose struct `meta` has names needing quotes."""
    location = (settings.home_dir / "legacy" / database / "cs_ticket_meta").as_uri()
    source = f"spark_catalog.{database}.cs_ticket_meta"
    spark.sql(f"CREATE TABLE {source} (ticket_id string, meta {SPACED_DDL}, dt string) USING parquet "
              f"PARTITIONED BY (dt) LOCATION '{location}'")
    spark.sql(f"INSERT INTO {source} VALUES "
              "('T-1', named_struct('order', 1, 'from', 'mail', 'city ', 'Oslo', ' zip', '0150', "
              "  'Lines ', array(named_struct(' qty', 7L), named_struct(' qty', NULL)), "
              "  'tags', map('vip', named_struct('score ', 1.50BD))), '2024-03-01'), "
              "('T-2', named_struct('order', NULL, 'from', NULL, 'city ', 'Bergen', ' zip', NULL, "
              "  'Lines ', array(), 'tags', map()), '2024-03-01'), "
              "('T-3', NULL, '2024-03-02')")
    assert spark.table(source).schema["meta"].dataType == SPACED
    return source


SPACED_ROWS = [
    {"ticket_id": "T-1", "dt": "2024-03-01", "meta": {
        "order": 1, "from": "mail", "city ": "Oslo", " zip": "0150", "Lines ": [{" qty": 7}, {" qty": None}],
        "tags": {"vip": {"score ": Decimal("1.50")}}}},
    {"ticket_id": "T-2", "dt": "2024-03-01", "meta": {
        "order": None, "from": None, "city ": "Bergen", " zip": None, "Lines ": [], "tags": {}}},
    {"ticket_id": "T-3", "dt": "2024-03-02", "meta": None},
]


def test_a_table_the_metastore_will_not_rename_is_refused_at_preflight(spark, settings, legacy_db, lake_ns):
    """The metastore refuses any ALTER TABLE of a table whose nested names have leading or trailing spaces
    (Spark hands it the names trimmed): refused before the copy, not at cutover after it."""
    from .test_roundtrip import hive_tables

    source = create_spaced_table(spark, settings, legacy_db)
    m = HiveMigration(spark, settings, MigrationNames.parse(f"{legacy_db}.cs_ticket_meta", f"{lake_ns}.ticket_meta"))
    message = (
        f"cannot migrate {legacy_db}.cs_ticket_meta: the cutover renames it to {legacy_db}.cs_ticket_meta__hive_backup, "
        "and its nested field names 'city ', ' zip', 'Lines ', ' qty', 'score ' have leading or trailing spaces, "
        "which Spark hands to the Hive metastore trimmed: the metastore refuses the rename (types incompatible with "
        "the existing columns), or stores the trimmed names in the Hive table. Copy the table to one whose field "
        "names have no such spaces and migrate that one")
    for attempt in (m.run, m.plan):  # a rerun is refused alike
        with pytest.raises(MigrationError) as refused:
            attempt()
        assert str(refused.value) == message
    # Nothing changed: no state, no target, the Hive table as it was, under its name.
    assert m.store.read(m.names.source_name) is None
    assert not m.target_exists()
    assert hive_tables(spark, legacy_db) == ["cs_agent_roster", "cs_ticket_history", "cs_ticket_meta"]
    assert spark.table(source).schema["meta"].dataType == SPACED
    assert sorted((r.asDict(recursive=True) for r in spark.table(source).collect()),
                  key=lambda r: r["ticket_id"]) == SPACED_ROWS


def test_struct_with_names_needing_quotes_is_copied_with_its_exact_schema_and_rows(spark, settings, legacy_db, lake_ns):
    """Up to verify, on a metastore that would accept the cutover: ours refuses any ALTER TABLE of a table with
    such names (see the test above)."""
    create_spaced_table(spark, settings, legacy_db)
    m = WithoutRenameRefusal(spark, settings,
                           MigrationNames.parse(f"{legacy_db}.cs_ticket_meta", f"{lake_ns}.ticket_meta"))

    preflight = m.run_step("preflight")
    m.run_step("copy")
    verify = m.run_step("verify")
    assert preflight["strategy"] == "add_files"
    assert preflight["facts"]["columns"] == [["ticket_id", "string"], ["meta", SPACED_DDL], ["dt", "string"]]
    assert (verify["ok"], verify["partitions"], verify["source_rows"], verify["target_rows"], verify["columns_checked"],
            verify["mismatches"]) == (True, 2, 3, 3, 3, [])
    assert [(c["column"], c["source_type"], c["status"]) for c in verify["schema"]] == [
        ("ticket_id", "string", "same"), ("meta", SPACED_DDL, "same"), ("dt", "string", "same")]

    target = spark.table(m.names.target)
    assert target.schema == T.StructType([T.StructField("ticket_id", T.StringType()), T.StructField("meta", SPACED),
                                          T.StructField("dt", T.StringType())])
    assert sorted((r.asDict(recursive=True) for r in target.collect()), key=lambda r: r["ticket_id"]) == SPACED_ROWS


# Nested names Hive cannot represent: Spark keeps a `USING parquet` table with them in its own metastore format
# (serde LazySimpleSerDe, provider parquet), whose files Iceberg cannot adopt. A spaced name rides along: in that
# format the metastore holds no Hive column types, so the cutover rename is not refused.
UNHIVE = T.StructType([
    T.StructField("first-name", T.StringType()),
    T.StructField("a.b", T.IntegerType()),
    T.StructField("first name", T.StringType()),
    T.StructField("a`b", T.ArrayType(T.StructType([T.StructField("x-y", T.LongType())]))),
    T.StructField("city ", T.StringType()),
])
UNHIVE_DDL = ("struct<`first-name`:string,`a.b`:int,`first name`:string,`a``b`:array<struct<`x-y`:bigint>>,"
              "`city `:string>")


def test_parquet_table_in_sparks_own_metastore_format_is_rewritten_not_adopted(spark, settings, legacy_db, lake_ns):
    from .test_roundtrip import hive_tables

    location = (settings.home_dir / "legacy" / legacy_db / "cs_ticket_people").as_uri()
    source = f"spark_catalog.{legacy_db}.cs_ticket_people"
    spark.sql(f"CREATE TABLE {source} (ticket_id string, who {UNHIVE_DDL}, dt string) USING parquet "
              f"PARTITIONED BY (dt) LOCATION '{location}'")
    spark.sql(f"INSERT INTO {source} VALUES "
              "('T-1', named_struct('first-name', 'Ada', 'a.b', 1, 'first name', 'A L', "
              "  'a`b', array(named_struct('x-y', 7L), named_struct('x-y', NULL)), 'city ', 'Oslo'), '2024-03-01'), "
              "('T-2', named_struct('first-name', NULL, 'a.b', NULL, 'first name', NULL, 'a`b', array(), "
              "  'city ', NULL), '2024-03-01'), "
              "('T-3', NULL, '2024-03-02')")
    serde = {r["col_name"]: r["data_type"] for r in spark.sql(f"DESCRIBE TABLE EXTENDED {source}").collect()}
    assert (serde["Provider"], serde["Serde Library"]) == ("parquet", "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe")
    m = HiveMigration(spark, settings, MigrationNames.parse(f"{legacy_db}.cs_ticket_people", f"{lake_ns}.ticket_people"))

    result = m.run()
    assert result.executed == ["preflight", "copy", "verify", "cutover"]
    preflight = result.metadata["preflight"]
    assert (preflight["strategy"], preflight["reason"]) == (
        "ctas_rewrite",
        "parquet table kept in Spark's own metastore format (the metastore declares text storage, as Spark does "
        "when Hive cannot represent its schema, e.g. a field name with a dash or a dot): Iceberg reads what the "
        "metastore declares and cannot adopt its files, rows are rewritten")
    assert (preflight["facts"]["format"], preflight["facts"]["storage_format"]) == ("parquet", "text")
    assert result.metadata["copy"]["files_written"] > 0
    verify = result.metadata["verify"]
    assert (verify["ok"], verify["partitions"], verify["source_rows"], verify["target_rows"], verify["columns_checked"],
            verify["mismatches"]) == (True, 2, 3, 3, 3, [])
    assert [(c["column"], c["source_type"], c["status"]) for c in verify["schema"]] == [
        ("ticket_id", "string", "same"), ("who", UNHIVE_DDL, "same"), ("dt", "string", "same")]
    assert hive_tables(spark, legacy_db) == ["cs_agent_roster", "cs_ticket_history", "cs_ticket_people__hive_backup"]

    target = spark.table(m.names.target)
    assert target.schema == T.StructType([T.StructField("ticket_id", T.StringType()), T.StructField("who", UNHIVE),
                                          T.StructField("dt", T.StringType())])
    assert sorted((r.asDict(recursive=True) for r in target.collect()), key=lambda r: r["ticket_id"]) == [
        {"ticket_id": "T-1", "dt": "2024-03-01", "who": {
            "first-name": "Ada", "a.b": 1, "first name": "A L", "a`b": [{"x-y": 7}, {"x-y": None}], "city ": "Oslo"}},
        {"ticket_id": "T-2", "dt": "2024-03-01", "who": {
            "first-name": None, "a.b": None, "first name": None, "a`b": [], "city ": None}},
        {"ticket_id": "T-3", "dt": "2024-03-02", "who": None},
    ]
