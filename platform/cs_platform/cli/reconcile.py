"""`csp reconcile --hour H` and `csp backfill --hour H | --from A --to B` (hours `YYYY-MM-DDTHH`, UTC)."""

from __future__ import annotations

import json
import sys

import click

HOUR_HELP = "landing (arrival) hour, YYYY-MM-DDTHH in UTC, e.g. 2026-11-26T10"


def _hour(ctx, param, value):
    from cs_platform.lakehouse.reconciliation import HourError, parse_hour

    if value is None:
        return None
    try:
        return parse_hour(value)
    except HourError as exc:
        raise click.BadParameter(str(exc)) from None


def _session(**overrides):
    from cs_platform.adapters.spark import build_spark_session
    from cs_platform.settings import load_settings

    settings = load_settings(**overrides)
    return settings, build_spark_session(settings, app_name="csp-reconcile")


@click.command()
@click.option("--hour", required=True, callback=_hour, help=HOUR_HELP)
@click.option("--tickets/--no-tickets", default=False, help="also refold the hour's tickets and compare (tickets_match_events)")
@click.option("--namespace", default="cs", show_default=True, help="lake namespace of the CS tables")
@click.option("--json", "as_json", is_flag=True, help="print the full report (counts and samples) as JSON")
def reconcile(hour, tickets, namespace, as_json):
    """Compare one landing hour of the raw archive with the lake; exit 1 when it does not reconcile."""
    from cs_platform.adapters.landing import LandingZone
    from cs_platform.adapters.lake_tables import LakeTables
    from cs_platform.lakehouse.reconciliation import format_hour, reconcile_raw, reconcile_tickets

    settings, spark = _session()
    tables = LakeTables(namespace=namespace)
    found = {"reconciles_with_raw": reconcile_raw(spark, tables, LandingZone.from_settings(settings), hour)}
    if tickets:
        found["tickets_match_events"] = reconcile_tickets(spark, tables, hour)
    ok = all(result.ok for result in found.values())
    if as_json:
        click.echo(json.dumps({"hour": format_hour(hour), "reconciled": ok,
                               **{name: r.as_metadata() for name, r in found.items()}}, indent=2, sort_keys=True))
    else:
        click.echo(f"hour {format_hour(hour)}: {'reconciled' if ok else 'NOT reconciled'}")
        for name, result in found.items():
            for kind, count in result.counts.items():
                samples = result.samples.get(kind) or []
                click.echo(f"  {kind}: {count}" + (f"  e.g. {', '.join(samples[:5])}" if samples else ""))
    sys.exit(0 if ok else 1)


@click.command()
@click.option("--hour", callback=_hour, help=HOUR_HELP)
@click.option("--from", "first", callback=_hour, help="first hour of a range (" + HOUR_HELP + ")")
@click.option("--to", "last", callback=_hour, help="last hour of the range, included")
@click.option("--namespace", default="cs", show_default=True, help="lake namespace of the CS tables")
@click.option("--documentdb-database", default="cs", show_default=True, help="DocumentDB database of the projection")
@click.option("--query-name", default="cs_events", show_default=True,
              help="the streaming query that writes these tables (`csp stream --query-name`): the backfill takes its "
                   "checkpoint's lock, so the two never write at once")
@click.option("--checkpoint-uri", default=None, help="that query's checkpoint root, if not CSP_CHECKPOINT_URI "
                                                       "(`csp stream --checkpoint-uri`)")
@click.option("--wait", "wait_seconds", type=click.FloatRange(min=0), default=0, show_default=True,
              help="seconds to wait for the query's checkpoint when an --once run or another repair holds it "
                   "(0: refuse at once)")
def backfill(hour, first, last, namespace, documentdb_database, query_name, checkpoint_uri, wait_seconds):
    """Re-process landing hours from the raw archive through the stream's batch logic (idempotent)."""
    from cs_platform.adapters.documentdb import DocumentDBWriter
    from cs_platform.adapters.landing import LandingZone
    from cs_platform.adapters.lake_tables import LakeTables
    from cs_platform.lakehouse.reconciliation import HourError, backfill_hours, format_hour, hours_between
    from cs_platform.streaming.lock import CheckpointBusy
    from cs_platform.streaming.query import writer_lock

    if (hour is None) == (first is None and last is None) or (hour is None and (first is None or last is None)):
        raise click.UsageError("give either --hour H, or both --from A and --to B")
    try:
        hours = [hour] if hour is not None else hours_between(first, last)
    except HourError as exc:
        raise click.UsageError(str(exc)) from None
    settings, spark = _session(checkpoint_uri=checkpoint_uri)
    writer = DocumentDBWriter.from_settings(settings, database=documentdb_database)
    try:
        with writer_lock(settings, "backfill", query_name=query_name, wait_seconds=wait_seconds):
            results = backfill_hours(spark, LakeTables(namespace=namespace), LandingZone.from_settings(settings),
                                     writer, hours)
    except CheckpointBusy as exc:
        raise click.ClickException(f"cannot backfill now: {exc}") from None
    finally:
        writer.close()
    for when, result in zip(hours, results):
        click.echo(f"{format_hour(when)}: lines={result.lines_read} valid={result.valid} "
                   f"quarantined={result.quarantined} new_events={result.new_events} "
                   f"new_quarantined={result.new_quarantined} tickets_changed={result.tickets_changed} "
                   f"documentdb_writes={result.documentdb_writes} duplicates_removed={result.duplicates_removed}")
