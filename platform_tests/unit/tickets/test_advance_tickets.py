"""advance_tickets (stored partials + only the new events) equals fold_tickets (all events)."""

from __future__ import annotations

import random

from cs_platform.logic.tickets import advance_tickets, fold_tickets

from .conftest import event


def history():
    """Two tickets whose fields each depend on an event that a split can deliver late."""
    return [
        event("p0", "priority_changed", seq=1, priority="urgent"),
        event("c2", "ticket_created", seq=5, customer_id="late", channel="email", priority="low"),
        event("c1", "ticket_created", seq=2, customer_id="early", channel="phone"),
        event("a1", "agent_assigned", seq=3, agent_id="zed"),
        event("a2", "agent_assigned", seq=3, agent_id="yan"),
        event("m1", "message_added", seq=4, author="customer"),
        event("m2", "message_added", seq=6, minute=40, author="agent", agent_id="zed"),
        event("m3", "message_added", seq=7, minute=20, author="agent", agent_id="zed"),
        event("s1", "status_changed", seq=8, status="solved"),
        event("s2", "status_changed", seq=9, status="open"),
        event("s3", "status_changed", seq=10, status="solved"),
        event("q1", "csat_submitted", seq=11, csat_score=4),
        event("s4", "status_changed", seq=12, status="closed"),
        event("u1", "status_changed", ticket_id="T2", seq=3, status="pending"),
        event("u2", "priority_changed", ticket_id="T2", seq=2, priority="high"),
        event("u3", "ticket_created", ticket_id="T2", seq=1, customer_id="c9", channel="chat", priority="low"),
        event("u4", "csat_submitted", ticket_id="T2", seq=4, csat_score=2),
    ]


def rows(df) -> dict:
    return {r["ticket_id"]: r.asDict(recursive=True) for r in df.collect()}


def test_advancing_batch_by_batch_equals_refolding_all_events(spark, events_df):
    events = history()
    expected = rows(fold_tickets(events_df(events)))
    assert (expected["T1"]["status"], expected["T1"]["priority"], expected["T1"]["customer_id"]) == ("closed", "normal", "early")
    assert (expected["T1"]["agent_id"], expected["T1"]["resolved_at"].minute, expected["T1"]["message_count"]) == ("yan", 10, 3)
    assert (expected["T2"]["priority"], expected["T2"]["status"], expected["T2"]["event_count"]) == ("high", "pending", 4)
    for seed in range(4):
        shuffled = random.Random(seed).sample(events, len(events))
        cuts = sorted(random.Random(seed + 100).sample(range(1, len(events)), 2))
        batches = [shuffled[:cuts[0]], shuffled[cuts[0]:cuts[1]], shuffled[cuts[1]:]]
        stored = fold_tickets(events_df(batches[0])).localCheckpoint()
        for batch in batches[1:]:
            advanced = advance_tickets(events_df(batch), stored).localCheckpoint()
            untouched = stored.join(advanced.select("ticket_id"), "ticket_id", "left_anti")
            stored = untouched.unionByName(advanced).localCheckpoint()
        assert rows(stored) == expected, (seed, [[e["event_id"] for e in b] for b in batches])


def test_a_ticket_without_stored_state_starts_from_its_new_events(events_df):
    new = [event("c1", "ticket_created", ticket_id="T5", seq=1, customer_id="c", channel="chat")]
    stored = fold_tickets(events_df([event("x1", "message_added", ticket_id="T6", seq=1, author="agent")]))
    advanced = rows(advance_tickets(events_df(new), stored))
    assert list(advanced) == ["T5"]
    assert advanced["T5"] == rows(fold_tickets(events_df(new)))["T5"]
