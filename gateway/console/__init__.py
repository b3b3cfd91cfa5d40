"""The console: server-rendered pages over the same services as the JSON API."""

from gateway.console.render import template_config
from gateway.console.routes import console_routes
from gateway.console.session import Console

__all__ = ["Console", "console_routes", "template_config"]
