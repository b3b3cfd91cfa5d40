"""Test support: start the whole product on loopback, with fakes for its ports."""
