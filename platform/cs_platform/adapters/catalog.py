"""The Iceberg catalog `lake`, shared by Spark (JDBC catalog) and PyIceberg (SqlCatalog).

PyIceberg is for fast metadata reads (no JVM): sensors, checks and health probes use it.
Both sides must name the catalog `lake`, or they will not see each other's tables.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from cs_platform.settings import Settings

CATALOG_NAME = "lake"


def jdbc_connection(settings: Settings) -> dict[str, str]:
    """JDBC URL, user and password of the catalog database, from its SQLAlchemy URL."""
    parts = urlsplit(settings.catalog)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or 5432
    database = parts.path.lstrip("/") or "postgres"
    query = f"?{parts.query}" if parts.query else ""
    password = settings.catalog_password.get_secret_value() if settings.catalog_password else unquote(parts.password or "")
    return {
        "url": f"jdbc:postgresql://{host}:{port}/{database}{query}",
        "user": unquote(parts.username or "postgres"),
        "password": password,
    }


def sqlalchemy_uri_with_password(settings: Settings) -> str:
    """The catalog URL with the secret password filled in (never log this)."""
    parts = urlsplit(settings.catalog)
    if settings.catalog_password is None or parts.password:
        return settings.catalog
    from urllib.parse import quote, urlunsplit

    netloc = f"{parts.username or 'postgres'}:{quote(settings.catalog_password.get_secret_value(), safe='')}@{parts.hostname}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def spark_catalog_conf(settings: Settings) -> dict[str, str]:
    """Spark configuration registering catalog `lake`."""
    prefix = f"spark.sql.catalog.{CATALOG_NAME}"
    conf = {
        prefix: "org.apache.iceberg.spark.SparkCatalog",
        f"{prefix}.warehouse": settings.warehouse,
        # Every read sees the latest commit: the stream's foreachBatch session, backfills, maintenance
        # and PyIceberg commit from other sessions and processes, and a cached table would hide them.
        f"{prefix}.cache-enabled": "false",
        # Several writers (stream, maintenance, backfill) commit to the same tables.
        f"{prefix}.table-default.commit.retry.num-retries": "10",
        f"{prefix}.table-default.commit.retry.min-wait-ms": "100",
        f"{prefix}.table-default.format-version": "2",
    }
    if settings.catalog_type == "glue":  # prod option; Glue cannot run here
        conf[f"{prefix}.catalog-impl"] = "org.apache.iceberg.aws.glue.GlueCatalog"
        conf[f"{prefix}.io-impl"] = "org.apache.iceberg.aws.s3.S3FileIO"
        return conf
    jdbc = jdbc_connection(settings)
    conf.update({
        f"{prefix}.catalog-impl": "org.apache.iceberg.jdbc.JdbcCatalog",
        f"{prefix}.uri": jdbc["url"],
        f"{prefix}.jdbc.user": jdbc["user"],
        f"{prefix}.jdbc.password": jdbc["password"],
    })
    if settings.warehouse.startswith("s3"):
        conf[f"{prefix}.io-impl"] = "org.apache.iceberg.aws.s3.S3FileIO"
    return conf


def pyiceberg_catalog(settings: Settings):
    """A PyIceberg catalog over the same database as Spark's `lake` (millisecond metadata reads)."""
    if settings.catalog_type == "glue":
        from pyiceberg.catalog.glue import GlueCatalog

        return GlueCatalog(CATALOG_NAME, **{"warehouse": settings.warehouse})
    from pyiceberg.catalog.sql import SqlCatalog

    return SqlCatalog(CATALOG_NAME, uri=sqlalchemy_uri_with_password(settings), warehouse=settings.warehouse)


def current_snapshot(spark, table: str) -> tuple[int | None, dict[str, str]]:
    """(snapshot id, summary) of an Iceberg table's current snapshot, or (None, {}) when it has none.

    Read through Iceberg's Java API on the session's catalog (one catalog lookup, ~30 ms); a query
    of the `snapshots` and `history` metadata tables runs a Spark job (~200 ms), and a stream batch
    reads it six times. `refresh` also brings the session's cached table up to the latest commit.
    """
    snapshot = _loaded(spark, table).currentSnapshot()
    if snapshot is None:
        return None, {}
    return snapshot.snapshotId(), dict(snapshot.summary())


def last_change(spark, table: str) -> tuple[int, int, str] | None:
    """(committed at, epoch ms; snapshot id; operation) of the table's latest snapshot that changed rows:
    the current one or its nearest remaining ancestor that is not a `replace` (a compaction changes none).
    None when there is none. Read like :func:`current_snapshot`."""
    loaded = _loaded(spark, table)
    snapshot = loaded.currentSnapshot()
    while snapshot is not None and snapshot.operation() == "replace":
        parent = snapshot.parentId()
        snapshot = None if parent is None else loaded.snapshot(parent)
    return None if snapshot is None else (snapshot.timestampMillis(), snapshot.snapshotId(), snapshot.operation())


def _loaded(spark, table: str):
    """The table through Iceberg's Java API, refreshed to its latest commit."""
    loaded = spark._jvm.org.apache.iceberg.spark.Spark3Util.loadIcebergTable(spark._jsparkSession, table)
    loaded.refresh()
    return loaded
