"""Operator table operations as jobs with typed launchpad config: history, rollback, tag and
schema evolution. Bodies only call `cs_platform.lakehouse.table_ops`, which validates every name.
All are metadata reads or commits through PyIceberg: no Spark starts for them."""


import dagster as dg
from pydantic import Field

from cs_platform.defs.resources import IcebergCatalogResource
from cs_platform.lakehouse import table_ops
from cs_platform.lakehouse.table_ops import TableRef

_TABLE = Field(description="table, namespace.table or lake.namespace.table (default namespace cs)")
_TAGS = {"domain": "table_ops"}


def _markdown(rows: list[dict]) -> str:
    if not rows:
        return "(none)"
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(row[h]) for h in header) + " |" for row in rows]
    return "\n".join(lines)


class TableConfig(dg.Config):
    table: str = _TABLE


@dg.op
def show_table_history(context: dg.OpExecutionContext, config: TableConfig, iceberg: IcebergCatalogResource) -> None:
    ref = TableRef.parse(config.table)
    snapshots = table_ops.snapshots(iceberg.catalog(), ref)
    history = table_ops.history(iceberg.catalog(), ref)
    context.add_output_metadata({
        "snapshots": dg.MetadataValue.md(_markdown(snapshots)),
        "history": dg.MetadataValue.md(_markdown(history)),
        "refs": table_ops.refs(iceberg.catalog(), ref),
    })


class RollbackConfig(dg.Config):
    table: str = _TABLE
    to_snapshot_id: int | None = Field(
        default=None, description="snapshot to make current (back, or forward if nothing was committed since)")
    to_timestamp: str | None = Field(default=None, description="ISO-8601 UTC: the state the table had then")


@dg.op
def rollback_table(context: dg.OpExecutionContext, config: RollbackConfig, iceberg: IcebergCatalogResource) -> None:
    result = table_ops.rollback(iceberg.catalog(), TableRef.parse(config.table),
                                to_snapshot=config.to_snapshot_id, to_timestamp=config.to_timestamp)
    context.add_output_metadata({k: v for k, v in result.items() if v is not None})


class TagConfig(dg.Config):
    table: str = _TABLE
    tag: str = Field(description="tag name (letters, digits, underscores)")
    snapshot_id: int | None = Field(default=None, description="default: the current snapshot")
    retain_days: int | None = Field(default=None, description="keep the tagged snapshot this long; default forever")
    move: bool = Field(default=False, description="move the tag if it names another snapshot (refused otherwise)")


@dg.op
def tag_snapshot(context: dg.OpExecutionContext, config: TagConfig, iceberg: IcebergCatalogResource) -> None:
    context.add_output_metadata(table_ops.tag(iceberg.catalog(), TableRef.parse(config.table), config.tag,
                                              config.snapshot_id, config.retain_days, move=config.move))


class AddColumnConfig(dg.Config):
    table: str = _TABLE
    column: str
    type: str = Field(description="string, int, bigint, float, double, boolean, date, timestamp, binary or decimal(p,s)")
    after: str | None = None
    first: bool = False


@dg.op
def add_column(context: dg.OpExecutionContext, config: AddColumnConfig, iceberg: IcebergCatalogResource) -> None:
    context.add_output_metadata(table_ops.add_column(iceberg.catalog(), TableRef.parse(config.table), config.column,
                                                     config.type, first=config.first, after=config.after))


class RenameColumnConfig(dg.Config):
    table: str = _TABLE
    column: str
    new_name: str


@dg.op
def rename_column(context: dg.OpExecutionContext, config: RenameColumnConfig, iceberg: IcebergCatalogResource) -> None:
    context.add_output_metadata(table_ops.rename_column(iceberg.catalog(), TableRef.parse(config.table),
                                                        config.column, config.new_name))


class WidenColumnConfig(dg.Config):
    table: str = _TABLE
    column: str
    new_type: str = Field(description="int -> bigint, float -> double, decimal(p,s) -> decimal(P,s) with P > p")


@dg.op
def widen_column(context: dg.OpExecutionContext, config: WidenColumnConfig, iceberg: IcebergCatalogResource) -> None:
    context.add_output_metadata(table_ops.widen_column(iceberg.catalog(), TableRef.parse(config.table),
                                                       config.column, config.new_type))


class ReorderColumnConfig(dg.Config):
    table: str = _TABLE
    column: str
    after: str | None = None
    first: bool = False


@dg.op
def reorder_column(context: dg.OpExecutionContext, config: ReorderColumnConfig,
                   iceberg: IcebergCatalogResource) -> None:
    context.add_output_metadata(table_ops.reorder_column(iceberg.catalog(), TableRef.parse(config.table),
                                                         config.column, first=config.first, after=config.after))


def _job(name: str, op: dg.OpDefinition, description: str) -> dg.JobDefinition:
    @dg.job(name=name, description=description, tags=_TAGS)
    def _one_op_job():
        op()

    return _one_op_job


TABLE_JOBS = [
    _job("table_history", show_table_history, "Snapshots, snapshot log and refs of a table (PyIceberg)."),
    _job("table_rollback", rollback_table, "Make a snapshot current again, by id or by the moment it was current."),
    _job("table_tag", tag_snapshot, "Name a snapshot so that expiry keeps it (an existing tag moves only with move)."),
    _job("table_add_column", add_column, "Add a column (old rows read it as null)."),
    _job("table_rename_column", rename_column,
         "Rename a column (old data reads under the new name); not the stream's columns of events, quarantine, tickets."),
    _job("table_widen_column", widen_column, "Widen a column's type (int -> bigint, float -> double, decimal)."),
    _job("table_reorder_column", reorder_column, "Move a column first or after another."),
]
