"""Typed settings, one object per profile (local | prod), from ``CSP_*`` environment variables.

Every location has a default under ``CSP_HOME`` in the local profile, so two runs with different
homes never touch each other's data. The prod profile has no defaults for locations: a missing
one fails at start-up, naming the variable. Secrets are ``SecretStr`` and are never rendered.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable
from enum import Enum
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Profile(str, Enum):
    LOCAL = "local"
    PROD = "prod"


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names the environment variable."""


_URI_SCHEMES = {"file", "s3", "s3a"}
EMR_SERVERLESS = "emr-serverless"
COMPUTES = ("local", EMR_SERVERLESS)
SECRET_VARIABLES = frozenset({"CSP_CATALOG_PASSWORD", "CSP_DOCUMENTDB_PASSWORD", "CSP_ALERT_WEBHOOK_URL"})


# a local service's data directory under <CSP_HOME>/services: its process names it on its command line
LOCAL_SERVICE_DIRS = {"catalog": "postgres", "documentdb": "secantus"}


def serves_data_dir(pid: int | None, data_dir: Path) -> bool:
    """Whether process ``pid`` is alive and serves ``data_dir`` (it is on its command line): a pid
    remembered from an earlier boot may belong to anything now, another home's server included."""
    if not pid:
        return False
    try:
        args = Path(f"/proc/{int(pid)}/cmdline").read_bytes().split(b"\0")
        with open(f"/proc/{int(pid)}/stat") as stat:  # a zombie child of ours is not alive
            if stat.read().rsplit(")", 1)[-1].split()[0] == "Z":
                return False
    except (FileNotFoundError, ProcessLookupError):
        return False
    except OSError:  # no /proc (not Linux): alive is all we can tell
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return True
    return os.fsencode(str(data_dir)) in args


def _env_name(field: str) -> str:
    return "CSP_" + field.upper()


class Settings(BaseSettings):
    """All knobs of the platform. Read with :func:`load_settings`, which turns errors into
    :class:`SettingsError` naming the offending ``CSP_*`` variable."""

    # An empty variable is an unset one (deployment templates pass declared-but-unset names as "").
    model_config = SettingsConfigDict(env_prefix="CSP_", extra="ignore", frozen=True, env_ignore_empty=True)

    profile: Profile = Profile.LOCAL
    home: Path = Path(".csp")

    landing_uri: str | None = None
    warehouse_uri: str | None = None
    checkpoint_uri: str | None = None
    catalog_uri: str | None = None
    documentdb_uri: str | None = None

    s3_endpoint_url: str | None = None  # moto server in tests; unset on AWS

    catalog_type: str = "jdbc"
    # The legacy tables' Hive metastore (migration only): unset = an embedded Derby one under
    # CSP_HOME (local); `thrift://host:9083`; or `glue` (the AWS Glue Data Catalog, as on EMR).
    hive_metastore_uri: str | None = None
    catalog_password: SecretStr | None = None
    documentdb_password: SecretStr | None = None
    documentdb_tls_ca_file: Path | None = None
    alert_webhook_url: SecretStr | None = None

    spark_master: str = "local[*]"
    spark_driver_memory: str = "4g"
    spark_shuffle_partitions: int = Field(default=8, ge=1, le=10000)
    spark_ui: bool = False
    spark_packages: str | None = None

    # Where Dagster's Spark jobs run: in the Dagster process (`local`), or on EMR Serverless through
    # dagster-aws Pipes (`emr-serverless`: the packaged entry points under CSP_EMR_CODE_URI).
    compute: str = "local"
    emr_application_id: str | None = None
    emr_execution_role_arn: str | None = None
    emr_code_uri: str | None = None
    emr_log_group: str = "/aws/emr-serverless"
    emr_spark_submit_parameters: str = ""

    stream_trigger_seconds: int = Field(default=10, ge=1, le=3600)
    stream_max_files_per_trigger: int = Field(default=1000, ge=1)
    quarantine_rate_threshold: float = Field(default=0.05, ge=0.0, le=1.0)
    # The first day of the hourly partitions in Dagster (the archive's first landing day, UTC).
    landing_hours_start: str = "2026-01-01"

    @field_validator("landing_uri", "warehouse_uri", "checkpoint_uri")
    @classmethod
    def _storage_uri(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in _URI_SCHEMES:
            raise ValueError(f"must be a file:// or s3:// URI, got {value!r}")
        # file://data/x names host "data", which local paths would drop: /x, shared by every home
        if parts.scheme == "file" and (parts.netloc or not parts.path.startswith("/")):
            raise ValueError(f"a file:// URI needs an absolute path and no host (file:///abs/path), got {value!r}")
        if parts.scheme != "file" and not parts.netloc:
            raise ValueError(f"an s3:// URI needs a bucket (s3://bucket/prefix), got {value!r}")
        return value.rstrip("/")

    @field_validator("landing_hours_start")
    @classmethod
    def _start_day(cls, value: str) -> str:
        try:
            return dt.date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            raise ValueError(f"must be a day, YYYY-MM-DD, got {value!r}") from None

    @field_validator("catalog_type")
    @classmethod
    def _catalog_type(cls, value: str) -> str:
        if value not in {"jdbc", "glue"}:
            raise ValueError(f"must be 'jdbc' or 'glue', got {value!r}")
        return value

    @field_validator("hive_metastore_uri")
    @classmethod
    def _hive_metastore_uri(cls, value: str | None) -> str | None:
        if value is None or value == "glue":
            return value
        parts = urlsplit(value)
        if parts.scheme != "thrift" or not parts.hostname:
            raise ValueError(f"must be thrift://host:port or glue, got {value!r}")
        return value

    @field_validator("compute")
    @classmethod
    def _compute(cls, value: str) -> str:
        if value not in COMPUTES:
            raise ValueError(f"must be one of {', '.join(COMPUTES)}, got {value!r}")
        return value

    @field_validator("emr_code_uri")
    @classmethod
    def _code_uri(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme != "s3":
            raise ValueError(f"must be an s3:// URI (EMR Serverless reads the entry points from S3), got {value!r}")
        return value.rstrip("/") if value else value

    @field_validator("catalog_uri")
    @classmethod
    def _catalog_uri(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("postgresql"):
            raise ValueError(
                f"must be an SQLAlchemy PostgreSQL URL (postgresql+psycopg://user@host:port/db), got {redact_uri(value)!r}"
            )
        return value

    @field_validator("documentdb_uri")
    @classmethod
    def _documentdb_uri(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("mongodb://"):
            raise ValueError(f"must be a mongodb:// URI, got {redact_uri(value)!r}")
        if value is not None and urlsplit(value).password:
            raise ValueError("must not contain a password: set CSP_DOCUMENTDB_PASSWORD instead")
        return value

    @model_validator(mode="after")
    def _emr_requirements(self) -> "Settings":
        if self.compute == EMR_SERVERLESS:
            for field in ("emr_application_id", "emr_execution_role_arn", "emr_code_uri"):
                if getattr(self, field) is None:
                    raise ValueError(f"{_env_name(field)} is required with CSP_COMPUTE={EMR_SERVERLESS}")
        return self

    @model_validator(mode="after")
    def _prod_requirements(self) -> "Settings":
        if self.profile is Profile.PROD:
            for field in ("landing_uri", "warehouse_uri", "checkpoint_uri", "documentdb_uri"):
                if getattr(self, field) is None:
                    raise ValueError(f"{_env_name(field)} is required in the prod profile")
            if self.catalog_type == "jdbc" and self.catalog_uri is None:
                raise ValueError("CSP_CATALOG_URI is required in the prod profile with CSP_CATALOG_TYPE=jdbc")
            if self.documentdb_tls_ca_file is None:
                raise ValueError("CSP_DOCUMENTDB_TLS_CA_FILE is required in the prod profile (DocumentDB needs TLS)")
            if self.checkpoint_uri and urlsplit(self.checkpoint_uri).scheme == "file":
                raise ValueError("CSP_CHECKPOINT_URI must be on S3 in the prod profile, never on cluster storage")
        return self

    # ---- resolved locations -------------------------------------------------------------

    @cached_property
    def home_dir(self) -> Path:
        return self.home.expanduser().resolve()

    def _under_home(self, name: str) -> str:
        return (self.home_dir / name).as_uri()

    @property
    def landing(self) -> str:
        return self.landing_uri or self._under_home("landing")

    @property
    def warehouse(self) -> str:
        return self.warehouse_uri or self._under_home("warehouse")

    @property
    def checkpoint(self) -> str:
        return self.checkpoint_uri or self._under_home("checkpoints")

    @property
    def services_dir(self) -> Path:
        return self.home_dir / "services"

    def _local_service_port(self, service: str, running: bool = True) -> int:
        """The port this home's local service was given; with ``running``, only while this home's
        own server is alive: another home may have been given the port of a stopped one."""
        state_file = self.services_dir / "state.json"
        try:
            entry = json.loads(state_file.read_text())[service]
            port = int(entry["port"])
        except (FileNotFoundError, KeyError, ValueError) as exc:
            raise self._not_running(service) from exc
        if running and not serves_data_dir(entry.get("pid"), self.services_dir / LOCAL_SERVICE_DIRS[service]):
            raise self._not_running(service)
        return port

    def _not_running(self, service: str) -> SettingsError:
        return SettingsError(f"local {service} is not running for CSP_HOME={self.home_dir}: run `csp services up` "
                             f"(or set {_env_name(service + '_uri')})")

    def _catalog_location(self, running: bool = True) -> str:
        if self.catalog_uri:
            return self.catalog_uri
        return f"postgresql+psycopg://postgres@127.0.0.1:{self._local_service_port('catalog', running)}/iceberg"

    def _documentdb_location(self, running: bool = True) -> str:
        if self.documentdb_uri:
            return self.documentdb_uri
        port = self._local_service_port("documentdb", running)
        return f"mongodb://127.0.0.1:{port}/?directConnection=true&retryWrites=false"

    @property
    def catalog(self) -> str:
        """SQLAlchemy URL of the catalog database, without password."""
        return self._catalog_location()

    @property
    def documentdb(self) -> str:
        """MongoDB URI of the DocumentDB projection, without password."""
        return self._documentdb_location()

    def documentdb_client_kwargs(self) -> dict[str, Any]:
        """Connection options that work on Amazon DocumentDB (no retryable writes, TLS in prod)."""
        kwargs: dict[str, Any] = {"retryWrites": False, "serverSelectionTimeoutMS": 10_000}
        if self.documentdb_password is not None:
            kwargs["password"] = self.documentdb_password.get_secret_value()
        if self.documentdb_tls_ca_file is not None:
            kwargs.update(tls=True, tlsCAFile=str(self.documentdb_tls_ca_file))
        return kwargs

    def public_locations(self) -> dict[str, str | None]:
        """What `csp services status --json` prints: every location, secrets excluded.

        The keys are always there. A service URI is the configured one, else where the local service
        listens (its port is kept across `down` and `up`: the services' own `running` says whether
        it is up now); null when no local service was ever started for it, or for a Glue catalog
        (no SQL URL)."""
        return {
            "profile": self.profile.value,
            "home": str(self.home_dir),
            "landing_uri": self.landing,
            "warehouse_uri": self.warehouse,
            "checkpoint_uri": self.checkpoint,
            "catalog_uri": None if self.catalog_type == "glue" else _known(lambda: self._catalog_location(running=False)),
            "documentdb_uri": _known(lambda: self._documentdb_location(running=False)),
        }

    def with_overrides(self, **overrides: Any) -> "Settings":
        """These settings with some replaced, validated as the environment is (``model_copy`` is
        not): a run config's location gets the same checks as ``CSP_*``. None or empty: no override."""
        given = _given(overrides)
        if not given:
            return self
        try:
            return type(self).model_validate({**self.model_dump(), **given})
        except ValidationError as exc:
            raise _settings_error(exc) from None

    def __repr_args__(self):  # keep secrets out of reprs and logs
        for key, value in super().__repr_args__():
            yield key, ("**********" if isinstance(value, SecretStr) and value is not None else value)


def redact_uri(uri: str) -> str:
    """Replace a password in a URI by ``***`` so it can be logged or shown."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    user = quote(parts.username or "", safe="")
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _known(uri: Callable[[], str]) -> str | None:
    """The service's URI, redacted, or None when no local service was ever started for it."""
    try:
        return redact_uri(uri())
    except SettingsError:
        return None


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment; fail fast with the name of the bad variable.

    An override that is None or empty is no override (as an empty variable is an unset one), so
    optional command-line options can be passed as they are."""
    try:
        return Settings(**_given(overrides))
    except ValidationError as exc:
        raise _settings_error(exc) from None


def _given(overrides: dict[str, Any]) -> dict[str, Any]:
    """The overrides that override: None or empty is no override (an empty variable is an unset one)."""
    return {k: v for k, v in overrides.items() if v is not None and v != ""}


def _settings_error(exc: ValidationError) -> SettingsError:
    """One message naming every bad ``CSP_*`` variable."""
    problems = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"] if part != "__root__"]
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"{_env_name(loc[0])}: {message}" if loc else message)
    return SettingsError("invalid settings: " + "; ".join(problems))


def env_snapshot() -> dict[str, str]:
    """The CSP_* variables of this process, secrets masked (for diagnostics)."""
    return {k: ("***" if k in SECRET_VARIABLES else v) for k, v in os.environ.items() if k.startswith("CSP_")}
