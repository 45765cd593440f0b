"""The one Spark session factory: catalog `lake`, Iceberg SQL extensions, UTC.

`build_spark_session` serves the CLI and tests; `spark_resource` wraps the same configuration
in dagster-pyspark's resource for Dagster. Hive support (for the legacy tables: the metastore of
CSP_HIVE_METASTORE_URI, or an embedded Derby one under CSP_HOME) is opt-in, because Derby admits
one JVM at a time.
"""

from __future__ import annotations

import os
import sys
import uuid
from contextlib import contextmanager

from cs_platform.adapters.catalog import spark_catalog_conf
from cs_platform.adapters.jars import resolve_jars
from cs_platform.settings import Profile, Settings, SettingsError


def spark_conf(settings: Settings, app_name: str = "cs-lakehouse", hive: bool = False) -> dict[str, str]:
    """Every Spark setting of the platform, as a flat dict (also what Pipes/EMR jobs receive)."""
    conf = {
        "spark.app.name": app_name,
        "spark.master": settings.spark_master,
        "spark.driver.memory": settings.spark_driver_memory,
        "spark.sql.extensions": "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions",
        "spark.sql.session.timeZone": "UTC",
        "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
        "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
        "spark.sql.shuffle.partitions": str(settings.spark_shuffle_partitions),
        "spark.ui.enabled": "true" if settings.spark_ui else "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.streaming.stopGracefullyOnShutdown": "true",
        "spark.sql.adaptive.enabled": "true",
        # The platform caches only a batch's short-lived intermediates: compressing their columns
        # cost more CPU than it saved (1M lines: cache built in 6.7 s instead of 8.1 s).
        "spark.sql.inMemoryColumnarStorage.compressed": "false",
        "spark.local.dir": str(settings.home_dir / "spark-tmp"),
    }
    submitted = launched_by_spark_submit()  # EMR: the cluster's master, memory and jars stand
    if not submitted:
        conf.update(resolve_jars(settings).spark_conf())
    conf.update(spark_catalog_conf(settings))
    conf.update(_s3_conf(settings))
    if submitted:
        for key in SUBMIT_TIME_KEYS:
            conf.pop(key, None)
    if hive:
        conf.update(_hive_conf(settings))
    return conf


def _hive_conf(settings: Settings) -> dict[str, str]:
    """Hive support for the legacy tables: the metastore of CSP_HIVE_METASTORE_URI, or an embedded
    Derby one under CSP_HOME (local profile only: production tables live in a real metastore)."""
    conf = {
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.catalog.spark_catalog": "org.apache.iceberg.spark.SparkSessionCatalog",
        "spark.sql.catalog.spark_catalog.type": "hive",
    }
    if settings.hive_metastore_uri == "glue":
        conf["spark.hadoop.hive.metastore.client.factory.class"] = GLUE_HIVE_CLIENT_FACTORY
        return conf
    if settings.hive_metastore_uri is not None:
        conf["spark.hadoop.hive.metastore.uris"] = settings.hive_metastore_uri
        conf["spark.sql.catalog.spark_catalog.uri"] = settings.hive_metastore_uri
        return conf
    if settings.profile is Profile.PROD:
        raise SettingsError("CSP_HIVE_METASTORE_URI is required in the prod profile to reach the legacy Hive "
                            "tables: thrift://host:9083, or glue")
    hive_dir = settings.home_dir / "hive"
    conf.update({
        "spark.sql.warehouse.dir": (hive_dir / "warehouse").as_uri(),
        "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={hive_dir / 'metastore_db'};create=true",
        "spark.hadoop.datanucleus.schema.autoCreateAll": "true",
        "spark.hadoop.hive.metastore.schema.verification": "false",
        # Without this, `migrate` hangs ~180 s on the embedded metastore's lock.
        "spark.hadoop.iceberg.engine.hive.lock-enabled": "false",
        "spark.driver.extraJavaOptions": f"-Duser.timezone=UTC -Dderby.system.home={hive_dir}",
    })
    return conf


GLUE_HIVE_CLIENT_FACTORY = "com.amazonaws.glue.catalog.metastore.AWSGlueDataCatalogHiveClientFactory"

# Fixed when the driver JVM starts: spark-submit (EMR) decides them, a session builder cannot.
SUBMIT_TIME_KEYS = ("spark.master", "spark.driver.memory", "spark.jars", "spark.jars.packages")


def launched_by_spark_submit() -> bool:
    """True in a driver started by spark-submit (PySpark then joins its JVM instead of starting one)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def _s3_conf(settings: Settings) -> dict[str, str]:
    """`s3://` landing zones and checkpoints go through S3A (hadoop-aws, loaded with the Maven packages)."""
    if not any(uri.startswith("s3") for uri in (settings.landing, settings.checkpoint, settings.warehouse)):
        return {}
    conf = {
        "spark.hadoop.fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "spark.hadoop.fs.s3a.aws.credentials.provider": "com.amazonaws.auth.DefaultAWSCredentialsProviderChain",
    }
    if settings.s3_endpoint_url:
        conf["spark.hadoop.fs.s3a.endpoint"] = settings.s3_endpoint_url
        conf["spark.hadoop.fs.s3a.path.style.access"] = "true"
        conf["spark.sql.catalog.lake.s3.endpoint"] = settings.s3_endpoint_url
        conf["spark.sql.catalog.lake.s3.path-style-access"] = "true"
    return conf


def build_spark_session(settings: Settings, app_name: str = "cs-lakehouse", hive: bool = False):
    """Get or create this process's Spark session with the platform's configuration."""
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    (settings.home_dir / "spark-tmp").mkdir(parents=True, exist_ok=True)
    if hive:
        (settings.home_dir / "hive").mkdir(parents=True, exist_ok=True)
    builder = SparkSession.builder
    for key, value in spark_conf(settings, app_name, hive).items():
        builder = builder.config(key, value)
    if hive:
        builder = builder.enableHiveSupport()
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark


def ensure_namespace(spark, namespace: str = "cs") -> None:
    from cs_platform.adapters.identifiers import qualified

    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {qualified('lake', namespace)}")


class Persisted:
    """DataFrames cached for one unit of work (a micro-batch, a check), released together at its end:
    ``keep = Persisted()``, ``df = keep(df)``, and ``keep.release()`` in a ``finally``."""

    def __init__(self) -> None:
        self._frames: list = []

    def __call__(self, df):
        from pyspark import StorageLevel

        df = df.persist(StorageLevel.MEMORY_AND_DISK)
        self._frames.append(df)
        return df

    def release(self) -> None:
        for df in self._frames:
            df.unpersist()
        self._frames.clear()


@contextmanager
def temp_view(df, what: str):
    """``df`` as a temp view on its own session (in foreachBatch: the batch session) under a fresh
    name (``csp_<what>_<hex>``), dropped on exit: the source of one SQL statement."""
    name = f"csp_{what}_{uuid.uuid4().hex[:12]}"
    df.createOrReplaceTempView(name)
    try:
        yield name
    finally:
        df.sparkSession.catalog.dropTempView(name)
