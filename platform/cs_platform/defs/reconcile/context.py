"""Turn resources + config into the lakehouse objects a check or repair needs (no logic here)."""


from cs_platform.adapters.documentdb import DocumentDBWriter
from cs_platform.adapters.lake_tables import LakeTables
from cs_platform.defs.reconcile.assets import ReconcileConfig
from cs_platform.logic.reconcile import Discrepancies


def lake_tables(config: ReconcileConfig) -> LakeTables:
    return LakeTables(namespace=config.namespace)


def landing_zone(settings, config: ReconcileConfig):
    from cs_platform.adapters.landing import LandingZone

    return LandingZone.from_settings(settings.with_overrides(landing_uri=config.landing_uri))


def documentdb_writer(documentdb, config: ReconcileConfig) -> DocumentDBWriter:
    """A writer on the shared resource's client (the resource owns and closes the client)."""
    return DocumentDBWriter(client_factory=documentdb.client, database=config.documentdb_database)


def documents_collection(documentdb, config: ReconcileConfig):
    writer = documentdb_writer(documentdb, config)
    return documentdb.client()[writer.database][writer.collection]


def check_metadata(found: Discrepancies, config: ReconcileConfig, hour_text: str) -> dict:
    """Counts and samples per kind, plus where it looked (the repair sensor replays this config)."""
    return {"hour": hour_text, "total_discrepancies": found.total, **found.as_metadata(),
            **{f"config_{k}": v for k, v in config.as_run_config().items() if v is not None}}
