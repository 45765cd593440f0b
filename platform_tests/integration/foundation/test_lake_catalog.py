"""The shared catalog `lake`: Spark and PyIceberg see each other's commits; concurrent writers lose nothing."""

import subprocess
import sys
import textwrap

import pytest

from cs_platform.adapters.identifiers import InvalidIdentifier, qualified, table_name


def test_spark_partitioned_merge_then_pyiceberg_append_in_another_process(spark, settings, unique_name):
    ns = unique_name("ns")
    spark.sql(f"CREATE NAMESPACE lake.{ns}")
    spark.sql(f"""CREATE TABLE lake.{ns}.tickets (ticket_id string, status string, updated_at timestamp)
                  USING iceberg PARTITIONED BY (days(updated_at))""")
    spark.sql(f"""INSERT INTO lake.{ns}.tickets VALUES
                  ('T1', 'open', timestamp'2026-11-26 10:00:00'), ('T2', 'open', timestamp'2026-11-26 11:00:00')""")
    spark.sql(f"""MERGE INTO lake.{ns}.tickets t
                  USING (SELECT 'T2' ticket_id, 'solved' status, timestamp'2026-11-27 09:00:00' updated_at
                         UNION ALL SELECT 'T3', 'pending', timestamp'2026-11-27 09:30:00') s
                  ON t.ticket_id = s.ticket_id
                  WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *""")
    child = textwrap.dedent(f"""
        import datetime, pyarrow as pa
        from cs_platform.settings import load_settings
        from cs_platform.adapters.catalog import pyiceberg_catalog
        table = pyiceberg_catalog(load_settings()).load_table("{ns}.tickets")
        table.append(pa.table({{
            "ticket_id": pa.array(["T4"]), "status": pa.array(["closed"]),
            "updated_at": pa.array([datetime.datetime(2026, 11, 27, 12, 0)], pa.timestamp("us", tz="UTC")),
        }}, schema=table.schema().as_arrow()))
        print(table.current_snapshot().snapshot_id)
    """)
    result = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    spark.sql(f"REFRESH TABLE lake.{ns}.tickets")
    rows = spark.sql(f"SELECT ticket_id, status, CAST(updated_at AS string) u FROM lake.{ns}.tickets ORDER BY ticket_id").collect()
    assert [tuple(r) for r in rows] == [
        ("T1", "open", "2026-11-26 10:00:00"),
        ("T2", "solved", "2026-11-27 09:00:00"),
        ("T3", "pending", "2026-11-27 09:30:00"),
        ("T4", "closed", "2026-11-27 12:00:00"),
    ]
    last = spark.sql(f"SELECT snapshot_id FROM lake.{ns}.tickets.snapshots ORDER BY committed_at DESC LIMIT 1").first()[0]
    assert last == int(result.stdout.strip())
    partitions = {r[0] for r in spark.sql(f"SELECT partition.updated_at_day FROM lake.{ns}.tickets.partitions").collect()}
    assert len(partitions) == 2


_WRITER = textwrap.dedent("""
    import sys
    from cs_platform.settings import load_settings
    from cs_platform.adapters.spark import build_spark_session
    ns, writer, batches, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    spark = build_spark_session(load_settings(), app_name=f"writer-{writer}")
    for batch in range(batches):
        spark.range(rows).selectExpr(f"{writer} AS writer", f"{batch} AS batch", "id").writeTo(f"lake.{ns}.commits").append()
    spark.stop()
""")


def test_two_spark_applications_commit_concurrently_without_loss(spark, settings, unique_name):
    ns = unique_name("ns")
    spark.sql(f"CREATE NAMESPACE lake.{ns}")
    spark.sql(f"CREATE TABLE lake.{ns}.commits (writer int, batch int, id bigint) USING iceberg")
    writers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, ns, str(w), "8", "50"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for w in (1, 2)
    ]
    for proc in writers:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
    spark.sql(f"REFRESH TABLE lake.{ns}.commits")
    counts = spark.sql(f"SELECT writer, count(*) c, count(DISTINCT batch) b FROM lake.{ns}.commits GROUP BY writer ORDER BY writer").collect()
    assert [tuple(r) for r in counts] == [(1, 400, 8), (2, 400, 8)]
    snapshots = spark.sql(f"SELECT count(*) FROM lake.{ns}.commits.snapshots").first()[0]
    assert snapshots == 16


def test_crafted_identifiers_never_reach_sql():
    assert qualified("lake", "cs", "events") == "`lake`.`cs`.`events`"
    assert table_name("tickets") == "`lake`.`cs`.`tickets`"
    with pytest.raises(InvalidIdentifier) as err:
        table_name("cs.events; DROP TABLE x")
    assert str(err.value) == (
        "invalid table name part 'events; DROP TABLE x': use letters, digits and underscores, "
        "starting with a letter or underscore"
    )
    with pytest.raises(InvalidIdentifier):
        qualified("lake", "cs`", "t")
