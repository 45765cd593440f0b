"""Fixtures of the maintenance tests: a fresh Iceberg namespace per test, dropped afterwards."""

from __future__ import annotations

import pytest


@pytest.fixture
def namespace(spark, unique_name):
    from cs_platform.adapters.identifiers import qualified

    name = unique_name("mnt")
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {qualified('lake', name)}")
    yield name
    for row in spark.sql(f"SHOW TABLES IN {qualified('lake', name)}").collect():
        spark.sql(f"DROP TABLE IF EXISTS {qualified('lake', name, row.tableName)} PURGE")
    spark.sql(f"DROP NAMESPACE IF EXISTS {qualified('lake', name)}")


# What `lake_maintenance_job` reports for a table of four one-row files (step, status, reason), run
# here or on EMR: every step probes first, compaction and orphan removal have work, the others not.
FOUR_SMALL_FILES_STEPS = [
    ("rewrite_data_files", "done", ""), ("rewrite_position_delete_files", "skipped", "probe: no delete files"),
    ("expire_snapshots", "skipped", "probe: few and young snapshots"),
    ("rewrite_manifests", "skipped", "probe: fewer than 20 manifests"), ("remove_orphan_files", "done", ""),
]


def table_rows(spark, ref, columns: str = "*") -> list[tuple]:
    spark.sql(f"REFRESH TABLE {ref.sql}")  # another session's commits are invisible through a cached table
    return sorted(tuple(r) for r in spark.sql(f"SELECT {columns} FROM {ref.sql}").collect())
