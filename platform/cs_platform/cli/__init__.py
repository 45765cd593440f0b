"""`csp`: the scriptable face of everything the UI does.

Each command lives in its own module under ``cs_platform.cli`` and is imported only when it runs,
so `csp services status` answers without importing Spark or Dagster.
"""

from __future__ import annotations

import importlib
import sys

import click

from cs_platform.settings import SettingsError

# command name -> "module:attribute" (modules under cs_platform.cli)
COMMANDS = {
    "services": "services:services",
    "generate": "generate:generate",
    "stream": "stream:stream",
    "reconcile": "reconcile:reconcile",
    "backfill": "reconcile:backfill",
    "maintain": "maintain:maintain",
    "table": "table:table",
    "migrate-hive": "migrate:migrate_hive",
    "legacy": "migrate:legacy",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(f"cs_platform.cli.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"cs_platform.cli.{module_name}":
                raise click.ClickException(f"`csp {name}` is not available in this build") from None
            raise
        return getattr(module, attr)


@click.group(cls=LazyGroup)
def cli() -> None:
    """CS Lakehouse command line. Settings come from CSP_* environment variables."""


def main() -> None:
    try:
        cli(standalone_mode=True)
    except SettingsError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
