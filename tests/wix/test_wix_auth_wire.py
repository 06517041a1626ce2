"""Credentials from the environment, URL safety, and the wire module's parsing."""

from __future__ import annotations

import httpx
import pytest

from reconciler.errors import (
    AuthError,
    InvalidRequestError,
    ProtocolError,
    RateLimitedError,
    ServerError,
    UsageError,
)
from reconciler.model import RemoteSecret, Sensitive
from reconciler.wix import ApiKeyAuth, OAuthClientCredentials, auth_from_environ, check_api_url, wire

# -- auth_from_environ -----------------------------------------------------------------------------


def test_api_key_from_environ() -> None:
    auth = auth_from_environ({"WIX_API_KEY": "IST.key-abc", "WIX_SITE_ID": "site-1"}, site_id=None)
    assert isinstance(auth, ApiKeyAuth) and auth.site_id == "site-1"
    assert "IST.key-abc" not in repr(auth) and "IST.key-abc" not in auth.description


def test_site_id_argument_wins_over_environ() -> None:
    auth = auth_from_environ({"WIX_API_KEY": "k-123456", "WIX_SITE_ID": "env-site"}, site_id="arg-site")
    assert isinstance(auth, ApiKeyAuth) and auth.site_id == "arg-site"


def test_oauth_from_environ() -> None:
    env = {"WIX_CLIENT_ID": "app", "WIX_CLIENT_SECRET": "shh-very-secret", "WIX_INSTANCE_ID": "inst"}
    auth = auth_from_environ(env, site_id=None)
    assert isinstance(auth, OAuthClientCredentials)
    assert (auth.client_id, auth.instance_id) == ("app", "inst")
    assert "shh-very-secret" not in repr(auth) + auth.description


def test_two_configured_identities_without_a_choice_is_an_error_naming_both() -> None:
    env = {
        "WIX_API_KEY": "k-123456",
        "WIX_SITE_ID": "s",
        "WIX_CLIENT_ID": "app",
        "WIX_CLIENT_SECRET": "x-secret",
        "WIX_INSTANCE_ID": "inst",
    }
    with pytest.raises(UsageError) as info:
        auth_from_environ(env, site_id=None)
    assert "WIX_API_KEY" in info.value.summary and "WIX_CLIENT_ID" in info.value.summary
    assert "--auth" in (info.value.hint or "")
    assert isinstance(auth_from_environ({**env, "WIX_AUTH": "api-key"}, site_id=None), ApiKeyAuth)


@pytest.mark.parametrize(
    ("env", "site_id", "mentions", "not_mentions"),
    [
        (
            {},
            None,
            ["WIX_API_KEY", "WIX_SITE_ID", "WIX_CLIENT_ID", "WIX_CLIENT_SECRET", "WIX_INSTANCE_ID"],
            [],
        ),
        ({"WIX_API_KEY": "k"}, None, ["WIX_SITE_ID"], ["WIX_API_KEY", "WIX_CLIENT_ID"]),
        ({}, "site", ["WIX_API_KEY"], ["WIX_SITE_ID", "WIX_CLIENT_ID"]),
        ({"WIX_CLIENT_ID": "a"}, None, ["WIX_CLIENT_SECRET", "WIX_INSTANCE_ID"], ["WIX_API_KEY"]),
        ({"WIX_API_KEY": "  ", "WIX_SITE_ID": ""}, None, ["WIX_API_KEY", "WIX_CLIENT_ID"], []),
    ],
)
def test_incomplete_credentials_say_exactly_what_to_set(
    env: dict[str, str], site_id: str | None, mentions: list[str], not_mentions: list[str]
) -> None:
    with pytest.raises(UsageError) as info:
        auth_from_environ(env, site_id=site_id)
    summary = info.value.summary
    for name in mentions:
        assert name in summary
    for name in not_mentions:
        assert name not in summary


def test_secret_parts_are_required() -> None:
    with pytest.raises(UsageError):
        ApiKeyAuth("", "site")
    with pytest.raises(UsageError):
        OAuthClientCredentials("app", "", "inst")


# -- check_api_url ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.wixapis.com", "https://www.wixapis.com"),
        ("https://www.wixapis.com/", "https://www.wixapis.com"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://127.9.9.9:1/", "http://127.9.9.9:1"),
        ("http://localhost:9000", "http://localhost:9000"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("https://proxy.example/wix/", "https://proxy.example/wix"),
    ],
)
def test_accepted_api_urls(url: str, expected: str) -> None:
    assert check_api_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://www.wixapis.com",
        "http://10.0.0.1:8080",
        "http://localhost.evil.example",
        "http://128.0.0.1",
        "ftp://www.wixapis.com",
        "www.wixapis.com",
        "https://user:pw@www.wixapis.com",
        "https://www.wixapis.com/?x=1",
        "http://127.0.0.1:notaport",
    ],
)
def test_refused_api_urls(url: str) -> None:
    with pytest.raises(UsageError):
        check_api_url(url)


# -- wire ------------------------------------------------------------------------------------------


def response(status: int, body: object = None, **headers: str) -> httpx.Response:
    if body is None:
        return httpx.Response(status, headers=headers)
    return httpx.Response(status, json=body, headers=headers)


def test_parse_secret_list() -> None:
    data = {
        "secrets": [
            {"id": "1", "name": "A", "description": "d", "createdDate": "c", "updatedDate": "u"},
            {"id": "2", "name": "B"},
        ]
    }
    assert wire.parse_secret_list(data, response(200)) == [
        RemoteSecret("1", "A", "d", "c", "u"),
        RemoteSecret("2", "B"),
    ]
    assert wire.parse_secret_list({}, response(200)) == []
    bads: list[dict[str, object]] = [{"secrets": {}}, {"secrets": [1]}, {"secrets": [{"id": "1"}]}]
    for bad in bads:
        with pytest.raises(ProtocolError):
            wire.parse_secret_list(bad, response(200))


def test_parse_value_created_id_and_token() -> None:
    assert wire.parse_value({"value": "v"}, response(200)) == Sensitive("v")
    assert wire.parse_created_id({"id": "abc"}, response(200)) == "abc"
    grant = wire.parse_token({"access_token": "t", "expires_in": 60}, response(200))
    assert grant.access_token == Sensitive("t") and grant.expires_in == 60
    assert wire.parse_token({"access_token": "t"}, response(200)).expires_in == 14400
    with pytest.raises(ProtocolError):
        wire.parse_value({"value": 3}, response(200))
    with pytest.raises(ProtocolError):
        wire.parse_created_id({}, response(200))
    with pytest.raises(AuthError):
        wire.parse_token({}, response(200))


def test_bodies_carry_only_given_fields() -> None:
    assert wire.update_body(description="") == {"secret": {"description": ""}}
    assert wire.update_body() == {"secret": {}}
    assert wire.create_body("N", Sensitive("v"), "") == {"secret": {"name": "N", "value": "v", "description": ""}}


def test_error_envelopes() -> None:
    err = wire.error_from_response(
        response(429, {"message": "slow down", "details": {"applicationError": {"code": "RESOURCE_EXHAUSTED"}}}),
        operation="list",
        target="",
        retry_after=3.0,
    )
    assert isinstance(err, RateLimitedError) and err.retry_after == 3.0 and err.retryable
    assert err.code == "RESOURCE_EXHAUSTED" and "slow down" in str(err)

    err = wire.error_from_response(response(500, {"message": "", "details": {}}), operation="x", target="y")
    assert isinstance(err, ServerError) and err.retryable and err.code is None

    err = wire.error_from_response(response(502, body=None), operation="x", target="y")
    assert isinstance(err, ServerError) and err.retryable

    err = wire.error_from_response(
        response(400, {"message": "bad", "details": {"validationError": {"fieldViolations": "nope"}}}),
        operation="create",
        target="N",
    )
    assert isinstance(err, InvalidRequestError) and err.violations == ()

    err = wire.error_from_response(response(418, ["odd"]), operation="x", target="y")
    assert isinstance(err, ProtocolError) and err.status == 418
