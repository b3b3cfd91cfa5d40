"""How long a lease must be for the link to the database (issue 31).

A worker renews its leases every third of the lease; a renewal is about three round trips to
the database (a connection's liveness check, the database's clock, the write). On a slow or
lossy link a renewal that lands after the lease has ended loses the work to another replica
(measured: 200 ± 100 ms and 5 % loss each way, a 4-s lease lost paid generations, a 10-s lease
none). The rule: a lease of at least ``LEASE_ROUND_TRIPS`` round trips, so that a third of it
holds about eight renewals' worth of round trips (slow ones and retransmissions included).
"""

from __future__ import annotations

LEASE_ROUND_TRIPS = 25


def shortest_safe_lease_s(round_trip_s: float) -> float:
    """The shortest lease that suits a database ``round_trip_s`` away."""
    return LEASE_ROUND_TRIPS * max(0.0, round_trip_s)


def lease_too_short(lease_s: float, round_trip_s: float) -> bool:
    return lease_s < shortest_safe_lease_s(round_trip_s)
