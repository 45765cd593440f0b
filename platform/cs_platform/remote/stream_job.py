"""EMR Serverless entry point of the streaming query.

- As the `cs_stream` job's step (through Pipes): one availableNow run; the batches' results go back
  to Dagster as Pipes custom messages, one per batch, from which the job reports its hours.
- With ``--continuous``: production's long-running query, started outside Dagster (a long-running
  EMR Serverless job run, or an EMR step). It runs on its processing-time trigger until SIGTERM or
  SIGINT (the job run cancelled); the Structured Streaming sensor follows it through its checkpoint's
  lease and progress log and reports the committed hours.

EMR runs this file with spark-submit, from ``CSP_EMR_CODE_URI`` (``make package`` builds it with the
platform's wheel). Settings come from the ``CSP_*`` variables the launcher forwards (or the job run's
own ``spark.emr-serverless.driverEnv.*``).
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
    parser.add_argument("--continuous", action="store_true",
                        help="run on the processing-time trigger until SIGTERM/SIGINT, outside Dagster")
    return parser.parse_args(argv)


def _run(args: argparse.Namespace, once: bool, **options):
    from cs_platform.adapters.documentdb import DocumentDBWriter
    from cs_platform.adapters.lake_tables import LakeTables
    from cs_platform.adapters.spark import build_spark_session
    from cs_platform.settings import load_settings
    from cs_platform.streaming.query import start_stream

    settings = load_settings(landing_uri=args.landing_uri, checkpoint_uri=args.checkpoint_uri)
    spark = build_spark_session(settings, app_name=f"csp-stream-{args.query_name}")
    return start_stream(
        spark, settings, once=once, tables=LakeTables(namespace=args.namespace),
        writer=DocumentDBWriter.from_settings(settings, database=args.database), query_name=args.query_name,
        max_files_per_trigger=args.max_files_per_trigger, lock_wait_seconds=args.lock_wait_seconds, **options)


def run_continuous(args: argparse.Namespace) -> None:
    """The long-running query, until SIGTERM/SIGINT."""
    from cs_platform.streaming.query import stop_on_signals

    _run(args, once=False, stop=stop_on_signals())


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.continuous:
        run_continuous(args)
        return
    from dagster_pipes import open_dagster_pipes

    with open_dagster_pipes() as pipes:
        run = _run(args, once=True, progress_extra={"dagster_run_id": pipes.run_id, "compute": "emr-serverless"})
        for entry in run.entries():
            pipes.report_custom_message({BATCH: entry})
        pipes.log.info(f"{len(run.batches)} batch(es), hours {run.landing_hours}, {run.duration_s}s")


if __name__ == "__main__":
    main()
