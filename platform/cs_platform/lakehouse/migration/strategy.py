"""Preflight facts of a Hive table and the migration strategy they call for.

Pure rules, no Spark: the strategy follows from format, how the metastore stores the table, bucketing,
table type and where the target lives.
- in-place `migrate` replaces the Hive table by an Iceberg table of the same name, so it only works
  when the target is in the session catalog; our targets live in `lake` (JDBC), so it is never chosen
  there, and the plan says why.
- `add_files` (snapshot + add files): create the Iceberg table and adopt the existing Parquet/ORC/Avro
  files in place, no copy. Only for EXTERNAL tables: renaming a MANAGED Hive table at cutover moves its
  directory, which would pull the files from under the Iceberg table. (`CALL lake.system.snapshot`
  was tried: it resolves its destination in the session catalog, `Namespace does not exist`.)
- `ctas_rewrite`: rewrite the rows with CREATE TABLE AS SELECT, for text/CSV/JSON tables (Iceberg cannot
  read them), bucketed tables (Hive bucketing has no Iceberg equivalent for adopted files), managed tables,
  and Spark datasource tables kept in Spark's own metastore format: Spark stores a `USING parquet` table so
  when Hive cannot represent its schema (a column or nested field name with a dash, a dot, an inner space or
  a backtick); the metastore then declares text storage (LazySimpleSerDe), which is what Iceberg's add_files
  and migrate read (`Unknown partition format: LazySimpleSerDe`), not the provider.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

IN_PLACE_MIGRATE = "in_place_migrate"
ADD_FILES = "add_files"
CTAS_REWRITE = "ctas_rewrite"

ADOPTABLE_FORMATS = ("parquet", "orc", "avro")


@dataclass(frozen=True)
class TableFacts:
    """What preflight learned about the Hive table."""

    format: str  # of the data files: the provider's for a Spark datasource table
    table_type: str  # EXTERNAL | MANAGED
    partition_columns: tuple[str, ...]
    bucket_columns: tuple[str, ...] = ()
    num_buckets: int = 0
    location: str = ""
    size_bytes: int = 0
    file_count: int = 0
    partition_count: int = 0
    columns: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    # The format the metastore's InputFormat and SerDe declare, which Iceberg reads; "" in the facts of
    # states recorded before it was collected (their strategy was chosen then).
    storage_format: str = ""

    @property
    def kept_in_sparks_format(self) -> bool:
        """A Spark datasource table the metastore declares another storage for (Spark's own format, used
        when Hive cannot represent its schema): the metastore holds no usable column types of it."""
        return bool(self.storage_format) and self.storage_format != self.format

    def as_dict(self) -> dict:
        data = asdict(self)
        data["partition_columns"] = list(self.partition_columns)
        data["bucket_columns"] = list(self.bucket_columns)
        data["columns"] = [list(c) for c in self.columns]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "TableFacts":
        return cls(**{
            **data,
            "partition_columns": tuple(data["partition_columns"]),
            "bucket_columns": tuple(data["bucket_columns"]),
            "columns": tuple(tuple(c) for c in data["columns"]),
        })


@dataclass(frozen=True)
class Strategy:
    name: str
    reason: str


def file_format(input_format: str, serde: str, provider: str = "hive") -> str:
    """parquet | orc | avro | text | csv | json | other, from the Hive InputFormat and SerDe class names and
    the provider of a Spark datasource table. Without the provider: the format the metastore declares."""
    text = f"{input_format} {serde} {provider}".lower()
    for fmt in ("parquet", "orc", "avro"):
        if fmt in text:
            return fmt
    if "opencsvserde" in text or provider.lower() == "csv":
        return "csv"
    if "json" in text:
        return "json"
    if "textinputformat" in text or "lazysimpleserde" in text:
        return "text"
    return "other"


def choose_strategy(facts: TableFacts, target_catalog: str, session_catalog: str = "spark_catalog") -> Strategy:
    """The cheapest strategy that is safe for this table (see the module docstring)."""
    if facts.bucket_columns:
        return Strategy(CTAS_REWRITE, f"bucketed by {', '.join(facts.bucket_columns)} ({facts.num_buckets} buckets): "
                                      "Hive bucketing cannot be adopted, rows are rewritten")
    if facts.format not in ADOPTABLE_FORMATS:
        return Strategy(CTAS_REWRITE, f"{facts.format} files cannot be read by Iceberg: rows are rewritten as Parquet")
    if facts.kept_in_sparks_format:
        return Strategy(CTAS_REWRITE, f"{facts.format} table kept in Spark's own metastore format (the metastore "
                                      f"declares {facts.storage_format} storage, as Spark does when Hive cannot "
                                      "represent its schema, e.g. a field name with a dash or a dot): Iceberg reads "
                                      "what the metastore declares and cannot adopt its files, rows are rewritten")
    if target_catalog == session_catalog:
        return Strategy(IN_PLACE_MIGRATE, f"{facts.format} table and target in the session catalog: migrated in place")
    if facts.table_type != "EXTERNAL":
        return Strategy(CTAS_REWRITE, f"{facts.table_type.lower()} table: the cutover rename would move its files, "
                                      "so rows are rewritten instead of adopted")
    return Strategy(ADD_FILES, f"external {facts.format} table, target in catalog {target_catalog}: in-place migrate "
                               "only works within the session catalog, so the files are adopted with add_files (no copy)")
