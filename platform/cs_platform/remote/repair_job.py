"""EMR Serverless entry point of the `backfill` job: re-run landing hours from the raw archive, then
reconcile each with its raw files and its tickets' events (``reconciliation.backfill_and_recheck``,
as the local op does). Each hour's outcome goes back to Dagster as one Pipes custom message."""

from __future__ import annotations

import argparse
import datetime as dt

HOUR_REPAIR = "backfill.hour"  # key of the custom message sent per hour


def repair_job_arguments(hours: list[dt.datetime], namespace: str, documentdb_database: str,
                         landing_uri: str | None = None) -> list[str]:
    """The backfill op's hours and config as this entry point's arguments."""
    from cs_platform.lakehouse.reconciliation import format_hour

    arguments = ["--hours", ",".join(format_hour(h) for h in hours), "--namespace", namespace,
                 "--database", documentdb_database]
    return arguments + (["--landing-uri", landing_uri] if landing_uri else [])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="repair_job.py", description=__doc__.splitlines()[0])
    parser.add_argument("--hours", required=True, help="comma-separated YYYY-MM-DDTHH (UTC)")
    parser.add_argument("--namespace", default="cs")
    parser.add_argument("--database", default="cs")
    parser.add_argument("--landing-uri", default=None)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    from dagster_pipes import open_dagster_pipes

    from cs_platform.adapters.documentdb import DocumentDBWriter
    from cs_platform.adapters.lake_tables import LakeTables
    from cs_platform.adapters.landing import LandingZone
    from cs_platform.adapters.spark import build_spark_session
    from cs_platform.lakehouse.reconciliation import backfill_and_recheck, parse_hour
    from cs_platform.settings import load_settings

    args = parse_args(argv)
    with open_dagster_pipes() as pipes:
        settings = load_settings(landing_uri=args.landing_uri)
        hours = [parse_hour(text) for text in args.hours.split(",")]
        spark = build_spark_session(settings, app_name="csp-backfill")
        repairs = backfill_and_recheck(spark, LakeTables(namespace=args.namespace), LandingZone.from_settings(settings),
                                       DocumentDBWriter.from_settings(settings, database=args.database), hours)
        for repair in repairs:
            pipes.report_custom_message({HOUR_REPAIR: repair.as_dict()})
        pipes.log.info(f"backfilled {args.hours}: reconciled={all(r.ok for r in repairs)}")


if __name__ == "__main__":
    main()
