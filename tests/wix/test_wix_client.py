"""The client against a fake Wix behind httpx.MockTransport: wire shape, errors, auth, retries."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from reconciler.errors import (
    AlreadyExistsError,
    AuthError,
    InvalidRequestError,
    NetworkError,
    NotFoundError,
    ProtocolError,
    RateLimitedError,
    ServerError,
    UsageError,
)
from reconciler.model import Sensitive
from reconciler.wix import DEFAULT_USER_AGENT, OAuthClientCredentials, ReadOnlyClient, WixSecretsClient

from .fakes import API_KEY, PREFIX, SITE_ID, FakeClock, FakeWix, envelope, run

VALUE = "s3cr3t-value-that-must-not-leak"
CLIENT_SECRET = "app-secret-that-must-not-leak"


def oauth() -> OAuthClientCredentials:
    return OAuthClientCredentials("app-1", Sensitive(CLIENT_SECRET), "inst-1")


# -- wire shape ------------------------------------------------------------------------------------


def test_crud_round_trip_and_request_shape() -> None:
    fake, clock = FakeWix(), FakeClock()

    async def body(c: WixSecretsClient) -> Any:
        sid = await c.create("API_KEY", Sensitive(VALUE), "the key")
        listed = await c.list_secrets()
        value = await c.get_value("API_KEY")
        await c.update(sid, value=Sensitive("new-value"))
        await c.update(sid, name="API_KEY_2")
        await c.delete(sid)
        return sid, listed, value, await c.list_secrets(), c.stats

    sid, listed, value, after, stats = run(fake, clock, body)
    assert [(s.id, s.name, s.description) for s in listed] == [(sid, "API_KEY", "the key")]
    assert value == Sensitive(VALUE)
    assert after == []
    assert fake.ops() == ["create", "list", "get_value", "update", "update", "delete", "list"]
    create, _, get, upd_value, upd_name, delete, _ = fake.requests
    assert create.body == {"secret": {"name": "API_KEY", "value": VALUE, "description": "the key"}}
    assert upd_value.body == {"secret": {"value": "new-value"}}
    assert upd_name.body == {"secret": {"name": "API_KEY_2"}}
    assert create.raw_path == PREFIX and get.raw_path == f"{PREFIX}/name/API_KEY"
    assert upd_value.raw_path == delete.raw_path == f"{PREFIX}/{sid}"
    assert (upd_value.method, delete.method) == ("PATCH", "DELETE")
    for seen in fake.requests:
        assert seen.headers["authorization"] == API_KEY
        assert seen.headers["wix-site-id"] == SITE_ID
        assert seen.headers["user-agent"] == DEFAULT_USER_AGENT
        assert DEFAULT_USER_AGENT.startswith("wix-secrets/") and "(+https://github.com/" in DEFAULT_USER_AGENT
        has_body = seen.method in ("POST", "PATCH")
        assert ("content-type" in seen.headers) == has_body
        if has_body:
            assert seen.headers["content-type"] == "application/json"
    assert stats.requests == {"list": 2, "get_value": 1, "create": 1, "update": 2, "delete": 1, "token": 0}
    assert (stats.retries, stats.failures, stats.throttled) == (0, 0, 0)


@pytest.mark.parametrize(
    ("name", "encoded"),
    [
        ("a#b", "a%23b"),
        ("a+b=c@d$e-f_g", "a+b=c@d$e-f_g"),
        ("#", "%23"),
        ("x/y", "x%2Fy"),
        ("sp ace%", "sp%20ace%25"),
    ],
)
def test_names_are_percent_encoded_in_the_path(name: str, encoded: str) -> None:
    fake, clock = FakeWix(), FakeClock()
    fake.add(name, VALUE)
    value = run(fake, clock, lambda c: c.get_value(name))
    assert value == Sensitive(VALUE)
    assert fake.requests[0].raw_path == f"{PREFIX}/name/{encoded}"


def test_description_omitted_when_none_and_missing_secrets_key_is_empty() -> None:
    fake, clock = FakeWix(), FakeClock()
    run(fake, clock, lambda c: c.create("N", Sensitive(VALUE), None))
    assert fake.requests[0].body == {"secret": {"name": "N", "value": VALUE}}

    def empty(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={})

    async def main() -> Any:
        async with WixSecretsClient(
            api_url="http://127.0.0.1:9", auth=oauth_free(), transport=httpx.MockTransport(empty)
        ) as c:
            return await c.list_secrets()

    assert clock.run(main()) == []


def oauth_free() -> Any:
    from reconciler.wix import ApiKeyAuth

    return ApiKeyAuth(Sensitive(API_KEY), SITE_ID)


def test_plain_http_to_a_remote_host_is_refused() -> None:
    with pytest.raises(UsageError):
        WixSecretsClient(api_url="http://www.wixapis.com", auth=oauth_free())


# -- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, InvalidRequestError),
        (401, AuthError),
        (403, AuthError),
        (404, NotFoundError),
        (409, AlreadyExistsError),
        (418, ProtocolError),
        (501, ServerError),
    ],
)
def test_non_retryable_statuses_fail_at_once(status: int, error_type: type[Exception]) -> None:
    fake, clock = FakeWix(), FakeClock()
    fake.fail("list", envelope(status, "SOME_CODE", "nope"))
    with pytest.raises(error_type) as info:
        run(fake, clock, lambda c: c.list_secrets())
    err = info.value
    assert err.status == status  # type: ignore[attr-defined]
    assert err.code == "SOME_CODE"  # type: ignore[attr-defined]
    assert err.request_id == f"req-{status}"  # type: ignore[attr-defined]
    assert fake.count("list") == 1


def test_validation_envelope_becomes_field_violations() -> None:
    fake, clock = FakeWix(), FakeClock()
    envelope400 = {
        "message": 'INVALID_ARGUMENT: "secret.name" must match regex',
        "details": {
            "validationError": {
                "fieldViolations": [
                    {"field": "secret.name", "description": "must match regex", "violatedRule": "FORMAT"}
                ]
            }
        },
    }
    fake.fail("create", httpx.Response(400, json=envelope400))
    with pytest.raises(InvalidRequestError) as info:
        run(fake, clock, lambda c: c.create("bad name", Sensitive(VALUE), None))
    assert [(v.field, v.violated_rule) for v in info.value.violations] == [("secret.name", "FORMAT")]
    assert info.value.code == "INVALID_ARGUMENT"
    assert "must match regex" in info.value.user_message()


def test_value_echoed_by_the_server_is_scrubbed_from_errors() -> None:
    fake, clock = FakeWix(), FakeClock()
    fake.fail("create", httpx.Response(400, json={"message": f"bad value {VALUE}", "details": {}}))
    with pytest.raises(InvalidRequestError) as info:
        run(fake, clock, lambda c: c.create("N", Sensitive(VALUE), None))
    assert VALUE not in info.value.user_message()
    assert VALUE not in repr(info.value)


def test_not_found_get_value() -> None:
    fake, clock = FakeWix(), FakeClock()
    with pytest.raises(NotFoundError) as info:
        run(fake, clock, lambda c: c.get_value("MISSING"))
    assert "MISSING" in str(info.value)
    assert fake.count("get_value") == 1


@pytest.mark.parametrize("content", [b"", b"<html>oops</html>", b"[1, 2]"])
def test_a_200_that_is_not_a_json_object_is_a_protocol_error(content: bytes) -> None:
    fake, clock = FakeWix(), FakeClock()
    fake.fail("list", httpx.Response(200, content=content))
    with pytest.raises(ProtocolError):
        run(fake, clock, lambda c: c.list_secrets())


def test_only_200_is_success() -> None:
    fake, clock = FakeWix(), FakeClock()
    fake.add("N", VALUE)
    sid = next(iter(fake.secrets))
    fake.fail("delete", httpx.Response(204))
    with pytest.raises(ProtocolError) as info:
        run(fake, clock, lambda c: c.delete(sid))
    assert info.value.status == 204


def test_redirects_are_not_followed() -> None:
    fake, clock = FakeWix(), FakeClock()
    fake.fail("list", httpx.Response(302, headers={"location": "https://evil.example/"}))
    with pytest.raises(ProtocolError):
        run(fake, clock, lambda c: c.list_secrets())
    assert len(fake.requests) == 1


# -- OAuth -----------------------------------------------------------------------------------------


def test_oauth_token_is_exchanged_once_and_cached() -> None:
    fake, clock = FakeWix(), FakeClock()

    async def body(c: WixSecretsClient) -> None:
        for _ in range(3):
            await c.list_secrets()

    run(fake, clock, body, auth=oauth())
    assert fake.ops() == ["token", "list", "list", "list"]
    token_req = fake.requests[0]
    assert token_req.raw_path == "/oauth2/token" and token_req.method == "POST"
    assert token_req.body == {
        "grant_type": "client_credentials",
        "client_id": "app-1",
        "client_secret": CLIENT_SECRET,
        "instance_id": "inst-1",
    }
    assert "authorization" not in token_req.headers
    assert all(s.headers["authorization"] == "tok-1" for s in fake.requests[1:])
    assert all("wix-site-id" not in s.headers for s in fake.requests[1:])


def test_oauth_token_is_renewed_before_it_expires() -> None:
    fake, clock = FakeWix(token_lifetime=3600), FakeClock()
    margin = OAuthClientCredentials.renewal_margin(3600)
    assert 0 < margin < 3600

    async def body(c: WixSecretsClient) -> None:
        await c.list_secrets()
        clock.now += 3600 - margin - 1
        await c.list_secrets()  # still the first token
        clock.now += 2
        await c.list_secrets()  # renewed early, before expiry

    run(fake, clock, body, auth=oauth())
    assert fake.ops() == ["token", "list", "list", "token", "list"]
    assert fake.requests[-1].headers["authorization"] == "tok-2"


def test_oauth_renews_once_on_401_then_gives_up() -> None:
    fake, clock = FakeWix(), FakeClock()

    async def body(c: WixSecretsClient) -> None:
        await c.list_secrets()
        fake.valid_tokens.clear()  # the server forgets the token
        await c.list_secrets()

    run(fake, clock, body, auth=oauth())
    assert fake.ops() == ["token", "list", "list", "token", "list"]

    fake2, clock2 = FakeWix(), FakeClock()
    fake2.fail("list", envelope(401, "UNAUTHENTICATED"), times=5)
    with pytest.raises(AuthError):
        run(fake2, clock2, lambda c: c.list_secrets(), auth=oauth())
    assert fake2.ops() == ["token", "list", "token", "list"]


def test_api_key_401_is_not_retried() -> None:
    fake, clock = FakeWix(), FakeClock()
    fake.fail("list", envelope(401, "UNAUTHENTICATED"))
    with pytest.raises(AuthError) as info:
        run(fake, clock, lambda c: c.list_secrets())
    assert fake.ops() == ["list"]
    assert "WIX_API_KEY" in (info.value.hint or "")


def test_failed_token_exchange_names_what_to_check_and_hides_the_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="reconciler.wix")
    fake, clock = FakeWix(), FakeClock()
    fake.fail(
        "token",
        httpx.Response(401, json={"error": "invalid_client", "error_description": CLIENT_SECRET}),
    )
    with pytest.raises(AuthError) as info:
        run(fake, clock, lambda c: c.list_secrets(), auth=oauth())
    text = info.value.user_message()
    for var in ("WIX_CLIENT_ID", "WIX_CLIENT_SECRET", "WIX_INSTANCE_ID"):
        assert var in text
    assert "invalid_client" in text
    assert CLIENT_SECRET not in text + repr(info.value) + repr(oauth())
    assert CLIENT_SECRET not in caplog.text
    assert fake.ops() == ["token"]


def test_token_exchange_5xx_is_retried() -> None:
    fake, clock = FakeWix(), FakeClock()
    fake.fail("token", httpx.Response(503, json={}))
    run(fake, clock, lambda c: c.list_secrets(), auth=oauth())
    assert fake.ops() == ["token", "token", "list"]


# -- read-only view --------------------------------------------------------------------------------


def test_read_only_client_has_no_write_methods() -> None:
    fake, clock = FakeWix(), FakeClock()
    fake.add("A", VALUE)

    async def body(c: WixSecretsClient) -> Any:
        ro = c.read_only()
        assert isinstance(ro, ReadOnlyClient)
        for attr in ("create", "update", "delete", "_http", "__dict__"):
            assert not hasattr(ro, attr)
        return [s.name for s in await ro.list_secrets()], await ro.get_value("A"), ro.stats

    names, value, stats = run(fake, clock, body)
    assert names == ["A"] and value == Sensitive(VALUE)
    assert stats.requests["list"] == 1


# -- logging ---------------------------------------------------------------------------------------


def test_logs_name_operations_but_never_values_keys_or_tokens(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="reconciler.wix")
    fake, clock = FakeWix(), FakeClock()
    fake.fail("create", httpx.ReadError("connection reset"), after_apply=True)
    fake.fail("list", httpx.Response(429, json={}, headers={"retry-after": "1"}))

    async def body(c: WixSecretsClient) -> None:
        sid = await c.create("LOGGED_NAME", Sensitive(VALUE), None)
        await c.get_value("LOGGED_NAME")
        await c.update(sid, value=Sensitive("another-secret-value"))

    run(fake, clock, body, auth=oauth())
    text = caplog.text
    assert "LOGGED_NAME" in text and "create" in text and "attempt" in text
    for secret in (VALUE, "another-secret-value", CLIENT_SECRET, "tok-1", API_KEY):
        assert secret not in text
    assert any(r.levelno == logging.INFO and "429" in r.getMessage() for r in caplog.records)


def test_network_errors_exhaust_retries() -> None:
    fake, clock = FakeWix(), FakeClock()
    fake.fail("list", httpx.ConnectError("refused"), times=100)
    with pytest.raises(NetworkError) as info:
        run(fake, clock, lambda c: c.list_secrets(), retries=3)
    assert fake.count("list") == 4
    assert isinstance(info.value.__cause__, httpx.ConnectError)


def test_rate_limited_error_after_bounded_retries() -> None:
    fake, clock = FakeWix(), FakeClock()
    fake.fail("list", httpx.Response(429, json={}, headers={"retry-after": "2"}), times=100)
    with pytest.raises(RateLimitedError) as info:
        run(fake, clock, lambda c: c.list_secrets(), retries=2)
    assert info.value.retry_after == 2
    assert fake.count("list") == 3
