"""Every SQL statement of the migration, built in one place from validated names."""

from __future__ import annotations

from pyspark.sql.types import ArrayType, DataType, MapType, StructType

from cs_platform.adapters.identifiers import qualified, validate_identifier
from cs_platform.lakehouse.migration.names import SESSION_CATALOG, MigrationNames

SOURCE_PROPERTY = "csp.migration.source"
STRATEGY_PROPERTY = "csp.migration.strategy"
BACKUP_PROPERTY = "csp.migration.hive_backup"
MIGRATED_TO_PROPERTY = "csp.migrated_to"
# Hive 3+: when true, dropping an EXTERNAL table deletes its files too.
EXTERNAL_PURGE_PROPERTY = "external.table.purge"


def _literal(value: str) -> str:
    if "'" in value or "\\" in value:
        raise ValueError(f"unsafe SQL literal {value!r}")
    return f"'{value}'"


def ddl_type(data_type: DataType) -> str:
    """`data_type` as a type in Spark SQL DDL: `simpleString()` with every struct field name backquoted (a
    backtick in a name doubled), at any depth of struct, array and map. `simpleString()` leaves nested
    names bare: a dash, a dot, an inner space or a backtick (a Spark `USING parquet` table in the Hive
    metastore may have them) makes `struct<first-name:string>`, which does not parse, and a leading or
    trailing space is lost (`struct<city :string>` is a field `city`). Atomic types are `simpleString()`
    as they are: a type without structs renders exactly as before.

    Nullability and comments of nested fields are not rendered, as `simpleString()` did not: a Hive type
    has neither (every field read from Hive is nullable), and `create_target` gives none at the top level.
    """
    if isinstance(data_type, StructType):
        fields = ",".join(f"`{f.name.replace('`', '``')}`:{ddl_type(f.dataType)}" for f in data_type.fields)
        return f"struct<{fields}>"
    if isinstance(data_type, ArrayType):
        return f"array<{ddl_type(data_type.elementType)}>"
    if isinstance(data_type, MapType):
        return f"map<{ddl_type(data_type.keyType)},{ddl_type(data_type.valueType)}>"
    return data_type.simpleString()


def padded_field_names(data_type: DataType) -> list[str]:
    """Struct field names with a leading or trailing space, at any depth: Spark hands them to the Hive
    metastore trimmed, which a metastore may refuse on ALTER TABLE (see `HiveMigration.rename_refusal`)."""
    if isinstance(data_type, StructType):
        return [n for f in data_type.fields
                for n in ([f.name] if f.name != f.name.strip() else []) + padded_field_names(f.dataType)]
    if isinstance(data_type, ArrayType):
        return padded_field_names(data_type.elementType)
    if isinstance(data_type, MapType):
        return padded_field_names(data_type.keyType) + padded_field_names(data_type.valueType)
    return []


def create_target(names: MigrationNames, columns: list[tuple[str, str]], partition_columns: list[str],
                  properties: dict[str, str]) -> str:
    """`columns`: (name, type) with the type as :func:`ddl_type` renders it. (States recorded before it
    hold `simpleString()`: the same text for types without structs, the same type for plain nested names.)"""
    cols = ", ".join(f"`{validate_identifier(c)}` {t}" for c, t in columns)
    return f"CREATE TABLE {names.target} ({cols}) USING iceberg{_partitioned_by(partition_columns)}{_tblproperties(properties)}"


def ctas_target(names: MigrationNames, source_ref: str, partition_columns: list[str], properties: dict[str, str]) -> str:
    return (f"CREATE TABLE {names.target} USING iceberg{_partitioned_by(partition_columns)}{_tblproperties(properties)} "
            f"AS SELECT * FROM {source_ref}")


def add_files(names: MigrationNames) -> str:
    """CALL arguments must be literals: both names are validated identifiers, so quoting is safe."""
    target = _literal(f"{names.target_namespace}.{names.target_table}")
    source = _literal(f"{SESSION_CATALOG}.{names.source_db}.{names.source_table}")
    return f"CALL {qualified(names.target_catalog)}.system.add_files(table => {target}, source_table => {source})"


def rename_hive(names: MigrationNames, from_table: str, to_table: str) -> str:
    return (f"ALTER TABLE {qualified(SESSION_CATALOG, names.source_db, from_table)} "
            f"RENAME TO {qualified(names.source_db, to_table)}")


def set_properties(table_ref: str, properties: dict[str, str]) -> str:
    return f"ALTER TABLE {table_ref} SET TBLPROPERTIES ({_pairs(properties)})"


def unset_property(table_ref: str, key: str) -> str:
    return f"ALTER TABLE {table_ref} UNSET TBLPROPERTIES IF EXISTS ({_literal(key)})"


def drop_target(names: MigrationNames, purge: bool) -> str:
    return f"DROP TABLE IF EXISTS {names.target}" + (" PURGE" if purge else "")


def drop_hive_backup(names: MigrationNames) -> str:
    """The backup is EXTERNAL: dropping it removes metadata only, the files stay with Iceberg, provided
    its `external.table.purge` is not true (the migrator sets it to false first)."""
    return f"DROP TABLE IF EXISTS {names.backup}"


def create_namespace(names: MigrationNames) -> str:
    return f"CREATE NAMESPACE IF NOT EXISTS {qualified(names.target_catalog, names.target_namespace)}"


def _partitioned_by(partition_columns: list[str]) -> str:
    if not partition_columns:
        return ""
    return " PARTITIONED BY (" + ", ".join(f"`{validate_identifier(c)}`" for c in partition_columns) + ")"


def _pairs(properties: dict[str, str]) -> str:
    return ", ".join(f"{_literal(k)}={_literal(v)}" for k, v in properties.items())


def _tblproperties(properties: dict[str, str]) -> str:
    return f" TBLPROPERTIES ({_pairs(properties)})" if properties else ""
