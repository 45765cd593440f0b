"""`csp maintain [--table T]... [--dry-run]`: the daily maintenance, from the command line."""

from __future__ import annotations

import json

import click

from cs_platform.settings import load_settings


@click.command()
@click.option("--table", "tables", multiple=True, help="namespace.table (repeatable); default: the lake's cs tables")
@click.option("--dry-run", is_flag=True, help="probe and list orphans only: nothing is rewritten or deleted")
@click.option("--step", "steps", multiple=True, help="run only these steps (repeatable), in the fixed order")
@click.option("--orphan-age-days", type=float, default=None, help="override; never below 3")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per step")
def maintain(tables, dry_run, steps, orphan_age_days, as_json) -> None:
    """Compact, rewrite delete files, expire snapshots, rewrite manifests and remove orphans."""
    from cs_platform.adapters.catalog import pyiceberg_catalog
    from cs_platform.adapters.commit_retry import first_line
    from cs_platform.adapters.identifiers import InvalidIdentifier
    from cs_platform.lakehouse.maintenance import STEPS, MaintenanceError, plan
    from cs_platform.lakehouse.policy import KNOWN_TABLES, PolicyError
    from cs_platform.lakehouse.table_ops import TableOpError

    settings = load_settings()
    overrides = {} if orphan_age_days is None else {"orphan_age_days": orphan_age_days}
    unknown = set(steps) - set(STEPS)
    if unknown:
        raise click.UsageError(f"unknown step(s) {', '.join(sorted(unknown))}: choose from {', '.join(STEPS)}")
    try:
        targets = plan(pyiceberg_catalog(settings), tables or KNOWN_TABLES, dry_run, overrides)
    except (InvalidIdentifier, PolicyError, TableOpError) as exc:
        raise click.UsageError(str(exc)) from None
    if not targets:
        click.echo(f"no table to maintain: none of {', '.join(tables or KNOWN_TABLES)} exists")
        return
    from cs_platform.adapters.spark import build_spark_session

    spark = build_spark_session(settings, app_name="cs-lakehouse-maintain")
    catalog = pyiceberg_catalog(settings)
    conflicts, errors = [], 0

    def report(result) -> None:
        if result.status == "conflict":
            conflicts.append(result)
        if as_json:
            click.echo(json.dumps(result.as_dict(), default=str, sort_keys=True))
        else:
            b, a = result.before, result.after
            click.echo(f"{result.table:<28} {result.step:<30} {result.status:<8} files {b.get('data_files')}->"
                       f"{a.get('data_files')} snapshots {b.get('snapshots')}->{a.get('snapshots')} "
                       f"manifests {b.get('manifests')}->{a.get('manifests')} {result.reason}".rstrip())

    for target in targets:  # a table's error stops its later steps (they wait for a fix); the other tables go on
        try:
            target.maintainer(spark, catalog).run(tuple(steps) or STEPS, on_result=report)
        except MaintenanceError as exc:  # names its table and step
            errors += 1
            click.echo(f"Error: {exc}", err=True)
        except Exception as exc:  # anything else (an S3 AccessDenied listing orphans, ...): reported the same way
            errors += 1
            named = first_line(exc) if getattr(exc, "java_exception", None) else f"{type(exc).__name__}: {first_line(exc)}"
            click.echo(f"Error: {target.table}: {named}", err=True)
    if errors:
        raise click.ClickException(f"maintenance failed on {errors} table(s): see the errors above")
    if conflicts:
        raise click.ClickException("some steps gave up after commit conflicts; they will run again next time")
