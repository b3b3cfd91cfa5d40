"""Test support, shipped with the gateway (as ``structlog.testing`` is) so that the tests, the
benchmarks and the screenshots start the product one way.

- ``live_stack``: the whole product on loopback in this process (mock upstream, receiver,
  gateway with its real ticker);
- ``GatewayProcess``: ``gateway serve`` as a child process (crash, shutdown, replica tests and
  the benchmarks), ``api_and_worker`` two of them on one database;
- ``Receiver``: a scripted webhook receiver;
- ``gateway.testing.fakes``: doubles for the service's ports (a clock that moves when told,
  a scripted upstream, a recording sender);
- ``wait_for`` and friends: waiting on a condition with a bounded timeout (never a fixed sleep);
- ``gateway.testing.tcp_proxy``: a fault-injecting TCP proxy on loopback.

Nothing here runs in the service (an import contract keeps it out).
"""

from gateway.testing.processes import GatewayProcess, api_and_worker
from gateway.testing.receiver import Received, Receiver
from gateway.testing.stack import ADMIN_KEY, CLIENT_KEY, SECRET, LiveStack, live_stack
from gateway.testing.waiting import wait_for, wait_for_async, wait_until

__all__ = [
    "ADMIN_KEY",
    "CLIENT_KEY",
    "SECRET",
    "GatewayProcess",
    "LiveStack",
    "Received",
    "Receiver",
    "api_and_worker",
    "live_stack",
    "wait_for",
    "wait_for_async",
    "wait_until",
]
