"""The package's version and the User-Agent it sends."""

__version__ = "0.1.0"
USER_AGENT = f"video-webhook-gateway-client/{__version__}"
