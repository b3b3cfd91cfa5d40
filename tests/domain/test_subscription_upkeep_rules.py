"""The pure rules of a subscription's own settings: the payload filter, the custom headers and
the throttle (fixed times, no clock)."""

from __future__ import annotations

import pytest

from gateway.domain.custom_headers import MASK, InvalidHeader, check_headers, masked
from gateway.domain.payload_filter import InvalidFilter, filter_matches, normalize_filter
from gateway.domain.subscriptions import UnknownEvent, normalize_events, wants_operational
from gateway.domain.throttle import admit
from gateway.service.subscription_upkeep import SubscriptionEdit
from gateway.service.subscriptions import NewSubscription
from gateway.store.records import SubscriptionRecord
from gateway.store.subscriptions import DeliverySettings

# --- the payload filter ---------------------------------------------------------------------


def test_a_filter_is_normalized_to_sorted_lists() -> None:
    assert {"metadata.env": ["prod"], "model": ["a/b", "c/d"]} == normalize_filter(
        {"model": ["c/d", "a/b", "c/d"], "metadata.env": "prod"}
    )
    assert normalize_filter({}) is None
    assert normalize_filter(None) is None


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"prompt": "x"}, "filter.prompt"),
        ({"metadata.": "x"}, "filter.metadata."),
        ({"status": "finished"}, "filter.status"),
        ({"model": []}, "filter.model"),
        ({"model": [5]}, "filter.model"),
        ({"model": "x" * 201}, "filter.model"),
        ({f"metadata.k{n}": "v" for n in range(21)}, "filter"),
    ],
)
def test_a_bad_filter_names_its_key(raw: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidFilter) as caught:
        normalize_filter(raw)
    assert field == caught.value.field


def test_every_key_must_match_and_any_value_of_a_key_does() -> None:
    spec = normalize_filter({"model": ["a/b", "c/d"], "metadata.env": "prod"})

    def passes(model: str, metadata: dict[str, str], status: str = "completed") -> bool:
        return filter_matches(spec, model=model, status=status, metadata=metadata)

    assert [True, True, False, False, False] == [
        passes("a/b", {"env": "prod"}),
        passes("c/d", {"env": "prod", "other": "x"}),
        passes("e/f", {"env": "prod"}),
        passes("a/b", {"env": "dev"}),
        passes("a/b", {}),
    ]
    by_status = normalize_filter({"status": "failed"})
    assert [False, True] == [
        filter_matches(by_status, model="m", status=s, metadata={}) for s in ("completed", "failed")
    ]
    assert filter_matches(None, model="m", status="completed", metadata={})


# --- custom headers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "field"),
    [
        ({"Webhook-Signature": "v1,x"}, "headers.Webhook-Signature"),
        ({"webhook-id": "x"}, "headers.webhook-id"),
        ({"Content-Type": "text/plain"}, "headers.Content-Type"),
        ({"content-length": "3"}, "headers.content-length"),
        ({"Transfer-Encoding": "chunked"}, "headers.Transfer-Encoding"),
        ({"Connection": "close"}, "headers.Connection"),
        ({"Host": "evil.test"}, "headers.Host"),
        ({"traceparent": "00-x"}, "headers.traceparent"),
        ({"X-Bad\r\nInjected": "1"}, "headers.X-Bad??Injected"),
        ({"X-Ok": "a\r\nInjected: 1"}, "headers.X-Ok"),
        ({"X-Ok": "a\nb"}, "headers.X-Ok"),
        ({"X Space": "1"}, "headers.X Space"),
        ({"X-Ok": ""}, "headers.X-Ok"),
        ({"X-Ok": "é"}, "headers.X-Ok"),
        ({"X-A": "1", "x-a": "2"}, "headers.x-a"),
        ({f"X-{n}": "v" for n in range(21)}, "headers"),
        ({"X-Big": "v" * 8200}, "headers"),
    ],
)
def test_refused_headers_name_the_field(headers: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidHeader) as caught:
        check_headers(headers)
    assert field == caught.value.field


def test_good_headers_are_kept_and_shown_masked() -> None:
    headers = {"Authorization": "Bearer s3cret", "X-Team": "video ops"}
    assert headers == check_headers(headers)
    assert {f"X-{n}": "v" for n in range(20)} == check_headers({f"X-{n}": "v" for n in range(20)})
    assert {"Authorization": MASK, "X-Team": MASK} == masked(headers)
    assert {} == masked(None)


# --- operational event names ----------------------------------------------------------------


def test_operational_events_are_asked_for_by_full_name() -> None:
    events = normalize_events(["delivery.exhausted", "completed", "subscription.disabled"])
    assert ["completed", "subscription.disabled", "delivery.exhausted"] == events
    assert wants_operational(events, "subscription.disabled")
    assert not wants_operational(["completed"], "subscription.disabled")
    with pytest.raises(UnknownEvent):
        normalize_events(["subscription.enabled"])


# --- the throttle ---------------------------------------------------------------------------


def test_a_throttle_spaces_attempts_evenly() -> None:
    """2 per second: one at once, the next 0.5 s later, never a burst."""
    first = admit(None, 2.0, 100.0)
    assert (True, 100.5) == first
    assert (False, 100.5) == admit(first.next_free, 2.0, 100.2)
    second = admit(first.next_free, 2.0, 100.5)
    assert (True, 101.0) == second
    # Idle for a while: the next goes at once, and no credit was saved up for a burst.
    later = admit(second.next_free, 2.0, 200.0)
    assert (True, 200.5) == later
    assert not admit(later.next_free, 2.0, 200.0).admitted


def test_header_values_stay_out_of_every_repr() -> None:
    """The records and bodies that carry header values show them masked when printed."""
    headers = {"Authorization": "Bearer s3cret-value"}
    carriers = [
        SubscriptionRecord(
            "sub_1", "cl_1", "https://h.test", ["completed"], None, True, 1.0, headers=headers
        ),
        DeliverySettings(headers=headers, throttle=None),
        NewSubscription("https://h.test", headers=headers),
        SubscriptionEdit(headers=headers),
    ]
    for carrier in carriers:
        assert "s3cret" not in repr(carrier)
        assert "Authorization" in repr(carrier)
    assert "https://h.test" in repr(carriers[0])
