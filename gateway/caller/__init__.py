"""The people's commands (``gateway submit``, ``gateway jobs``): a caller of any gateway, built on
the Python client (``gateway_client``), never on the server's code or settings."""

from gateway.caller.cli import COMMANDS, add_commands, run

__all__ = ["COMMANDS", "add_commands", "run"]
