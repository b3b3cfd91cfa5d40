"""The outputs benchmark copies what its server sends: every variant gets every byte, and the
copier's SHA-256 is that of the bytes served (a broken bench would print a table anyway)."""

from __future__ import annotations

from pathlib import Path

from bench.outputs import MIB, measure_throughput, sha256_of_served, start_byte_server


async def test_every_variant_copies_the_whole_file(tmp_path: Path) -> None:
    server = start_byte_server(tmp_path / "server.log")
    try:
        results = await measure_throughput(server.url, tmp_path, mib=3, rounds=1)
    finally:
        server.stop()
    assert {"plain": [3 * MIB], "plain + fsync": [3 * MIB], "copier": [3 * MIB]} == {
        name: [copied.size for copied in copies] for name, copies in results.items()
    }
    assert sha256_of_served(3 * MIB) == results["copier"][0].sha256
    assert [] == list((tmp_path / "store" / "videos").rglob("*"))  # each copy deleted after
