"""Health of the lake tables as observations on their assets, from PyIceberg metadata only
(no JVM: a sensor must answer within 60 s)."""


import dagster as dg
from pydantic import Field

from cs_platform.defs.maintenance.jobs import lake_asset_key
from cs_platform.defs.resources import IcebergCatalogResource
from cs_platform.lakehouse.health import probe
from cs_platform.lakehouse.maintenance import existing_tables
from cs_platform.lakehouse.policy import KNOWN_TABLES, policy_for
from cs_platform.settings import SettingsError


def health_observations(catalog, tables) -> list[dg.AssetObservation]:
    return [
        dg.AssetObservation(asset_key=lake_asset_key(str(ref)), metadata=probe(catalog, ref, policy_for(str(ref))).metadata())
        for ref in existing_tables(catalog, tables)
    ]


@dg.sensor(name="lake_health_sensor", minimum_interval_seconds=900, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Every 15 minutes: files, small files, deletes, snapshots and manifests of each lake table.")
def lake_health_sensor(context: dg.SensorEvaluationContext, iceberg: IcebergCatalogResource):
    try:
        observations = health_observations(iceberg.catalog(), KNOWN_TABLES)
    except SettingsError as exc:  # e.g. local services down: say so instead of failing every tick
        return dg.SkipReason(str(exc))
    if not observations:
        return dg.SkipReason(f"none of {', '.join(KNOWN_TABLES)} exists yet")
    return dg.SensorResult(asset_events=observations)


class HealthConfig(dg.Config):
    tables: list[str] = Field(default=list(KNOWN_TABLES), description="namespace.table names in catalog lake")


@dg.op(description="Probe each table's health (PyIceberg) and record it as an observation.")
def observe_lake_health(context: dg.OpExecutionContext, config: HealthConfig, iceberg: IcebergCatalogResource) -> None:
    for observation in health_observations(iceberg.catalog(), config.tables):
        context.log_event(observation)


@dg.job(description="Observe lake table health now (the sensor does it every 15 minutes).", tags={"domain": "maintenance"})
def lake_health_job():
    observe_lake_health()
