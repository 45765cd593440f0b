"""EMR Serverless entry point of a consistency check that needs Spark: one reconciliation of one
landing hour, as the local check runs it (``reconciliation.reconcile_raw`` / ``reconcile_tickets`` /
``reconcile_documents``). Its discrepancies go back to Dagster as one Pipes custom message, from
which the check reports the same result and metadata as a local run."""

from __future__ import annotations

import argparse
import datetime as dt

DISCREPANCIES = "check.discrepancies"  # key of the custom message carrying the check's finding
# what a check reconciles: the raw archive with the lake, tickets with events, DocumentDB with the lake
RECONCILE_RAW, RECONCILE_TICKETS, RECONCILE_DOCUMENTS = "raw", "tickets", "documents"


def check_job_arguments(reconciliation: str, hour: dt.datetime, namespace: str, documentdb_database: str,
                        landing_uri: str | None = None) -> list[str]:
    """A check's reconciliation, hour and config as this entry point's arguments."""
    from cs_platform.lakehouse.reconciliation import format_hour

    arguments = ["--reconcile", reconciliation, "--hour", format_hour(hour), "--namespace", namespace,
                 "--database", documentdb_database]
    return arguments + (["--landing-uri", landing_uri] if landing_uri else [])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="check_job.py", description=__doc__.splitlines()[0])
    parser.add_argument("--reconcile", required=True, choices=(RECONCILE_RAW, RECONCILE_TICKETS, RECONCILE_DOCUMENTS))
    parser.add_argument("--hour", required=True, help="YYYY-MM-DDTHH (UTC)")
    parser.add_argument("--namespace", default="cs")
    parser.add_argument("--database", default="cs")
    parser.add_argument("--landing-uri", default=None)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    from dataclasses import asdict

    from dagster_pipes import open_dagster_pipes

    from cs_platform.adapters.documentdb import DocumentDBWriter
    from cs_platform.adapters.lake_tables import LakeTables
    from cs_platform.adapters.landing import LandingZone
    from cs_platform.adapters.spark import build_spark_session
    from cs_platform.lakehouse import reconciliation as recon
    from cs_platform.settings import load_settings

    args = parse_args(argv)
    with open_dagster_pipes() as pipes:
        settings = load_settings(landing_uri=args.landing_uri)
        hour, tables = recon.parse_hour(args.hour), LakeTables(namespace=args.namespace)
        spark = build_spark_session(settings, app_name=f"csp-check-{args.reconcile}")
        if args.reconcile == RECONCILE_RAW:
            found = recon.reconcile_raw(spark, tables, LandingZone.from_settings(settings), hour)
        elif args.reconcile == RECONCILE_TICKETS:
            found = recon.reconcile_tickets(spark, tables, hour)
        else:
            writer = DocumentDBWriter.from_settings(settings, database=args.database)
            found = recon.reconcile_documents(spark, tables, writer.target(), hour)
        pipes.report_custom_message({DISCREPANCIES: asdict(found)})
        pipes.log.info(f"{args.reconcile} {args.hour}: {'reconciled' if found.ok else found.counts}")


if __name__ == "__main__":
    main()
