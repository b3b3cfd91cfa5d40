"""Signed links to kept videos: stable for a job, verified without a database; a changed path,
expiry or signature is "tampered" (403), a genuine one past its retention "expired" (410)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from gateway.domain.output_links import output_path, signed_output_link, verify_output_link

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
JOB = "job_abc123"
EXPIRES = 1_800_000_000


def parts(url: str) -> tuple[str, str, str]:
    split = urlsplit(url)
    query = parse_qs(split.query)
    return split.path, query["expires"][0], query["sig"][0]


def test_the_link_shape() -> None:
    url = signed_output_link("https://gw.example.com/", KEY, JOB, "video.mp4", EXPIRES)
    path, expires, sig = parts(url)
    assert url.startswith("https://gw.example.com/v1/outputs/job_abc123/video.mp4?expires=")
    assert ("/v1/outputs/job_abc123/video.mp4", str(EXPIRES), 43) == (path, expires, len(sig))


def test_the_same_job_gets_the_same_link_every_time() -> None:
    """A redelivery days later announces exactly the link of the first attempt."""
    first = signed_output_link("https://gw", KEY, JOB, "video.mp4", EXPIRES)
    assert first == signed_output_link("https://gw", KEY, JOB, "video.mp4", EXPIRES)


def test_a_genuine_link_is_valid_until_it_expires() -> None:
    _, expires, sig = parts(signed_output_link("https://gw", KEY, JOB, "video.mp4", EXPIRES))
    verdicts = [
        verify_output_link([KEY], JOB, "video.mp4", expires, sig, now=now)
        for now in (EXPIRES - 86400, EXPIRES - 1, EXPIRES, EXPIRES + 86400)
    ]
    assert ["valid", "valid", "expired", "expired"] == verdicts


@pytest.mark.parametrize(
    ("job_id", "name", "expires", "sig_change"),
    [
        ("job_other", "video.mp4", None, None),  # another job's video
        (JOB, "poster.jpg", None, None),  # another object of the job
        (JOB, "video.mp4", str(EXPIRES + 3600), None),  # the expiry stretched
        (JOB, "video.mp4", None, "flip"),  # the signature changed
        (JOB, "video.mp4", None, "drop"),  # no signature
        (JOB, "video.mp4", "", None),  # no expiry
        (JOB, "video.mp4", "-5", None),
        (JOB, "video.mp4", "1e9", None),
    ],
)
def test_any_change_is_tampering(
    job_id: str, name: str, expires: str | None, sig_change: str | None
) -> None:
    _, real_expires, sig = parts(signed_output_link("https://gw", KEY, JOB, "video.mp4", EXPIRES))
    if sig_change == "flip":
        sig = sig[:-1] + ("A" if sig[-1] != "A" else "B")
    given_sig = None if sig_change == "drop" else sig
    given_expires = real_expires if expires is None else expires
    verdict = verify_output_link([KEY], job_id, name, given_expires, given_sig, now=EXPIRES - 10)
    assert "tampered" == verdict


def test_an_expired_but_tampered_link_is_tampered() -> None:
    """Tampering is judged first: a forged link never learns whether it would be expired."""
    _, expires, sig = parts(signed_output_link("https://gw", OTHER_KEY, JOB, "video.mp4", 10))
    assert "tampered" == verify_output_link([KEY], JOB, "video.mp4", expires, sig, now=100)


def test_a_rotation_verifies_with_any_listed_key() -> None:
    _, expires, sig = parts(signed_output_link("https://gw", OTHER_KEY, JOB, "video.mp4", EXPIRES))
    assert ("valid", "tampered") == (
        verify_output_link([KEY, OTHER_KEY], JOB, "video.mp4", expires, sig, now=0),
        verify_output_link([KEY], JOB, "video.mp4", expires, sig, now=0),
    )


@pytest.mark.parametrize(("job_id", "name"), [("job/../x", "video.mp4"), (JOB, "../secret")])
def test_no_link_for_names_outside_the_shape(job_id: str, name: str) -> None:
    with pytest.raises(ValueError, match="no output link"):
        output_path(job_id, name)


def test_no_link_without_a_key() -> None:
    with pytest.raises(ValueError, match="signing key"):
        signed_output_link("https://gw", b"", JOB, "video.mp4", EXPIRES)
