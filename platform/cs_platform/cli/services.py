"""`csp services up|down|status`: the local PostgreSQL catalog and DocumentDB stand-in."""

from __future__ import annotations

import json

import click

from cs_platform.adapters.services import LocalServices
from cs_platform.settings import load_settings


def _print(statuses, as_json: bool, settings) -> None:
    locations = settings.public_locations()
    if as_json:
        payload = {name: status.as_dict() for name, status in statuses.items()}
        payload.update(locations)
        click.echo(json.dumps(payload, indent=2, sort_keys=True))
        return
    for name, status in statuses.items():
        state = f"running on 127.0.0.1:{status.port} (pid {status.pid})" if status.running else "stopped"
        click.echo(f"{name:<11} {state}")
    for key, value in locations.items():
        click.echo(f"{key:<15} {'-' if value is None else value}")


@click.group()
def services() -> None:
    """Manage the local services under CSP_HOME."""


@services.command()
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def up(as_json: bool) -> None:
    """Start PostgreSQL (catalog) and SecantusDB (DocumentDB stand-in); idempotent."""
    settings = load_settings()
    _print(LocalServices(settings).up(), as_json, settings)


@services.command()
@click.option("--json", "as_json", is_flag=True)
def down(as_json: bool) -> None:
    """Stop the services that `up` started for this CSP_HOME."""
    settings = load_settings()
    _print(LocalServices(settings).down(), as_json, settings)


@services.command()
@click.option("--json", "as_json", is_flag=True)
def status(as_json: bool) -> None:
    """Show the services and every location (URIs) of this CSP_HOME."""
    settings = load_settings()
    statuses = LocalServices(settings).status()
    _print(statuses, as_json, settings)
