"""Where Spark's extra jars come from: the one place that knows.

Two modes:
- Maven (``CSP_SPARK_PACKAGES`` set, or the prod profile): official coordinates through
  ``spark.jars.packages``. ``CSP_SPARK_PACKAGES=maven`` (or ``true``) means the default
  coordinates below; any value containing ``:`` is used verbatim as a comma-separated list.
- Offline (local default): the Iceberg runtime jar shipped by the pinned PyPI wheel
  ``snowpark-connect-deps-iceberg==1.0.2`` plus the PostgreSQL JDBC driver found on the machine.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

from cs_platform.settings import Profile, Settings, SettingsError

ICEBERG_VERSION = "1.10.2"
ICEBERG_RUNTIME = f"org.apache.iceberg:iceberg-spark-runtime-3.5_2.12:{ICEBERG_VERSION}"
ICEBERG_AWS_BUNDLE = f"org.apache.iceberg:iceberg-aws-bundle:{ICEBERG_VERSION}"
POSTGRES_JDBC = "org.postgresql:postgresql:42.7.4"
# Spark reads the landing zone and keeps checkpoints on S3 through S3A (Spark 3.5 ships Hadoop 3.3.4).
HADOOP_AWS = "org.apache.hadoop:hadoop-aws:3.3.4"
MAVEN_PACKAGES = (ICEBERG_RUNTIME, ICEBERG_AWS_BUNDLE, POSTGRES_JDBC, HADOOP_AWS)

_RUNTIME_JAR = f"iceberg-spark-runtime-3.5_2.12-{ICEBERG_VERSION}.jar"
_JDBC_CANDIDATES = (
    "/usr/share/java/postgresql.jar",
    "/usr/share/java/postgresql-*.jar",
)


class JarsError(RuntimeError):
    """A jar the Spark session needs is missing; the message says how to provision it."""


@dataclass(frozen=True)
class SparkJars:
    jars: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()

    def spark_conf(self) -> dict[str, str]:
        conf = {}
        if self.jars:
            conf["spark.jars"] = ",".join(self.jars)
        if self.packages:
            conf["spark.jars.packages"] = ",".join(self.packages)
        return conf


def iceberg_runtime_jar() -> Path:
    spec = find_spec("snowpark_connect_deps_iceberg")
    if spec is None or not spec.submodule_search_locations:
        raise JarsError(
            "the Iceberg runtime jar is missing: pip install snowpark-connect-deps-iceberg==1.0.2 "
            "(or set CSP_SPARK_PACKAGES=maven to download it from Maven)"
        )
    jar = Path(next(iter(spec.submodule_search_locations))) / "jars" / _RUNTIME_JAR
    if not jar.is_file():
        raise JarsError(f"{jar} is missing from snowpark-connect-deps-iceberg; reinstall version 1.0.2")
    return jar


def postgres_jdbc_jar() -> Path:
    override = os.environ.get("CSP_POSTGRES_JDBC_JAR")
    if override:  # a path that was given and is wrong is an error, not a reason to pick another jar
        if not Path(override).is_file():
            raise SettingsError(f"CSP_POSTGRES_JDBC_JAR: no such file {override!r}")
        return Path(override).resolve()
    candidates = []
    for pattern in _JDBC_CANDIDATES:
        candidates.extend(sorted(glob.glob(pattern)))
    for candidate in candidates:
        if Path(candidate).is_file():
            return Path(candidate).resolve()
    raise JarsError(
        "the PostgreSQL JDBC driver is missing: apt-get install libpostgresql-jdbc-java, "
        "or set CSP_POSTGRES_JDBC_JAR to a postgresql-*.jar, or CSP_SPARK_PACKAGES=maven"
    )


def resolve_jars(settings: Settings) -> SparkJars:
    """The jars or Maven packages this profile's Spark session loads."""
    requested = (settings.spark_packages or "").strip()
    if requested.lower() in {"", "0", "false", "offline"} and settings.profile is not Profile.PROD:
        return SparkJars(jars=(str(iceberg_runtime_jar()), str(postgres_jdbc_jar())))
    if requested.lower() in {"", "1", "true", "maven", "0", "false", "offline"}:
        return SparkJars(packages=MAVEN_PACKAGES)
    if ":" not in requested:
        raise SettingsError(
            f"CSP_SPARK_PACKAGES: expected 'maven' or comma-separated group:artifact:version coordinates, got {requested!r}"
        )
    return SparkJars(packages=tuple(p.strip() for p in requested.split(",") if p.strip()))


def provision(settings: Settings) -> SparkJars:
    """Check that every jar is present (used by `make` set-up); returns what Spark will load."""
    return resolve_jars(settings)
