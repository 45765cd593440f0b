"""A small, fully known landing zone (three Firehose hours), processed into a test namespace and
DocumentDB database through the same batch logic as the stream."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

UTC = dt.timezone.utc
H9 = dt.datetime(2026, 11, 26, 9, tzinfo=UTC)
H10 = dt.datetime(2026, 11, 26, 10, tzinfo=UTC)
H11 = dt.datetime(2026, 11, 26, 11, tzinfo=UTC)


def event(event_id, event_type, ticket_id, seq, minute, **data):
    return json.dumps({"event_id": event_id, "event_type": event_type, "ticket_id": ticket_id, "seq": seq,
                       "occurred_at": f"2026-11-26T08:{minute:02d}:00.000Z", "data": data})


# file name -> (hour, lines); line numbers are 1-based positions in the file
FILES = {
    "a": (H9, [
        event("e01", "ticket_created", "T1", 1, 1, customer_id="c1", channel="chat"),
        event("e02", "ticket_created", "T2", 1, 2, customer_id="c2", channel="email", priority="high"),
        event("e03", "message_added", "T1", 2, 3, author="customer"),
    ]),
    "b": (H10, [
        event("e04", "agent_assigned", "T1", 3, 4, agent_id="a1"),
        "this is not json",
        event("e05", "message_added", "T1", 4, 5, author="agent", agent_id="a1"),
        event("e01", "ticket_created", "T1", 1, 1, customer_id="c1", channel="chat"),  # re-delivery from hour 9
        event("e06", "status_changed", "T2", 2, 6, status="solved"),
        json.dumps({"event_id": "e99", "event_type": "ticket_created"}),
    ]),
    "c": (H10, [
        event("e07", "ticket_created", "T3", 1, 7, customer_id="c3", channel="phone"),
        event("e08", "priority_changed", "T3", 2, 8, priority="urgent"),
        event("e09", "csat_submitted", "T2", 3, 9, csat_score=5),
        event("e10", "bogus_type", "T3", 3, 10),
    ]),
    "d": (H11, [
        event("e11", "status_changed", "T1", 5, 11, status="closed"),
    ]),
}


def write_landing(root: Path) -> dict[str, str]:
    """Write FILES in the Firehose layout (file `c` gzip-compressed); return name -> path."""
    paths = {}
    for index, (name, (hour, lines)) in enumerate(sorted(FILES.items())):
        directory = root / hour.strftime("%Y/%m/%d/%H")
        directory.mkdir(parents=True, exist_ok=True)
        stem = f"cs-events-1-{hour.strftime('%Y-%m-%d-%H')}-0{index}-00-{name}0000000-0000-0000-0000-000000000000"
        body = ("\n".join(lines) + "\n").encode()
        if name == "c":
            path = directory / (stem + ".gz")
            path.write_bytes(gzip.compress(body))
        else:
            path = directory / stem
            path.write_bytes(body)
        paths[name] = str(path)
    return paths


@dataclass
class Lake:
    """One isolated copy of the platform's stores: landing dir, lake namespace, DocumentDB database."""

    settings: object
    namespace: str
    database: str
    landing: object
    tables: object
    paths: dict[str, str] = field(default_factory=dict)

    def writer(self, client):
        from cs_platform.adapters.documentdb import DocumentDBWriter

        return DocumentDBWriter(client_factory=lambda: client, database=self.database)


@pytest.fixture(scope="module")
def lake(spark, settings, mongo_client, tmp_path_factory):
    """Processed once per module (Spark time is shared with other engineers): every test that
    corrupts it repairs it and asserts the full tables are back to their snapshot."""
    from cs_platform.adapters.landing import LandingZone
    from cs_platform.adapters.lake_tables import LakeTables
    from cs_platform.lakehouse.reconciliation import backfill_hours

    landing_dir = tmp_path_factory.mktemp("landing")
    paths = write_landing(landing_dir)
    local = settings.model_copy(update={"landing_uri": landing_dir.as_uri()})
    suffix = uuid.uuid4().hex[:8]
    namespace, database = f"recon_{suffix}", f"recondb_{suffix}"
    state = Lake(settings=local, namespace=namespace, database=database, landing=LandingZone.from_settings(local),
                 tables=LakeTables(namespace=namespace), paths=paths)
    backfill_hours(spark, state.tables, state.landing, state.writer(mongo_client), [H9, H10, H11])
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CSP_LANDING_URI", landing_dir.as_uri())
        yield state
    mongo_client.drop_database(database)


def source_file_of(spark, lake, event_id: str) -> str:
    """How the lake spells a raw file's location (Spark's `_metadata.file_path`)."""
    return spark.sql(f"SELECT source_file FROM {lake.tables.events} WHERE event_id = '{event_id}'").first()[0]


@dataclass
class Webhook:
    url: str
    received: list = field(default_factory=list)


@pytest.fixture
def webhook():
    """A real HTTP server on 127.0.0.1 collecting the JSON bodies of alerts."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    hook = Webhook(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server API)
            hook.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    hook.url = f"http://127.0.0.1:{server.server_port}/alerts/token-abc"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield hook
    server.shutdown()
    server.server_close()
