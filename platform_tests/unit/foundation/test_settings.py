"""Settings: defaults under CSP_HOME, env overrides, fail-fast errors naming the variable, secrets hidden."""

import subprocess
import sys
from pathlib import Path

import pytest

from cs_platform.adapters.jars import resolve_jars, MAVEN_PACKAGES
from cs_platform.settings import Profile, SettingsError, load_settings, redact_uri


@pytest.fixture
def env(monkeypatch, tmp_path):
    for var in ("CSP_LANDING_URI", "CSP_WAREHOUSE_URI", "CSP_CHECKPOINT_URI", "CSP_CATALOG_URI",
                "CSP_DOCUMENTDB_URI", "CSP_PROFILE", "CSP_SPARK_PACKAGES", "CSP_DOCUMENTDB_TLS_CA_FILE",
                "CSP_HIVE_METASTORE_URI", "CSP_CATALOG_TYPE", "CSP_LANDING_HOURS_START"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CSP_HOME", str(tmp_path / "home"))
    return monkeypatch


def test_local_defaults_live_under_csp_home(env, tmp_path):
    settings = load_settings()
    home = (tmp_path / "home").resolve()
    assert settings.profile is Profile.LOCAL
    assert settings.landing == (home / "landing").as_uri()
    assert settings.warehouse == (home / "warehouse").as_uri()
    assert settings.checkpoint == (home / "checkpoints").as_uri()


def test_env_overrides_locations(env):
    env.setenv("CSP_LANDING_URI", "s3://raw-bucket/firehose/")
    env.setenv("CSP_CATALOG_URI", "postgresql+psycopg://lake@db.internal:5432/iceberg")
    settings = load_settings()
    assert settings.landing == "s3://raw-bucket/firehose"
    assert settings.catalog == "postgresql+psycopg://lake@db.internal:5432/iceberg"


def test_bad_uri_names_the_variable(env):
    env.setenv("CSP_WAREHOUSE_URI", "hdfs://namenode/warehouse")
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert str(err.value) == (
        "invalid settings: CSP_WAREHOUSE_URI: must be a file:// or s3:// URI, got 'hdfs://namenode/warehouse'"
    )
    env.setenv("CSP_WAREHOUSE_URI", "file://warehouse/w")  # a host: local paths would drop it
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert str(err.value) == ("invalid settings: CSP_WAREHOUSE_URI: a file:// URI needs an absolute path and no host "
                              "(file:///abs/path), got 'file://warehouse/w'")
    env.setenv("CSP_WAREHOUSE_URI", "s3:///w")
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert str(err.value) == "invalid settings: CSP_WAREHOUSE_URI: an s3:// URI needs a bucket (s3://bucket/prefix), got 's3:///w'"


def test_bad_number_names_the_variable(env):
    env.setenv("CSP_STREAM_TRIGGER_SECONDS", "soon")
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert str(err.value) == ("invalid settings: CSP_STREAM_TRIGGER_SECONDS: Input should be a valid integer, "
                              "unable to parse string as an integer")


def test_bad_profile_names_the_variable(env):
    env.setenv("CSP_PROFILE", "staging")
    with pytest.raises(SettingsError, match=r"^invalid settings: CSP_PROFILE: Input should be 'local' or 'prod'$"):
        load_settings()


def test_prod_requires_tls_to_documentdb(env):
    env.setenv("CSP_PROFILE", "prod")
    env.setenv("CSP_LANDING_URI", "s3://raw/firehose")
    env.setenv("CSP_WAREHOUSE_URI", "s3://lake/warehouse")
    env.setenv("CSP_CHECKPOINT_URI", "s3://lake/checkpoints")
    env.setenv("CSP_CATALOG_URI", "postgresql+psycopg://lake@rds:5432/iceberg")
    env.setenv("CSP_DOCUMENTDB_URI", "mongodb://docdb:27017/?replicaSet=rs0")
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert str(err.value) == (
        "invalid settings: CSP_DOCUMENTDB_TLS_CA_FILE is required in the prod profile (DocumentDB needs TLS)"
    )
    env.setenv("CSP_DOCUMENTDB_TLS_CA_FILE", "/etc/ssl/rds-global-bundle.pem")
    settings = load_settings()
    kwargs = settings.documentdb_client_kwargs()
    assert kwargs["retryWrites"] is False
    assert kwargs["tls"] is True and kwargs["tlsCAFile"] == "/etc/ssl/rds-global-bundle.pem"
    assert resolve_jars(settings).packages == MAVEN_PACKAGES


def test_prod_checkpoints_never_on_local_storage(env):
    env.setenv("CSP_PROFILE", "prod")
    for var, value in {"CSP_LANDING_URI": "s3://raw/f", "CSP_WAREHOUSE_URI": "s3://lake/w",
                       "CSP_CHECKPOINT_URI": "file:///mnt/hdfs/checkpoints",
                       "CSP_CATALOG_URI": "postgresql+psycopg://lake@rds/iceberg",
                       "CSP_DOCUMENTDB_URI": "mongodb://docdb:27017", "CSP_DOCUMENTDB_TLS_CA_FILE": "/ca.pem"}.items():
        env.setenv(var, value)
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert str(err.value) == ("invalid settings: CSP_CHECKPOINT_URI must be on S3 in the prod profile, "
                              "never on cluster storage")


def test_secrets_never_rendered(env):
    env.setenv("CSP_DOCUMENTDB_PASSWORD", "hunter2-secret")
    env.setenv("CSP_ALERT_WEBHOOK_URL", "https://hooks.example/T000/very-secret")
    settings = load_settings()
    assert "hunter2" not in repr(settings) and "very-secret" not in repr(settings)
    assert "hunter2" not in str(settings.model_dump())
    assert settings.documentdb_client_kwargs()["password"] == "hunter2-secret"


def test_password_in_documentdb_uri_is_refused_without_echoing_it(env):
    env.setenv("CSP_DOCUMENTDB_URI", "mongodb://app:s3cr3t@docdb:27017")
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert str(err.value) == (
        "invalid settings: CSP_DOCUMENTDB_URI: must not contain a password: set CSP_DOCUMENTDB_PASSWORD instead")


def test_public_locations_name_every_service_uri_known_or_null(env, tmp_path):
    env.setenv("CSP_DOCUMENTDB_URI", "mongodb://docdb.internal:27017/?retryWrites=false")
    env.setenv("CSP_CATALOG_URI", "postgresql+psycopg://lake:pw@db:5432/iceberg")
    locations = load_settings().public_locations()
    assert (locations["catalog_uri"], locations["documentdb_uri"]) == (
        "postgresql+psycopg://lake:***@db:5432/iceberg", "mongodb://docdb.internal:27017/?retryWrites=false")
    env.delenv("CSP_CATALOG_URI")  # local, never started: no port yet
    assert load_settings().public_locations()["catalog_uri"] is None
    env.setenv("CSP_CATALOG_TYPE", "glue")  # Glue has no SQL URL
    env.setenv("CSP_CATALOG_URI", "postgresql+psycopg://lake@db:5432/iceberg")
    assert load_settings().public_locations()["catalog_uri"] is None


def test_landing_hours_start_is_a_day(env):
    assert load_settings().landing_hours_start == "2026-01-01"
    env.setenv("CSP_LANDING_HOURS_START", "2024-03-01")
    assert load_settings().landing_hours_start == "2024-03-01"
    env.setenv("CSP_LANDING_HOURS_START", "March 2024")
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert str(err.value) == "invalid settings: CSP_LANDING_HOURS_START: must be a day, YYYY-MM-DD, got 'March 2024'"


def test_redact_uri():
    assert redact_uri("postgresql+psycopg://lake:pw@db:5432/iceberg") == "postgresql+psycopg://lake:***@db:5432/iceberg"
    assert redact_uri("mongodb://127.0.0.1:1/") == "mongodb://127.0.0.1:1/"


def test_spark_packages_setting(env):
    env.setenv("CSP_SPARK_PACKAGES", "maven")
    assert resolve_jars(load_settings()).packages == MAVEN_PACKAGES
    env.setenv("CSP_SPARK_PACKAGES", "org.apache.iceberg:iceberg-spark-runtime-3.5_2.12:1.10.0")
    assert resolve_jars(load_settings()).packages == ("org.apache.iceberg:iceberg-spark-runtime-3.5_2.12:1.10.0",)
    env.setenv("CSP_SPARK_PACKAGES", "yes please")
    with pytest.raises(SettingsError) as err:
        resolve_jars(load_settings())
    assert str(err.value) == ("CSP_SPARK_PACKAGES: expected 'maven' or comma-separated group:artifact:version "
                              "coordinates, got 'yes please'")
    env.delenv("CSP_SPARK_PACKAGES")
    jars = resolve_jars(load_settings()).jars
    assert Path(jars[0]).name == "iceberg-spark-runtime-3.5_2.12-1.10.2.jar"
    assert Path(jars[1]).name.startswith("postgresql")
    env.setenv("CSP_POSTGRES_JDBC_JAR", "/nowhere/postgresql.jar")  # given and wrong: an error, not another jar
    with pytest.raises(SettingsError) as err:
        resolve_jars(load_settings())
    assert str(err.value) == "CSP_POSTGRES_JDBC_JAR: no such file '/nowhere/postgresql.jar'"


def test_cli_reports_bad_setting_and_exits_2(env):
    env.setenv("CSP_CHECKPOINT_URI", "ftp://nope")
    result = subprocess.run([sys.executable, "-m", "cs_platform.cli", "services", "status"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: invalid settings: CSP_CHECKPOINT_URI: must be a file:// or s3:// URI, got 'ftp://nope'"
    )


def test_prod_spark_conf_reads_s3_through_s3a_with_maven_jars(env):
    from cs_platform.adapters.spark import spark_conf

    for var, value in {"CSP_PROFILE": "prod", "CSP_LANDING_URI": "s3://raw/firehose", "CSP_WAREHOUSE_URI": "s3://lake/w",
                       "CSP_CHECKPOINT_URI": "s3://lake/checkpoints", "CSP_CATALOG_PASSWORD": "pw-secret",
                       "CSP_CATALOG_URI": "postgresql+psycopg://lake@rds.internal:5432/iceberg",
                       "CSP_DOCUMENTDB_URI": "mongodb://docdb:27017", "CSP_DOCUMENTDB_TLS_CA_FILE": "/ca.pem"}.items():
        env.setenv(var, value)
    conf = spark_conf(load_settings())
    assert conf["spark.hadoop.fs.s3.impl"] == "org.apache.hadoop.fs.s3a.S3AFileSystem"
    assert "org.apache.hadoop:hadoop-aws:3.3.4" in conf["spark.jars.packages"].split(",")
    assert conf["spark.sql.catalog.lake.uri"] == "jdbc:postgresql://rds.internal:5432/iceberg"
    assert conf["spark.sql.catalog.lake.jdbc.user"] == "lake"
    assert conf["spark.sql.catalog.lake.jdbc.password"] == "pw-secret"
    assert conf["spark.sql.catalog.lake.io-impl"] == "org.apache.iceberg.aws.s3.S3FileIO"
    assert "spark.jars" not in conf


_PROD = {"CSP_PROFILE": "prod", "CSP_LANDING_URI": "s3://raw/firehose", "CSP_WAREHOUSE_URI": "s3://lake/w",
         "CSP_CHECKPOINT_URI": "s3://lake/checkpoints", "CSP_CATALOG_URI": "postgresql+psycopg://lake@rds/iceberg",
         "CSP_DOCUMENTDB_URI": "mongodb://docdb:27017", "CSP_DOCUMENTDB_TLS_CA_FILE": "/ca.pem"}


def test_the_legacy_hive_metastore_is_embedded_locally_and_named_in_prod(env, tmp_path):
    from cs_platform.adapters.spark import spark_conf

    env.setenv("CSP_CATALOG_URI", "postgresql+psycopg://lake@127.0.0.1:5432/iceberg")
    local = spark_conf(load_settings(), hive=True)
    assert local["spark.hadoop.javax.jdo.option.ConnectionURL"] == (
        f"jdbc:derby:;databaseName={tmp_path / 'home' / 'hive' / 'metastore_db'};create=true")
    assert local["spark.sql.catalog.spark_catalog.type"] == "hive"
    for var, value in _PROD.items():
        env.setenv(var, value)
    with pytest.raises(SettingsError) as missing:
        spark_conf(load_settings(), hive=True)
    assert str(missing.value) == ("CSP_HIVE_METASTORE_URI is required in the prod profile to reach the legacy Hive "
                                  "tables: thrift://host:9083, or glue")
    assert "spark.sql.catalogImplementation" not in spark_conf(load_settings())  # only migrations need Hive

    env.setenv("CSP_HIVE_METASTORE_URI", "thrift://metastore.internal:9083")
    thrift = spark_conf(load_settings(), hive=True)
    assert (thrift["spark.hadoop.hive.metastore.uris"], thrift["spark.sql.catalog.spark_catalog.uri"]) == (
        "thrift://metastore.internal:9083", "thrift://metastore.internal:9083")
    assert not any("derby" in key or "jdo" in key for key in thrift)
    env.setenv("CSP_HIVE_METASTORE_URI", "glue")
    assert spark_conf(load_settings(), hive=True)["spark.hadoop.hive.metastore.client.factory.class"] == (
        "com.amazonaws.glue.catalog.metastore.AWSGlueDataCatalogHiveClientFactory")
    env.setenv("CSP_HIVE_METASTORE_URI", "metastore:9083")
    with pytest.raises(SettingsError) as bad:
        load_settings()
    assert str(bad.value) == (
        "invalid settings: CSP_HIVE_METASTORE_URI: must be thrift://host:port or glue, got 'metastore:9083'")


def test_an_empty_variable_is_an_unset_one(env):
    env.setenv("CSP_LANDING_URI", "")
    env.setenv("CSP_COMPUTE", "")
    settings = load_settings()
    assert (settings.landing_uri, settings.compute) == (None, "local")
    env.setenv("CSP_PROFILE", "prod")
    with pytest.raises(SettingsError, match=r"^invalid settings: CSP_LANDING_URI is required in the prod profile$"):
        load_settings()


def test_overrides_are_validated_like_the_environment(env):
    """A run config's location gets the checks of its CSP_* variable; model_copy would skip them."""
    settings = load_settings()
    located = settings.with_overrides(landing_uri="s3://raw/firehose/", checkpoint_uri=None)
    assert (located.landing, located.checkpoint) == ("s3://raw/firehose", settings.checkpoint)
    assert settings.with_overrides(landing_uri="", checkpoint_uri=None) is settings
    with pytest.raises(SettingsError) as err:
        settings.with_overrides(landing_uri="/data/landing")
    assert str(err.value) == "invalid settings: CSP_LANDING_URI: must be a file:// or s3:// URI, got '/data/landing'"
    for var, value in {"CSP_PROFILE": "prod", "CSP_LANDING_URI": "s3://raw/f", "CSP_WAREHOUSE_URI": "s3://lake/w",
                       "CSP_CHECKPOINT_URI": "s3://lake/c", "CSP_CATALOG_URI": "postgresql+psycopg://lake@rds/iceberg",
                       "CSP_DOCUMENTDB_URI": "mongodb://docdb:27017", "CSP_DOCUMENTDB_TLS_CA_FILE": "/ca.pem",
                       "CSP_DOCUMENTDB_PASSWORD": "pw-secret"}.items():
        env.setenv(var, value)
    prod = load_settings()
    with pytest.raises(SettingsError) as err:
        prod.with_overrides(checkpoint_uri="file:///mnt/hdfs/checkpoints")
    assert str(err.value) == (
        "invalid settings: CSP_CHECKPOINT_URI must be on S3 in the prod profile, never on cluster storage")
    moved = prod.with_overrides(checkpoint_uri="s3://lake/rehearsal")
    assert (moved.checkpoint, moved.profile, moved.documentdb_client_kwargs()["password"]) == (
        "s3://lake/rehearsal", Profile.PROD, "pw-secret")
