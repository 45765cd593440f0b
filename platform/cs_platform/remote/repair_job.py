"""EMR Serverless entry point of the repair jobs, as their local ops run them:
- `backfill`: re-run landing hours from the raw archive, then reconcile each with its raw files and
  its tickets' events (``reconciliation.backfill_and_recheck``);
- `reproject` (``--repair reproject``): rewrite the hours' documents from the lake, then compare
  them with it again (``reconciliation.reproject_and_recheck``).
Each hour's outcome goes back to Dagster as one Pipes custom message."""

from __future__ import annotations

import argparse
import datetime as dt

HOUR_REPAIR = "backfill.hour"  # key of the custom message sent per backfilled hour
HOUR_REPROJECTION = "reproject.hour"  # ... per reprojected hour
BACKFILL, REPROJECT = "backfill", "reproject"
MESSAGE_KEYS = {BACKFILL: HOUR_REPAIR, REPROJECT: HOUR_REPROJECTION}


def repair_job_arguments(hours: list[dt.datetime], namespace: str, documentdb_database: str,
                         landing_uri: str | None = None, repair: str = BACKFILL) -> list[str]:
    """A repair op's hours and config as this entry point's arguments."""
    from cs_platform.lakehouse.reconciliation import format_hour

    arguments = ["--hours", ",".join(format_hour(h) for h in hours), "--namespace", namespace,
                 "--database", documentdb_database]
    arguments += ["--landing-uri", landing_uri] if landing_uri else []
    return arguments + (["--repair", repair] if repair != BACKFILL else [])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="repair_job.py", description=__doc__.splitlines()[0])
    parser.add_argument("--hours", required=True, help="comma-separated YYYY-MM-DDTHH (UTC)")
    parser.add_argument("--namespace", default="cs")
    parser.add_argument("--database", default="cs")
    parser.add_argument("--landing-uri", default=None)
    parser.add_argument("--repair", choices=(BACKFILL, REPROJECT), default=BACKFILL)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    from dagster_pipes import open_dagster_pipes

    from cs_platform.adapters.documentdb import DocumentDBWriter
    from cs_platform.adapters.lake_tables import LakeTables
    from cs_platform.adapters.landing import LandingZone
    from cs_platform.adapters.spark import build_spark_session
    from cs_platform.lakehouse.reconciliation import backfill_and_recheck, parse_hour, reproject_and_recheck
    from cs_platform.settings import load_settings

    args = parse_args(argv)
    with open_dagster_pipes() as pipes:
        settings = load_settings(landing_uri=args.landing_uri)
        hours = [parse_hour(text) for text in args.hours.split(",")]
        spark = build_spark_session(settings, app_name=f"csp-{args.repair}")
        tables = LakeTables(namespace=args.namespace)
        writer = DocumentDBWriter.from_settings(settings, database=args.database)
        if args.repair == REPROJECT:
            done = reproject_and_recheck(spark, tables, writer, hours)
        else:
            done = backfill_and_recheck(spark, tables, LandingZone.from_settings(settings), writer, hours)
        for hour in done:
            pipes.report_custom_message({MESSAGE_KEYS[args.repair]: hour.as_dict()})
        pipes.log.info(f"{args.repair} {args.hours}: reconciled={all(h.ok for h in done)}")


if __name__ == "__main__":
    main()
