"""A Hive table with a map column migrates and verifies (Spark cannot hash a map as such)."""

from __future__ import annotations

from cs_platform.lakehouse.migration import HiveMigration, MigrationNames


def test_map_column_migrates_verifies_and_a_changed_value_is_caught(spark, settings, legacy_db, lake_ns):
    location = (settings.home_dir / "legacy" / legacy_db / "cs_ticket_tags").as_uri()
    spark.sql(f"CREATE EXTERNAL TABLE spark_catalog.{legacy_db}.cs_ticket_tags (ticket_id string, tags map<string,int>) "
              f"PARTITIONED BY (dt string) STORED AS PARQUET LOCATION '{location}'")
    spark.sql(f"INSERT INTO spark_catalog.{legacy_db}.cs_ticket_tags PARTITION (dt='2024-03-01') VALUES "
              "('T-1', map('vip', 1, 'refund', 2)), ('T-2', map('vip', 0)), ('T-3', NULL)")
    spark.sql(f"INSERT INTO spark_catalog.{legacy_db}.cs_ticket_tags PARTITION (dt='2024-03-02') VALUES "
              "('T-4', map()), ('T-5', map('refund', 7))")
    m = HiveMigration(spark, settings, MigrationNames.parse(f"{legacy_db}.cs_ticket_tags", f"{lake_ns}.ticket_tags"))

    result = m.run()
    assert result.executed == ["preflight", "copy", "verify", "cutover"]
    assert result.metadata["preflight"]["strategy"] == "add_files"
    verify = result.metadata["verify"]
    assert (verify["ok"], verify["partitions"], verify["source_rows"], verify["target_rows"], verify["columns_checked"],
            verify["mismatches"]) == (True, 2, 5, 5, 3, [])
    assert [m_["source_type"] for m_ in verify["schema"]] == ["string", "map<string,int>", "string"]

    # The same entries in another order are the same map.
    spark.sql(f"UPDATE {m.names.target} SET tags = map('refund', 2, 'vip', 1) WHERE ticket_id = 'T-1'")
    assert m.verification_report().mismatches == []

    spark.sql(f"UPDATE {m.names.target} SET tags = map('refund', 3, 'vip', 1) WHERE ticket_id = 'T-1'")
    spark.sql(f"UPDATE {m.names.target} SET tags = map('refund', 7, 'vip', 1) WHERE ticket_id = 'T-5'")
    assert m.verification_report().mismatches == ["dt=2024-03-01: column tags checksum differs",
                                                  "dt=2024-03-02: column tags checksum differs"]
