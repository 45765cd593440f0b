"""`csp generate`: simulate CS events into the landing zone in Firehose layout, plus a manifest.

The manifest (default ``<CSP_HOME>/manifests/<run>.json``) says exactly what was written, so
tests and benchmarks can check the pipeline's output against it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click
from tqdm import tqdm

from cs_platform.adapters.landing import LandingZone
from cs_platform.logic.simulator import SimulationConfig, parse_start, simulate
from cs_platform.settings import load_settings


def _rate(ctx, param, value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise click.BadParameter(f"must be between 0 and 1, got {value}")
    return value


@click.command()
@click.option("--events", type=click.IntRange(min=1), help="distinct valid events to generate [default: 1000]")
@click.option("--tickets", type=click.IntRange(min=1), help="tickets to generate (instead of --events)")
@click.option("--hours", type=click.IntRange(min=1), default=1, show_default=True, help="hours of activity")
@click.option("--start", default="2026-11-26T00", show_default=True, help="first hour, UTC (YYYY-MM-DDTHH)")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--gzip-share", type=float, default=0.5, show_default=True, callback=_rate, help="share of gzip objects")
@click.option("--redelivery-rate", type=float, default=0.0, show_default=True, callback=_rate,
              help="share of events Firehose delivers twice (another object, often another hour)")
@click.option("--late-rate", type=float, default=0.0, show_default=True, callback=_rate,
              help="share of events arriving 1-4 hours after they occurred")
@click.option("--malformed-rate", type=float, default=0.0, show_default=True, callback=_rate,
              help="malformed lines per valid line (every quarantine reason, round-robin)")
@click.option("--stream-name", default="cs-events", show_default=True)
@click.option("--landing-uri", help="file:// or s3:// landing root [default: settings (CSP_LANDING_URI)]")
@click.option("--manifest", "manifest_path", type=click.Path(dir_okay=False, path_type=Path),
              help="where to write the manifest [default: <CSP_HOME>/manifests/<run>.json]")
@click.option("--manifest-events/--no-manifest-events", default=True, show_default=True,
              help="list every distinct valid event in the manifest")
@click.option("--json", "as_json", is_flag=True, help="print a machine-readable summary")
def generate(events, tickets, hours, start, seed, gzip_share, redelivery_rate, late_rate, malformed_rate,
             stream_name, landing_uri, manifest_path, manifest_events, as_json) -> None:
    """Write simulated CS events as Firehose objects to the landing zone, and a manifest."""
    if events and tickets:
        raise click.UsageError("give --events or --tickets, not both")
    try:
        start_at = parse_start(start)
    except ValueError:
        raise click.BadParameter(f"expected YYYY-MM-DDTHH in UTC, got {start!r}", param_hint="--start") from None
    settings = load_settings()
    landing = LandingZone(landing_uri.rstrip("/") if landing_uri else settings.landing,
                          s3_endpoint_url=settings.s3_endpoint_url)
    config = SimulationConfig(
        events=None if tickets else (events or 1000), tickets=tickets, hours=hours, start=start_at, seed=seed,
        gzip_share=gzip_share, redelivery_rate=redelivery_rate, late_rate=late_rate,
        malformed_rate=malformed_rate, stream_name=stream_name)

    with tqdm(total=config.events, desc="events", unit="ev", disable=None, leave=False) as bar:
        sim = simulate(config, progress=lambda n: bar.update(n - bar.n))
    for obj in tqdm(sim.objects(), total=len(sim.planned), desc="objects", unit="obj", disable=None):
        landing.write_object(obj.key, obj.data)

    manifest = sim.manifest(include_events=manifest_events)
    manifest["landing_uri"] = landing.uri
    run_id = f"{stream_name}-{start_at:%Y%m%dT%H}-s{seed}-{config.tag()}"
    manifest["run_id"] = run_id
    path = manifest_path or settings.home_dir / "manifests" / f"{run_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(manifest, separators=(",", ":")))
    os.replace(tmp, path)

    summary = {k: manifest[k] for k in ("run_id", "landing_uri", "total_files", "total_lines", "distinct_events",
                                        "tickets", "redelivered", "late", "malformed_lines")}
    summary["manifest"] = str(path)
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        click.echo(f"wrote {summary['total_files']} objects, {summary['total_lines']} lines "
                   f"({summary['distinct_events']} distinct events, {summary['tickets']} tickets, "
                   f"{summary['redelivered']} re-delivered, {summary['late']} late, "
                   f"{summary['malformed_lines']} malformed) to {landing.uri}")
        click.echo(f"manifest: {path}")
