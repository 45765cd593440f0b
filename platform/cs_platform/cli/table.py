"""`csp table ...`: history, snapshots, time travel, rollback, tags and schema evolution."""

from __future__ import annotations

import json
from functools import wraps

import click

from cs_platform.settings import load_settings


def _errors(fn):
    """Validation errors become a clear usage error (exit 2), not a traceback."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        from cs_platform.adapters.identifiers import InvalidIdentifier
        from cs_platform.lakehouse.table_ops import TableOpError

        try:
            return fn(*args, **kwargs)
        except (InvalidIdentifier, TableOpError) as exc:
            raise click.UsageError(str(exc)) from None

    return wrapper


def _ref(name: str):
    from cs_platform.lakehouse.table_ops import TableRef

    return TableRef.parse(name)


def _catalog():
    from cs_platform.adapters.catalog import pyiceberg_catalog

    return pyiceberg_catalog(load_settings())


def _spark():
    from cs_platform.adapters.spark import build_spark_session

    return build_spark_session(load_settings(), app_name="cs-lakehouse-table")


def _spark_and_ref(name: str):
    ref = _ref(name)  # validate before paying for a JVM
    return _spark(), ref


def _catalog_and_ref(name: str):
    ref = _ref(name)
    return _catalog(), ref


def _echo(payload) -> None:
    click.echo(json.dumps(payload, default=str, sort_keys=True))


@click.group()
def table() -> None:
    """Operate on an Iceberg table of catalog `lake` (names: table, namespace.table)."""


@table.command()
@click.argument("name")
@_errors
def history(name: str) -> None:
    """When each snapshot became current (one JSON object per line)."""
    from cs_platform.lakehouse.table_ops import history as table_history

    ref = _ref(name)
    for row in table_history(_catalog(), ref):
        _echo(row)


@table.command()
@click.argument("name")
@_errors
def snapshots(name: str) -> None:
    """Every snapshot with its operation and record counts; refs (branches, tags) last."""
    from cs_platform.lakehouse.table_ops import refs
    from cs_platform.lakehouse.table_ops import snapshots as table_snapshots

    ref = _ref(name)
    catalog = _catalog()
    for row in table_snapshots(catalog, ref):
        _echo(row)
    _echo({"refs": refs(catalog, ref)})


@table.command()
@click.argument("name")
@click.option("--at-snapshot", type=int, default=None)
@click.option("--at-timestamp", default=None, help="ISO-8601, UTC if no offset")
@click.option("--limit", type=int, default=20, show_default=True)
@_errors
def read(name: str, at_snapshot, at_timestamp, limit: int) -> None:
    """Rows of the table now, at a snapshot or at a moment (time travel)."""
    from cs_platform.lakehouse.table_ops import read as read_table

    for row in read_table(*_spark_and_ref(name), at_snapshot, at_timestamp).limit(limit).collect():
        _echo(row.asDict(recursive=True))


@table.command()
@click.argument("name")
@click.option("--to-snapshot", type=int, default=None)
@click.option("--to-timestamp", default=None, help="the state the table had at this moment (ISO-8601)")
@_errors
def rollback(name: str, to_snapshot, to_timestamp) -> None:
    """Make a snapshot current again (backwards, or forwards after a rollback if nothing was
    committed since: that would be discarded, so it is refused)."""
    from cs_platform.lakehouse.table_ops import rollback as rollback_table

    _echo(rollback_table(*_catalog_and_ref(name), to_snapshot=to_snapshot, to_timestamp=to_timestamp))


@table.command()
@click.argument("name")
@click.argument("tag_name")
@click.option("--snapshot", type=int, default=None, help="default: the current snapshot")
@click.option("--retain-days", type=int, default=None)
@click.option("--move", is_flag=True, help="move the tag if it names another snapshot (refused otherwise)")
@_errors
def tag(name: str, tag_name: str, snapshot, retain_days, move: bool) -> None:
    """Name a snapshot so that snapshot expiry keeps it; an existing tag moves only with --move."""
    from cs_platform.lakehouse.table_ops import tag as tag_snapshot

    _echo(tag_snapshot(*_catalog_and_ref(name), tag_name, snapshot, retain_days, move=move))


@table.command("add-column")
@click.argument("name")
@click.argument("column")
@click.argument("type_")
@click.option("--after", default=None)
@click.option("--first", is_flag=True)
@_errors
def add_column(name: str, column: str, type_: str, after, first: bool) -> None:
    """Add a column; rows written before read it as null."""
    from cs_platform.lakehouse.table_ops import add_column as add

    _echo(add(*_catalog_and_ref(name), column, type_, first=first, after=after))


@table.command("rename-column")
@click.argument("name")
@click.argument("column")
@click.argument("new_name")
@_errors
def rename_column(name: str, column: str, new_name: str) -> None:
    """Rename a column; data written before reads under the new name. Refused for the columns the
    stream writes (of events, events_quarantine and tickets)."""
    from cs_platform.lakehouse.table_ops import rename_column as rename

    _echo(rename(*_catalog_and_ref(name), column, new_name))


@table.command()
@click.argument("name")
@click.argument("column")
@click.argument("new_type")
@_errors
def widen(name: str, column: str, new_type: str) -> None:
    """Widen a column's type: int -> bigint, float -> double, decimal precision up."""
    from cs_platform.lakehouse.table_ops import widen_column

    _echo(widen_column(*_catalog_and_ref(name), column, new_type))


@table.command()
@click.argument("name")
@click.argument("column")
@click.option("--after", default=None)
@click.option("--first", is_flag=True)
@_errors
def reorder(name: str, column: str, after, first: bool) -> None:
    """Move a column first or after another."""
    from cs_platform.lakehouse.table_ops import reorder_column

    _echo(reorder_column(*_catalog_and_ref(name), column, first=first, after=after))
