"""Shared fixtures. Backend-specific fixtures live in the folders that need them."""
