"""The simulator is deterministic, realistic, and its manifest says exactly what it produced."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections import Counter, defaultdict

import pytest

from cs_platform.logic.firehose import landing_hour_of_key, object_key
from cs_platform.logic.simulator import MALFORMED_REASONS, SimulationConfig, simulate

UTC = dt.timezone.utc
START = dt.datetime(2026, 11, 26, 8, tzinfo=UTC)


def config(**overrides) -> SimulationConfig:
    params = dict(events=1500, hours=3, start=START, seed=11, gzip_share=0.4, redelivery_rate=0.05,
                  late_rate=0.05, malformed_rate=0.02)
    params.update(overrides)
    return SimulationConfig(**params)


def decoded(obj) -> list[str]:
    data = gzip.decompress(obj.data) if obj.gzip else obj.data
    assert data.endswith(b"\n")
    return data.decode().split("\n")[:-1]


def test_same_seed_same_objects_other_seed_other_objects():
    first = [(o.key, o.data) for o in simulate(config()).objects()]
    again = [(o.key, o.data) for o in simulate(config()).objects()]
    other = [(o.key, o.data) for o in simulate(config(seed=12)).objects()]
    assert first == again
    assert {k for k, _ in first}.isdisjoint({k for k, _ in other})


def test_manifest_matches_the_objects():
    sim = simulate(config())
    objects = list(sim.objects())
    manifest = sim.manifest()
    assert [f["key"] for f in manifest["files"]] == [o.key for o in objects]
    valid_ids = []
    malformed = []
    per_hour = defaultdict(Counter)
    for entry, obj in zip(manifest["files"], objects):
        lines = decoded(obj)
        assert entry["lines"] == len(lines)
        assert entry["gzip"] is obj.gzip is obj.key.endswith(".gz")
        assert entry["bytes"] == len(obj.data)
        assert obj.data[:2] == b"\x1f\x8b" if obj.gzip else obj.data[:1] == b"{" or obj.data[:1] == b"["
        hour = landing_hour_of_key(obj.key)
        assert entry["landing_hour"] == hour.strftime("%Y-%m-%dT%H")
        per_hour[entry["landing_hour"]]["files"] += 1
        per_hour[entry["landing_hour"]]["lines"] += len(lines)
        bad = {m["line_number"]: m["reason"] for m in manifest["malformed"] if m["key"] == obj.key}
        for number, line in enumerate(lines, start=1):
            if number in bad:
                malformed.append(bad[number])
                continue
            doc = json.loads(line)
            valid_ids.append(doc["event_id"])
    assert manifest["total_lines"] == sum(f["lines"] for f in manifest["files"])
    assert manifest["valid_lines"] == len(valid_ids) == manifest["total_lines"] - manifest["malformed_lines"]
    assert manifest["distinct_events"] == len(set(valid_ids)) == 1500
    assert manifest["redelivered"] == len(valid_ids) - len(set(valid_ids)) > 0
    assert sorted(e["event_id"] for e in manifest["events"]) == sorted(set(valid_ids))
    assert Counter(malformed) == Counter(manifest["malformed_by_reason"])
    assert set(manifest["malformed_by_reason"]) == set(MALFORMED_REASONS)
    assert manifest["malformed_lines"] == round(0.02 * len(valid_ids))
    for hour, counts in per_hour.items():
        assert manifest["hours"][hour]["files"] == counts["files"]
        assert manifest["hours"][hour]["lines"] == counts["lines"]
    assert json.loads(json.dumps(manifest)) == manifest


def test_lifecycles_are_realistic():
    sim = simulate(config(events=3000, hours=4))
    by_ticket = defaultdict(list)
    for event in sim.events:
        by_ticket[event["ticket_id"]].append(event)
    assert sum(len(v) for v in by_ticket.values()) == 3000
    types = Counter(e["event_type"] for e in sim.events)
    assert set(types) == {"ticket_created", "agent_assigned", "message_added", "status_changed",
                          "priority_changed", "csat_submitted"}
    assert types["message_added"] > types["ticket_created"] > types["csat_submitted"]
    statuses = Counter(e["status"] for e in sim.events if e["event_type"] == "status_changed")
    assert set(statuses) == {"open", "pending", "solved", "closed"}  # "open" = reopened
    for events in by_ticket.values():
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        assert events[0]["event_type"] == "ticket_created"
        assert events[0]["priority"] in {"low", "normal", "high", "urgent"}
        assert [e["occurred_at"] for e in events] == sorted(e["occurred_at"] for e in events)
    customers = Counter(e["customer_id"] for e in sim.events if e["event_type"] == "ticket_created")
    top = customers.most_common(1)[0][1]
    assert top >= 5 * (sum(customers.values()) / len(customers))  # skewed, not uniform


def test_late_and_redelivered_events_land_in_other_objects_and_hours():
    sim = simulate(config(events=2000, late_rate=0.2, redelivery_rate=0.2, malformed_rate=0.0))
    where = defaultdict(list)
    for obj in sim.objects():
        for line in decoded(obj):
            where[line].append(obj.key)
    duplicated = {line: keys for line, keys in where.items() if len(keys) > 1}
    assert len(duplicated) == sim.manifest()["redelivered"]
    assert all(len(set(keys)) == len(keys) for keys in duplicated.values())  # never twice in one object
    assert any(landing_hour_of_key(k[0]) != landing_hour_of_key(k[1]) for k in duplicated.values())
    late = 0
    for line, keys in where.items():
        occurred = dt.datetime.fromisoformat(json.loads(line)["occurred_at"].replace("Z", "+00:00"))
        arrival_hour = landing_hour_of_key(keys[0])
        assert arrival_hour >= occurred.replace(minute=0, second=0, microsecond=0)
        late += arrival_hour - occurred >= dt.timedelta(minutes=30)
    assert late >= 0.15 * 2000


def test_tickets_option_gives_exactly_that_many_tickets():
    sim = simulate(config(events=None, tickets=40, malformed_rate=0.0))
    assert len({e["ticket_id"] for e in sim.events}) == 40
    assert sim.manifest()["tickets"] == 40


def test_object_keys_follow_firehose():
    sim = simulate(config(events=200, gzip_share=1.0))
    for obj in sim.planned:
        hour = landing_hour_of_key(obj.key)
        assert obj.key.startswith(hour.strftime("%Y/%m/%d/%H/cs-events-1-%Y-%m-%d-%H-"))
        assert obj.key.endswith(".gz")
    assert object_key("s", dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "u") == "2026/01/02/03/s-1-2026-01-02-03-04-05-u"


@pytest.mark.parametrize("overrides, message", [
    (dict(events=None), "give exactly one of events or tickets"),
    (dict(tickets=3), "give exactly one of events or tickets"),
    (dict(late_rate=1.5), "late_rate must be between 0 and 1, got 1.5"),
    (dict(hours=0), "events/tickets and hours must be >= 1"),
])
def test_bad_configuration_is_refused(overrides, message):
    with pytest.raises(ValueError) as exc:
        config(**overrides)
    assert str(exc.value) == message
