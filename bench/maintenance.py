"""Iceberg maintenance pay-off: a table written by many small micro-batch commits, before and
after the maintenance run (compaction, snapshot expiry, manifest rewrite).

One commit per micro-batch (as the stream's foreachBatch does) over a few closed hours, then:
files per partition and a full-scan time (best of --repeats) before and after compaction, their
ratio, and snapshots / manifests before and after expiry. The baseline (before) and the result
(after) run in the same process on the same table. Uses the services of the current CSP_HOME
(`csp services up` first); everything it creates is in a fresh lake namespace, dropped at the end.

    .venv/bin/python bench/maintenance.py                               # 200 micro-batches x 50 events
    .venv/bin/python bench/maintenance.py --batches 20 --events 20      # smoke run
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))


def full_scan_seconds(spark, ref, repeats: int) -> tuple[float, int]:
    """Best wall time of a scan that reads every column of every row."""
    best, rows = float("inf"), 0
    for _ in range(repeats):
        spark.sql(f"REFRESH TABLE {ref.sql}")
        started = time.perf_counter()
        row = spark.sql(f"SELECT count(*) AS n, sum(xxhash64(*)) AS h FROM {ref.sql}").first()
        best, rows = min(best, time.perf_counter() - started), row.n
    return best, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=200, help="micro-batches (one commit each)")
    parser.add_argument("--events", type=int, default=50, help="events per micro-batch")
    parser.add_argument("--hours", type=int, default=4, help="closed landing hours the batches spread over")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from cs_platform.adapters.catalog import pyiceberg_catalog
    from cs_platform.adapters.spark import build_spark_session
    from cs_platform.lakehouse.health import probe
    from cs_platform.lakehouse.maintenance import Maintainer
    from cs_platform.lakehouse.policy import policy_for
    from cs_platform.lakehouse.table_ops import TableRef
    from cs_platform.settings import load_settings

    settings = load_settings()
    spark = build_spark_session(settings, app_name="bench-maintenance")
    catalog = pyiceberg_catalog(settings)
    namespace = f"bench_mnt_{uuid.uuid4().hex[:8]}"
    ref = TableRef.parse(f"{namespace}.events")
    spark.sql(f"CREATE NAMESPACE lake.{namespace}")
    spark.sql(f"CREATE TABLE {ref.sql} (event_id STRING, ticket_id STRING, seq INT, payload STRING, "
              "landing_hour TIMESTAMP) USING iceberg PARTITIONED BY (hours(landing_hour))")
    first_hour = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0, tzinfo=None) - timedelta(hours=args.hours + 1)
    try:
        started = time.perf_counter()
        for batch in range(args.batches):
            hour = first_hour + timedelta(hours=batch * args.hours // args.batches)
            spark.range(args.events).selectExpr(
                f"concat('e-{batch}-', id) AS event_id", "concat('t-', id % 97) AS ticket_id", "CAST(id AS INT) AS seq",
                "repeat(md5(CAST(id AS STRING)), 4) AS payload", f"TIMESTAMP '{hour:%Y-%m-%d %H:%M:%S}' AS landing_hour",
            ).coalesce(1).writeTo(ref.sql).append()
        write_s = time.perf_counter() - started
        # Snapshots are minutes old; look at them from a day later so that expiry has work to do.
        policy = policy_for(str(ref), {"snapshot_max_age_hours": 24, "retain_last_snapshots": 5, "manifest_min_count": 10})
        later = datetime.now(timezone.utc) + timedelta(hours=25)
        before = probe(catalog, ref, policy, later)
        scan_before, rows_before = full_scan_seconds(spark, ref, args.repeats)

        started = time.perf_counter()
        results = Maintainer(spark, catalog, ref, policy, now=later).run()
        maintain_s = time.perf_counter() - started

        after = probe(catalog, ref, policy, later)
        scan_after, rows_after = full_scan_seconds(spark, ref, args.repeats)
        assert rows_after == rows_before == args.batches * args.events, (rows_before, rows_after)

        print(f"micro-batches: {args.batches} x {args.events} events over {args.hours} hours "
              f"({rows_before} rows, written in {write_s:.1f}s)")
        for result in results:
            print(f"  {result.step:<30} {result.status:<8} {result.reason}".rstrip())
        print(f"files per partition (max): before {before.max_files_per_partition}  after {after.max_files_per_partition}")
        print(f"data files:                 before {before.data_files}  after {after.data_files}")
        print(f"snapshots:                  before {before.snapshots}  after {after.snapshots}")
        print(f"manifests:                  before {before.manifests}  after {after.manifests}")
        print(f"full scan (best of {args.repeats}):     before {scan_before:.3f}s  after {scan_after:.3f}s  "
              f"ratio {scan_before / scan_after:.2f}x")
        print(f"maintenance run:            {maintain_s:.1f}s")
    finally:
        spark.sql(f"DROP TABLE IF EXISTS {ref.sql} PURGE")
        spark.sql(f"DROP NAMESPACE IF EXISTS lake.{namespace}")


if __name__ == "__main__":
    main()
