"""EMR Serverless entry point of the `cs_stream` job: one availableNow run of the streaming query.

EMR runs this file with spark-submit, from ``CSP_EMR_CODE_URI`` (``make package`` builds it with the
platform's wheel). Settings come from the ``CSP_*`` variables the launcher forwards; the batches'
results go back to Dagster as Pipes custom messages, one per batch, from which the job reports its hours.
"""

from __future__ import annotations

import argparse

BATCH = "cs_stream.batch"  # key of the custom message sent per batch (a CloudWatch event holds at most 256 KB)


def stream_job_arguments(namespace: str, database: str, landing_uri: str | None = None,
                         checkpoint_uri: str | None = None, query_name: str = "cs_events",
                         max_files_per_trigger: int | None = None, lock_wait_seconds: float = 0) -> list[str]:
    """The `cs_stream` op's config as this entry point's arguments (defaults left out)."""
    options = {"--namespace": namespace, "--database": database, "--landing-uri": landing_uri,
               "--checkpoint-uri": checkpoint_uri, "--query-name": query_name,
               "--max-files-per-trigger": max_files_per_trigger, "--lock-wait-seconds": lock_wait_seconds or None}
    return [part for name, value in options.items() if value is not None for part in (name, str(value))]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="stream_job.py", description=__doc__.splitlines()[0])
    parser.add_argument("--namespace", default="cs")
    parser.add_argument("--database", default="cs")
    parser.add_argument("--landing-uri", default=None)
    parser.add_argument("--checkpoint-uri", default=None)
    parser.add_argument("--query-name", default="cs_events")
    parser.add_argument("--max-files-per-trigger", type=int, default=None)
    parser.add_argument("--lock-wait-seconds", type=float, default=0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    from dagster_pipes import open_dagster_pipes

    from cs_platform.adapters.documentdb import DocumentDBWriter
    from cs_platform.adapters.lake_tables import LakeTables
    from cs_platform.adapters.spark import build_spark_session
    from cs_platform.settings import load_settings
    from cs_platform.streaming.query import start_stream

    args = parse_args(argv)
    with open_dagster_pipes() as pipes:
        settings = load_settings(landing_uri=args.landing_uri, checkpoint_uri=args.checkpoint_uri)
        spark = build_spark_session(settings, app_name=f"csp-stream-{args.query_name}")
        run = start_stream(
            spark, settings, once=True, tables=LakeTables(namespace=args.namespace),
            writer=DocumentDBWriter.from_settings(settings, database=args.database), query_name=args.query_name,
            max_files_per_trigger=args.max_files_per_trigger, lock_wait_seconds=args.lock_wait_seconds,
            progress_extra={"dagster_run_id": pipes.run_id, "compute": "emr-serverless"},
        )
        for entry in run.entries():
            pipes.report_custom_message({BATCH: entry})
        pipes.log.info(f"{len(run.batches)} batch(es), hours {run.landing_hours}, {run.duration_s}s")


if __name__ == "__main__":
    main()
