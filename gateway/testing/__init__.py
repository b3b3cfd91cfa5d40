"""Tools for tests and benchmarks that ship with the package (``bench/`` may not import
``tests/``): nothing here runs in the service."""
