"""The assets this domain checks and repairs are the stream domain's (not redefined here), and
the config every check and repair run shares."""

import dagster as dg

from cs_platform.defs.stream.assets import DOCUMENTS, EVENTS, QUARANTINE, STREAMED, TICKETS
from cs_platform.streaming.query import DEFAULT_QUERY

__all__ = ["DOCUMENTS", "EVENTS", "QUARANTINE", "STREAMED", "TICKETS", "ReconcileConfig", "RepairConfig"]


class ReconcileConfig(dg.Config):
    """Where to look: the lake namespace and DocumentDB database (tests use their own), and
    optionally a landing zone other than the settings' one."""

    namespace: str = "cs"
    documentdb_database: str = "cs"
    landing_uri: str | None = None

    def as_run_config(self) -> dict:
        return {"namespace": self.namespace, "documentdb_database": self.documentdb_database,
                "landing_uri": self.landing_uri}


class RepairConfig(ReconcileConfig):
    """A repair's config: where to look, and which streaming query writes these tables (its
    checkpoint's lock keeps the two from writing at once): the `cs_stream` run config's
    ``checkpoint_uri`` and ``query_name``. ``lock_wait_seconds``: how long to wait for an
    availableNow run holding it (0: fail at once)."""

    checkpoint_uri: str | None = None
    query_name: str = DEFAULT_QUERY
    lock_wait_seconds: float = 0
