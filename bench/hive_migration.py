"""Hive -> Iceberg migration cost: adopting the Parquet files (add_files) vs rewriting them (CTAS).

Both run on the same seeded legacy table in the same Spark session:
(a) baseline: CTAS rewrite of `cs_ticket_history` into a fresh Iceberg table (reads and writes every row);
(b) the migration's copy step for that table (`add_files`: writes metadata only, no data copied);
(c) the verification of (b) (row counts per partition + xxhash64 checksums per column, both sides).
Prints seconds, rows/s, bytes written and the ratio (a)/(b). Uses the services of the current CSP_HOME
(`csp services up` first); everything it creates is in a fresh Hive database and lake namespace.

    .venv/bin/python bench/hive_migration.py                      # 30 days x 500 tickets (~60k rows)
    .venv/bin/python bench/hive_migration.py --days 2 --tickets-per-day 20   # smoke run
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--tickets-per-day", type=int, default=500)
    args = parser.parse_args()

    from cs_platform.adapters.spark import build_spark_session
    from cs_platform.lakehouse.migration import HiveMigration, MigrationNames, sql
    from cs_platform.lakehouse.migration.legacy_seed import seed_legacy
    from cs_platform.settings import load_settings

    settings = load_settings()
    spark = build_spark_session(settings, app_name="bench-hive-migration", hive=True)
    suffix = uuid.uuid4().hex[:8]
    database, namespace = f"bench_legacy_{suffix}", f"bench_mig_{suffix}"
    seeded = seed_legacy(spark, settings, database=database, days=args.days, tickets_per_day=args.tickets_per_day)
    rows = seeded["cs_ticket_history"]["rows"]

    rewrite = MigrationNames.parse(f"{database}.cs_ticket_history", f"{namespace}.ticket_history_ctas")
    spark.sql(sql.create_namespace(rewrite))
    started = time.perf_counter()
    spark.sql(sql.ctas_target(rewrite, rewrite.source, ["dt"], {}))
    ctas_s = time.perf_counter() - started
    ctas_bytes = spark.sql(f"SELECT sum(file_size_in_bytes) FROM {rewrite.target}.files").first()[0]

    migration = HiveMigration(spark, settings, MigrationNames.parse(f"{database}.cs_ticket_history",
                                                                     f"{namespace}.ticket_history"))
    migration.run_step("preflight")
    started = time.perf_counter()
    copy = migration.run_step("copy")
    adopt_s = time.perf_counter() - started
    started = time.perf_counter()
    verify = migration.run_step("verify")
    verify_s = time.perf_counter() - started

    print(f"rows: {rows} in {verify['partitions']} partitions, {copy['files_adopted']} Parquet files")
    print(f"(a) CTAS rewrite:      {ctas_s:8.2f} s  {rows / ctas_s:10.0f} rows/s  {ctas_bytes} bytes written")
    print(f"(b) add_files adopt:   {adopt_s:8.2f} s  {rows / adopt_s:10.0f} rows/s  {copy['bytes_copied']} bytes written")
    print(f"(c) verification:      {verify_s:8.2f} s  {rows / verify_s:10.0f} rows/s  ok={verify['ok']}")
    print(f"ratio (a)/(b): {ctas_s / adopt_s:.2f}x")
    migration.rollback()
    spark.sql(sql.drop_target(rewrite, purge=True))


if __name__ == "__main__":
    main()
