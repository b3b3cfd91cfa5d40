"""A batch of attempts moves each subscription's failure state once, by its net move, in id
order (two batches lock shared rows in one order)."""

from __future__ import annotations

from gateway.store.subscriptions import Outcome, net_moves


def test_each_subscription_gets_its_batchs_net_move_in_id_order() -> None:
    outcomes = [
        Outcome("sub_b", "failed", 10.0),
        Outcome("sub_a", "dead", 11.0),
        Outcome("sub_b", "dead", 12.0),
        Outcome("sub_c", "dead", 13.0),
        Outcome("sub_c", "delivered", 14.0),  # a success resets what came before it ...
        Outcome("sub_c", "failed", 15.0),  # ... and the failures after it start afresh
        Outcome("sub_d", "delivered", 16.0),
    ]
    assert [
        {"match_id": "sub_a", "reset": False, "at": 11.0, "dead": 1},
        {"match_id": "sub_b", "reset": False, "at": 10.0, "dead": 1},
        {"match_id": "sub_c", "reset": True, "at": 15.0, "dead": 0},
        {"match_id": "sub_d", "reset": True, "at": None, "dead": 0},
    ] == net_moves(outcomes)
    assert [] == net_moves([])
