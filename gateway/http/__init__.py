"""The JSON API (Litestar): thin handlers over ``gateway.service``, one error shape."""

from gateway.http.api import GatewayApp, api_routes
from gateway.http.openapi import openapi_config

__all__ = ["GatewayApp", "api_routes", "openapi_config"]
