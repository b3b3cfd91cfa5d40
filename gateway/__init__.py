"""A webhook gateway for the AI/ML API's asynchronous video generation."""

__version__ = "0.1.0"
