"""`csp stream [--once | --status]`: run the Structured Streaming query over the landing zone.

`--once` processes everything not yet processed (availableNow) and exits 0; without it the query
runs on a processing-time trigger until SIGTERM/SIGINT. `--status` runs nothing: it prints, as
JSON, who holds the checkpoint, what has committed, what is pending and the last batch. Options
override the CSP_* locations so a test or a backfill rehearsal can run on its own landing,
checkpoint, namespace and database.
"""

from __future__ import annotations

import json
import sys

import click


@click.command()
@click.option("--once", is_flag=True, help="Process everything not yet processed, then exit (availableNow).")
@click.option("--namespace", default="cs", show_default=True, help="Iceberg namespace in catalog `lake`.")
@click.option("--database", default="cs", show_default=True, help="DocumentDB database of the `tickets` projection.")
@click.option("--landing-uri", default=None, help="Overrides CSP_LANDING_URI.")
@click.option("--checkpoint-uri", default=None, help="Overrides CSP_CHECKPOINT_URI.")
@click.option("--query-name", default="cs_events", show_default=True, help="Checkpoint subdirectory and query name.")
@click.option("--max-files-per-trigger", type=int, default=None, help="Overrides CSP_STREAM_MAX_FILES_PER_TRIGGER.")
@click.option("--documentdb-chunk-size", type=int, default=None, help="Upserts per unordered bulk write.")
@click.option("--no-documentdb", is_flag=True, help="Stop after the lake commit (benchmarks; reproject later).")
@click.option("--status", is_flag=True,
              help="Print who holds the checkpoint, committed batches, pending files and the last batch; run nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
def stream(once, namespace, database, landing_uri, checkpoint_uri, query_name, max_files_per_trigger,
           documentdb_chunk_size, no_documentdb, status, as_json) -> None:
    """Run the CS streaming query (lake tables + DocumentDB projection)."""
    if status:
        _print_status(landing_uri, checkpoint_uri, query_name)
        return
    from cs_platform.adapters.documentdb import DEFAULT_CHUNK_SIZE, DocumentDBWriter
    from cs_platform.adapters.lake_tables import LakeTables
    from cs_platform.adapters.spark import build_spark_session
    from cs_platform.settings import load_settings
    from cs_platform.streaming.lock import CheckpointBusy
    from cs_platform.streaming.query import failure_cause, start_stream, stop_on_signals

    settings = load_settings(landing_uri=landing_uri, checkpoint_uri=checkpoint_uri)
    tables = LakeTables(namespace=namespace)
    writer = None if no_documentdb else DocumentDBWriter.from_settings(
        settings, database=database, chunk_size=documentdb_chunk_size or DEFAULT_CHUNK_SIZE)
    stop = None if once else stop_on_signals()
    spark = build_spark_session(settings, app_name=f"csp-stream-{query_name}")
    try:
        run = start_stream(spark, settings, once=once, tables=tables, writer=writer, query_name=query_name,
                           max_files_per_trigger=max_files_per_trigger, use_documentdb=not no_documentdb, stop=stop)
    except CheckpointBusy as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:  # a failed batch: the checkpoint is intact, the next run replays it
        click.echo(f"error: the streaming query failed; nothing after the last committed batch is lost, "
                   f"rerun `csp stream` to replay it. Cause: {failure_cause(exc)}", err=True)
        sys.exit(1)
    summary = {
        "query_id": run.query_id, "batches": len(run.batches), "lines_read": run.total("lines_read"),
        "valid": run.total("valid"), "quarantined": run.total("quarantined"), "new_events": run.total("new_events"),
        "tickets_changed": run.total("tickets_changed"), "documentdb_writes": run.total("documentdb_writes"),
        "landing_hours": run.landing_hours, "duration_s": run.duration_s,
    }
    if as_json:
        click.echo(json.dumps(summary))
    else:
        click.echo(" ".join(f"{k}={v}" for k, v in summary.items() if k != "landing_hours"))


def _print_status(landing_uri, checkpoint_uri, query_name: str) -> None:
    """No Spark: the checkpoint, its lock or lease, the landing zone and the progress log are read directly."""
    from cs_platform.settings import load_settings
    from cs_platform.streaming.follow import status

    click.echo(json.dumps(status(load_settings(landing_uri=landing_uri, checkpoint_uri=checkpoint_uri), query_name),
                          default=str, sort_keys=True))
