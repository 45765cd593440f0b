"""DESIGN 3.2 fold rules, field by field, on inline events."""

from __future__ import annotations

import itertools

from cs_platform.logic.tickets import TICKET_COLUMNS, fold_tickets

from .conftest import at, event


def fold(events_df, rows) -> dict:
    result = {r["ticket_id"]: r.asDict() for r in fold_tickets(events_df(rows)).collect()}
    assert all(list(v) == TICKET_COLUMNS for v in result.values())
    return result


def created(eid="c1", seq=1, **kw):
    return event(eid, "ticket_created", seq=seq, customer_id=kw.pop("customer_id", "cust1"),
                 channel=kw.pop("channel", "chat"), **kw)


def test_full_lifecycle(events_df):
    rows = [
        created(priority="high"),
        event("a1", "agent_assigned", seq=2, agent_id="ag1"),
        event("m1", "message_added", seq=3, author="customer"),
        event("m2", "message_added", seq=4, author="agent", agent_id="ag1"),
        event("m3", "message_added", seq=5, author="agent", agent_id="ag1"),
        event("s1", "status_changed", seq=6, status="solved"),
        event("q1", "csat_submitted", seq=7, csat_score=4),
        event("s2", "status_changed", seq=8, status="closed"),
    ]
    assert fold(events_df, rows)["T1"] == {
        "ticket_id": "T1", "customer_id": "cust1", "channel": "chat", "created_at": at(1), "status": "closed",
        "priority": "high", "agent_id": "ag1", "csat_score": 4, "message_count": 3, "first_response_at": at(4),
        "resolved_at": at(6), "last_seq": 8, "updated_at": at(8), "event_count": 8,
    }


def test_defaults_without_status_priority_or_created(events_df):
    state = fold(events_df, [event("m1", "message_added", seq=3, author="customer")])["T1"]
    assert (state["status"], state["priority"], state["customer_id"], state["created_at"]) == ("open", "normal", None, None)
    assert (state["agent_id"], state["csat_score"], state["first_response_at"], state["resolved_at"]) == (None, None, None, None)
    assert (state["message_count"], state["last_seq"], state["event_count"]) == (1, 3, 1)


def test_created_without_priority_sets_normal_over_lower_seq_priority_change(events_df):
    rows = [event("p1", "priority_changed", seq=1, priority="urgent"), created(seq=2)]
    assert fold(events_df, rows)["T1"]["priority"] == "normal"


def test_priority_change_after_created(events_df):
    rows = [created(seq=1, priority="low"), event("p1", "priority_changed", seq=3, priority="urgent")]
    assert fold(events_df, rows)["T1"]["priority"] == "urgent"


def test_several_created_lowest_seq_counts(events_df):
    rows = [created("c2", seq=5, customer_id="late", channel="email", priority="low"),
            created("c1", seq=2, customer_id="early", channel="phone", priority="high")]
    state = fold(events_df, rows)["T1"]
    assert (state["customer_id"], state["channel"], state["created_at"], state["priority"]) == ("early", "phone", at(2), "high")


def test_same_seq_ties_break_by_larger_event_id(events_df):
    rows = [event("s_a", "status_changed", seq=4, status="pending"),
            event("s_b", "status_changed", seq=4, status="solved", minute=30),
            event("a_z", "agent_assigned", seq=2, agent_id="zed"),
            event("a_y", "agent_assigned", seq=2, agent_id="yan")]
    state = fold(events_df, rows)["T1"]
    assert (state["status"], state["agent_id"], state["resolved_at"], state["updated_at"]) == ("solved", "zed", at(30), at(30))


def test_resolved_only_when_solved_or_closed(events_df):
    rows = [event("s1", "status_changed", seq=2, status="solved"), event("s2", "status_changed", seq=3, status="open")]
    state = fold(events_df, rows)["T1"]
    assert (state["status"], state["resolved_at"]) == ("open", None)


def test_resolved_at_is_highest_seq_solved(events_df):
    rows = [event("s1", "status_changed", seq=2, status="solved"), event("s2", "status_changed", seq=3, status="open"),
            event("s3", "status_changed", seq=4, status="solved"), event("s4", "status_changed", seq=5, status="closed")]
    state = fold(events_df, rows)["T1"]
    assert (state["status"], state["resolved_at"]) == ("closed", at(4))


def test_duplicates_count_once(events_df):
    rows = [created(), event("m1", "message_added", seq=2, author="agent", agent_id="a"),
            event("m1", "message_added", seq=2, author="agent", agent_id="a", source_file="f2")]
    state = fold(events_df, rows)["T1"]
    assert (state["message_count"], state["event_count"]) == (1, 2)


def test_late_lower_seq_events_and_events_before_created_are_order_independent(events_df):
    rows = [
        event("s1", "status_changed", seq=9, status="pending"),
        event("a1", "agent_assigned", seq=3, agent_id="ag1"),
        created(seq=1, priority="urgent"),
        event("p1", "priority_changed", seq=6, priority="low"),
        event("a0", "agent_assigned", seq=2, agent_id="ag0"),
        event("q1", "csat_submitted", seq=7, csat_score=2),
        event("q0", "csat_submitted", seq=4, csat_score=5),
    ]
    expected = {
        "ticket_id": "T1", "customer_id": "cust1", "channel": "chat", "created_at": at(1), "status": "pending",
        "priority": "low", "agent_id": "ag1", "csat_score": 2, "message_count": 0, "first_response_at": None,
        "resolved_at": None, "last_seq": 9, "updated_at": at(9), "event_count": 7,
    }
    for perm in itertools.islice(itertools.permutations(rows), 0, 5040, 997):
        assert fold(events_df, list(perm))["T1"] == expected


def test_tickets_are_folded_independently(events_df):
    rows = [created(ticket_id="T1"), created("c2", ticket_id="T2", customer_id="cust2"),
            event("s1", "status_changed", ticket_id="T2", seq=2, status="pending")]
    result = fold(events_df, rows)
    assert (result["T1"]["status"], result["T2"]["status"], result["T2"]["customer_id"]) == ("open", "pending", "cust2")
