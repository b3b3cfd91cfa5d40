"""What Zapier (and other no-code tools) send is understood: Basic auth, /v1/me, form habits."""

from __future__ import annotations

import base64
from urllib.parse import urlencode

import pytest

from gateway.errors import InvalidRequest
from tests.http.conftest import BOOTSTRAP_KEY, Api
from tests.http.test_parsing import parse_job_request

FORM = "application/x-www-form-urlencoded"


def basic(user: str, password: str = "") -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def test_me_names_the_client_and_nothing_secret(api: Api) -> None:
    """GET /v1/me answers the key's client id and name; never a key or a secret."""
    created = await api.new_client("zapier user")
    response = await api.http.get("/v1/me", headers=api.auth(created["api_key"]))
    assert 200 == response.status_code
    body = response.json()
    assert (created["id"], "zapier user") == (body["id"], body["name"])
    assert created["api_key"] not in response.text
    assert created["webhook_secret"] not in response.text


@pytest.mark.parametrize(
    ("user", "password"), [(BOOTSTRAP_KEY, ""), (BOOTSTRAP_KEY, "x"), ("", BOOTSTRAP_KEY)]
)
async def test_basic_auth_with_the_key_as_user_name(api: Api, user: str, password: str) -> None:
    """Zapier's Basic Auth field: the key as the user name (or as the password alone) works."""
    response = await api.http.get("/v1/me", headers=basic(user, password))
    assert (200, "cl_bootstrap") == (response.status_code, response.json()["id"])


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer nope"}, basic("nope"), {"Authorization": "Basic !!!"}],
)
async def test_every_401_says_how_to_authenticate(api: Api, headers: dict[str, str]) -> None:
    """A 401 carries WWW-Authenticate with the Bearer and the Basic challenges."""
    response = await api.http.get("/v1/me", headers=headers)
    assert 401 == response.status_code
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer realm=")
    assert "Basic realm=" in challenge


async def test_a_zapier_form_is_accepted_end_to_end(api: Api) -> None:
    """Basic auth, metadata__key, comma-joined image URLs and watermark=yes in one form POST."""
    body = urlencode(
        {
            "prompt": "a horse",
            "callback_url": "https://hooks.test/in",
            "reference_image_urls": "https://a.test/1.png,https://a.test/2.png",
            "metadata__order_id": "42",
            "watermark": "yes",
            "seed": "",
        }
    )
    response = await api.http.post(
        "/v1/jobs", content=body, headers={**basic(BOOTSTRAP_KEY), "Content-Type": FORM}
    )
    assert 202 == response.status_code, response.text
    job = response.json()
    assert (["https://a.test/1.png", "https://a.test/2.png"], True, {"order_id": "42"}) == (
        job["request"]["reference_image_urls"],
        job["request"]["watermark"],
        job["metadata"],
    )


@pytest.mark.parametrize(
    ("word", "expected"),
    [("yes", True), ("No", False), ("on", True), ("OFF", False), ("true", True), ("0", False)],
)
def test_boolean_words(word: str, expected: bool) -> None:
    """yes/no/on/off (any case) are booleans, beside true/false/1/0."""
    request = parse_job_request(FORM, f"prompt=p&watermark={word}".encode())
    assert expected is request.watermark


def test_a_boolean_that_is_no_word_is_refused_by_name() -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_job_request(FORM, b"prompt=p&watermark=maybe")
    assert "watermark" == caught.value.details[0]["field"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"prompt=p&metadata__order_id=42&metadata__user=bob", {"order_id": "42", "user": "bob"}),
        (b"prompt=p&metadata%5Ba%5D=1&metadata__b=2", {"a": "1", "b": "2"}),
        (b"prompt=p&metadata__order_id=", None),
    ],
)
def test_metadata_double_underscore(body: bytes, expected: dict[str, str] | None) -> None:
    """``metadata__key`` is ``metadata[key]`` (blank values are "not given")."""
    assert expected == parse_job_request(FORM, body).metadata


def test_metadata_double_underscore_in_json() -> None:
    request = parse_job_request("application/json", b'{"prompt": "p", "metadata__n": 7}')
    assert {"n": "7"} == request.metadata


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "https://a.test/1.png,https://a.test/2.png",
            ["https://a.test/1.png", "https://a.test/2.png"],
        ),
        (
            "https://a.test/1.png, http://b.test/x?y=1",
            ["https://a.test/1.png", "http://b.test/x?y=1"],
        ),
        ("https://a.test/1.png", ["https://a.test/1.png"]),
        ("data:image/png;base64,AAAA", ["data:image/png;base64,AAAA"]),
    ],
)
def test_comma_joined_urls_are_split(value: str, expected: list[str]) -> None:
    """A list field given once as comma-joined URLs (Zapier's line items) is split."""
    form = parse_job_request(
        FORM, urlencode({"prompt": "p", "reference_image_urls": value}).encode()
    )
    json_body = parse_job_request(
        "application/json",
        f'{{"prompt": "p", "reference_image_urls": "{value}"}}'.encode(),
    )
    assert (expected, expected) == (form.reference_image_urls, json_body.reference_image_urls)


@pytest.mark.parametrize(
    "value",
    ["https://a.test/1.png,not a url", "https://a.test/1.png,", "a.test/1.png,b.test/2.png"],
)
def test_comma_joined_text_that_is_not_all_urls_is_refused(value: str) -> None:
    """Not every part a URL: refused naming the field (never sent upstream as one URL)."""
    with pytest.raises(InvalidRequest) as caught:
        parse_job_request(FORM, urlencode({"prompt": "p", "reference_image_urls": value}).encode())
    assert "reference_image_urls" == caught.value.details[0]["field"]
    assert "reference_image_urls" in caught.value.message


@pytest.mark.parametrize(
    ("content_type", "body"),
    [(FORM, b"prompt=p&colour=red"), ("application/json", b'{"prompt": "p", "colour": "red"}')],
)
async def test_unknown_fields_are_named(api: Api, content_type: str, body: bytes) -> None:
    """Through /v1/jobs, JSON or form: a 400 whose message and details name the field."""
    response = await api.http.post(
        "/v1/jobs", content=body, headers={**basic(BOOTSTRAP_KEY), "Content-Type": content_type}
    )
    assert 400 == response.status_code
    error = response.json()["error"]
    assert "colour" == error["details"][0]["field"]
    assert "colour" in error["message"]
