"""`csp migrate-hive plan|run|verify|rollback TABLE` and `csp legacy seed`.

TABLE is a Hive table (`legacy.cs_ticket_history`, or `cs_ticket_history` in database `legacy`);
the target defaults to `lake.cs.<name without cs_>` and can be set with --target.
"""

from __future__ import annotations

import json

import click

from cs_platform.settings import load_settings


def _spark(settings):
    from cs_platform.adapters.spark import build_spark_session

    return build_spark_session(settings, app_name="cs-lakehouse-migrate", hive=True)


def _migration(table: str, target: str | None):
    from cs_platform.lakehouse.migration import HiveMigration, MigrationNames

    settings = load_settings()
    names = MigrationNames.parse(table, target)
    return HiveMigration(_spark(settings), settings, names)


def _echo(payload, as_json: bool, lines: list[str]) -> None:
    if as_json:
        click.echo(json.dumps(payload, indent=2, sort_keys=True, default=str))
    else:
        for line in lines:
            click.echo(line)


def _fail(exc: Exception) -> None:
    raise click.ClickException(str(exc)) from None


_table = click.argument("table")
_target = click.option("--target", default=None, help="Iceberg table (namespace.table or lake.namespace.table)")
_json = click.option("--json", "as_json", is_flag=True, help="machine-readable output")


@click.group("migrate-hive")
def migrate_hive() -> None:
    """Migrate a legacy Hive table to an Iceberg table in catalog `lake`, verified and reversible."""


@migrate_hive.command()
@_table
@_target
@_json
def plan(table: str, target: str | None, as_json: bool) -> None:
    """Print what `run` would do (dry run): strategy, reasons and every statement. Changes nothing."""
    from cs_platform.lakehouse.migration import MigrationError

    try:
        result = _migration(table, target).plan()
    except MigrationError as exc:
        _fail(exc)
    lines = [f"plan {result['source']} -> {result['target']}",
             f"strategy: {result['strategy']} ({result['reason']})"]
    for step in result["steps"]:
        lines.append(f"[{step['status']}] {step['step']}")
        lines.extend(f"    {action}" for action in step["actions"])
    _echo(result, as_json, lines)


@migrate_hive.command()
@_table
@_target
@_json
def run(table: str, target: str | None, as_json: bool) -> None:
    """Run the migration, resuming after the last completed step; nothing to do after success."""
    from cs_platform.lakehouse.migration import MigrationError

    try:
        result = _migration(table, target).run()
    except MigrationError as exc:
        _fail(exc)
    if not result.changed:
        lines = [f"{result.source} is already migrated to {result.target}: nothing to do"]
    else:
        lines = [f"migrated {result.source} -> {result.target}: ran {', '.join(result.executed)}"]
        if "preflight" in result.metadata:
            lines.append(f"strategy: {result.metadata['preflight']['strategy']}")
        if "verify" in result.metadata:
            v = result.metadata["verify"]
            lines.append(f"verified: {v['partitions']} partitions, {v['source_rows']} rows, "
                         f"{v['columns_checked']} column checksums equal")
    _echo({"source": result.source, "target": result.target, "executed": result.executed,
           "metadata": result.metadata}, as_json, lines)


@migrate_hive.command()
@_table
@_target
@_json
def verify(table: str, target: str | None, as_json: bool) -> None:
    """Compare the Hive table (or its backup) with the Iceberg table now; exit 1 on any difference."""
    from cs_platform.lakehouse.migration import MigrationError

    try:
        report = _migration(table, target).verification_report()
    except MigrationError as exc:
        _fail(exc)
    lines = [f"partitions: {report.partitions}, rows: {report.source_rows} in source, {report.target_rows} in target, "
             f"columns checked: {report.columns_checked}"]
    lines.extend(f"MISMATCH {m}" for m in report.mismatches)
    lines.append("verification passed" if report.ok else "verification FAILED")
    _echo(report.as_metadata(), as_json, lines)
    if not report.ok:
        raise SystemExit(1)


@migrate_hive.command()
@_table
@_target
@click.option("--force", is_flag=True,
              help="roll back even though the Iceberg table was written after the cutover (those writes are lost)")
def rollback(table: str, target: str | None, force: bool) -> None:
    """Restore the Hive table under its name and drop the Iceberg table the migration created.
    Refused when the Iceberg table has commits after the cutover, unless --force."""
    from cs_platform.lakehouse.migration import MigrationError

    try:
        done = _migration(table, target).rollback(force=force)
    except MigrationError as exc:
        _fail(exc)
    for line in done or ["nothing to roll back"]:
        click.echo(line)


@migrate_hive.command()
@_table
@_target
def finalize(table: str, target: str | None) -> None:
    """After the observation period: drop the Hive backup and let Iceberg own (and expire) the files. No way back."""
    from cs_platform.lakehouse.migration import MigrationError

    try:
        done = _migration(table, target).finalize()
    except MigrationError as exc:
        _fail(exc)
    for line in done or ["already finalized: nothing to do"]:
        click.echo(line)


@click.group()
def legacy() -> None:
    """The legacy Hive fixture (in the metastore of CSP_HIVE_METASTORE_URI; locally an embedded
    Derby one under CSP_HOME/hive)."""


@legacy.command()
@click.option("--database", default="legacy", show_default=True)
@click.option("--days", default=5, show_default=True, type=click.IntRange(1, 366))
@click.option("--tickets-per-day", default=20, show_default=True, type=click.IntRange(1, 100_000))
def seed(database: str, days: int, tickets_per_day: int) -> None:
    """Create the legacy Hive tables (Parquet ticket history by dt, text agent roster); idempotent."""
    from cs_platform.lakehouse.migration.legacy_seed import seed_legacy

    settings = load_settings()
    result = seed_legacy(_spark(settings), settings, database=database, days=days, tickets_per_day=tickets_per_day)
    for table, info in result.items():
        state = f"created with {info['rows']} rows" if info["created"] else "exists, left alone"
        click.echo(f"{database}.{table}: {state}")
