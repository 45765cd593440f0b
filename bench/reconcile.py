"""Reconciliation cost vs processing cost of one landing hour, in the same run.

Baseline: process the hour (batch read of its raw files through the stream's foreachBatch body:
validate, quarantine MERGE, events MERGE, refold + tickets MERGE; DocumentDB off, so the baseline
is the lake work alone, the stricter comparison). Then `reconciles_with_raw` on the same hour
(reads only the hour's raw files and the key columns of the lake), and `tickets_match_events`.
Prints seconds and the ratio reconcile / process. Target: <= 0.5 for 1M events.

    .venv/bin/python bench/reconcile.py                 # 1M events in one hour
    .venv/bin/python bench/reconcile.py --events 20000  # smoke run
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))


def generate(landing: Path, events: int, seed: int) -> int:
    from cs_platform.logic.firehose import UTC
    from cs_platform.logic.simulator import SimulationConfig, simulate

    sim = simulate(SimulationConfig(events=events, hours=1, start=dt.datetime(2026, 11, 26, 10, tzinfo=UTC), seed=seed,
                                    redelivery_rate=0.02, malformed_rate=0.005))
    # Ticket lifecycles span several arrival hours; put every object under one hour prefix so the
    # measured hour holds all the events (arrival hour is only the key prefix).
    hour_dir = landing / "2026/11/26/10"
    hour_dir.mkdir(parents=True, exist_ok=True)
    lines = 0
    for obj in sim.objects():
        (hour_dir / obj.key.rsplit("/", 1)[-1]).write_bytes(obj.data)
        lines += obj.lines
    return lines


def timed(fn):
    started = time.monotonic()
    value = fn()
    return time.monotonic() - started, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="distinct valid events in the hour")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the generated files and tables")
    args = parser.parse_args()

    from cs_platform.adapters.landing import LandingZone
    from cs_platform.adapters.lake_tables import LakeTables
    from cs_platform.adapters.services import LocalServices
    from cs_platform.adapters.spark import build_spark_session
    from cs_platform.lakehouse.reconciliation import backfill_hours, format_hour, reconcile_raw, reconcile_tickets
    from cs_platform.settings import load_settings

    settings = load_settings()
    LocalServices(settings).up()
    work = Path(tempfile.mkdtemp(prefix="bench_reconcile_", dir=settings.home_dir))
    print(f"generating {args.events:,} events into {work} ...", flush=True)
    lines = generate(work / "landing", args.events, args.seed)
    landing = LandingZone((work / "landing").as_uri())
    by_hour = landing.files_by_hour()
    hours = sorted(h for h in by_hour if h is not None)
    hour = max(hours, key=lambda h: len(by_hour[h]))
    print(f"  {lines:,} lines in {sum(len(f) for f in by_hour.values())} files; measured hour {format_hour(hour)} "
          f"({len(by_hour[hour])} files)", flush=True)

    spark = build_spark_session(settings, app_name="bench-reconcile")
    tables = LakeTables(namespace=f"bench_recon_{uuid.uuid4().hex[:8]}")
    tables.ensure(spark)
    try:
        for other in hours:
            if other != hour:
                backfill_hours(spark, tables, landing, None, [other])
        process_s, [result] = timed(lambda: backfill_hours(spark, tables, landing, None, [hour]))
        raw_s, raw = timed(lambda: reconcile_raw(spark, tables, landing, hour))
        tickets_s, tickets = timed(lambda: reconcile_tickets(spark, tables, hour))
        assert raw.ok and tickets.ok, (raw.counts, tickets.counts)
    finally:
        if not args.keep:
            for name in (tables.events, tables.events_quarantine, tables.tickets):
                spark.sql(f"DROP TABLE IF EXISTS {name} PURGE")
            spark.sql(f"DROP NAMESPACE IF EXISTS lake.{tables.namespace}")
            shutil.rmtree(work, ignore_errors=True)

    print()
    print(f"process hour (lake, no DocumentDB) : {process_s:8.1f} s  ({result.lines_read:,} lines, {result.valid:,} valid, "
          f"{result.quarantined:,} quarantined, {result.tickets_touched:,} tickets)")
    print(f"reconciles_with_raw                : {raw_s:8.1f} s  (ratio {raw_s / process_s:.2f}, target <= 0.5)")
    print(f"tickets_match_events               : {tickets_s:8.1f} s  (ratio {tickets_s / process_s:.2f})")
    print(f"both checks                        : {raw_s + tickets_s:8.1f} s  (ratio {(raw_s + tickets_s) / process_s:.2f})")
    print(f"RATIO reconcile/process = {raw_s / process_s:.2f}")


if __name__ == "__main__":
    main()
