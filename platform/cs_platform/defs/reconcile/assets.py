"""The assets this domain checks and repairs are the stream domain's (not redefined here), and
the config every check and repair run shares."""

import dagster as dg

from cs_platform.defs.stream.assets import DOCUMENTS, EVENTS, QUARANTINE, STREAMED, TICKETS

__all__ = ["DOCUMENTS", "EVENTS", "QUARANTINE", "STREAMED", "TICKETS", "ReconcileConfig"]


class ReconcileConfig(dg.Config):
    """Where to look: the lake namespace and DocumentDB database (tests use their own), and
    optionally a landing zone other than the settings' one."""

    namespace: str = "cs"
    documentdb_database: str = "cs"
    landing_uri: str | None = None

    def as_run_config(self) -> dict:
        return {"namespace": self.namespace, "documentdb_database": self.documentdb_database,
                "landing_uri": self.landing_uri}
