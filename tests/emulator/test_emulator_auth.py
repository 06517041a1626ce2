"""Credentials: missing, wrong API key, OAuth client_credentials tokens and their expiry."""

from __future__ import annotations

import httpx
import pytest

from reconciler.emulator import Emulator

from .conftest import PREFIX, Api, FakeClock, make_api


def code(response: httpx.Response) -> str:
    return str(response.json()["details"]["applicationError"]["code"])


@pytest.mark.parametrize("mode", ["http", "transport"])
def test_missing_authorization_is_401(mode: str) -> None:
    for api in make_api(Emulator(), mode):
        for response in (
            api.request("GET", PREFIX, auth=False),
            api.request("POST", PREFIX, auth=False, json={"secret": {"name": "n", "value": "v"}}),
            api.request("GET", f"{PREFIX}/name/n", auth=False),
            api.request("GET", PREFIX, auth=False, headers={"Authorization": ""}),
        ):
            assert response.status_code == 401 and code(response) == "UNAUTHENTICATED"
            assert "x-wix-request-id" in response.headers
        assert api.list().json() == {"secrets": []}  # the unauthenticated create did nothing


@pytest.mark.parametrize("mode", ["http", "transport"])
def test_any_key_accepted_without_api_key_but_only_the_right_one_with(mode: str) -> None:
    for api in make_api(Emulator(), mode):
        assert api.request("GET", PREFIX, headers={"Authorization": "whatever"}).status_code == 200
    for api in make_api(Emulator(api_key="IST.test-key"), mode):
        assert api.list().status_code == 200
        wrong = api.request("GET", PREFIX, headers={"Authorization": "IST.other"})
        assert wrong.status_code == 401 and code(wrong) == "UNAUTHENTICATED"
        assert "IST.other" not in wrong.text
        bearer = api.request("GET", PREFIX, headers={"Authorization": "Bearer IST.test-key"})
        assert bearer.status_code == 401  # Wix wants the bare key


GRANT = {"grant_type": "client_credentials", "client_id": "app", "client_secret": "shh", "instance_id": "i"}


def token_request(api: Api, **overrides: str) -> httpx.Response:
    return api.request("POST", "/oauth2/token", auth=False, json={**GRANT, **overrides})


@pytest.mark.parametrize("mode", ["http", "transport"])
def test_client_credentials_token_is_accepted_until_it_expires(mode: str) -> None:
    clock = FakeClock()
    emulator = Emulator(api_key="IST.test-key", app_secret="shh", token_ttl=100, clock=clock)
    for api in make_api(emulator, mode):
        response = token_request(api)
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"access_token", "token_type", "expires_in"}
        assert body["token_type"] == "Bearer" and body["expires_in"] == 100
        token = body["access_token"]
        assert api.request("GET", PREFIX, headers={"Authorization": token}).status_code == 200
        clock.advance(99)
        assert api.request("GET", PREFIX, headers={"Authorization": token}).status_code == 200
        clock.advance(1)
        expired = api.request("GET", PREFIX, headers={"Authorization": token})
        assert expired.status_code == 401 and code(expired) == "UNAUTHENTICATED"
        assert token not in expired.text
        assert emulator.counts()["token"] == 1


@pytest.mark.parametrize("mode", ["http", "transport"])
def test_default_token_lifetime_is_four_hours(mode: str) -> None:
    for api in make_api(Emulator(), mode):
        assert token_request(api).json()["expires_in"] == 14400


def test_unknown_token_is_401_even_without_api_key() -> None:
    for api in make_api(Emulator(), "transport"):
        response = api.request("GET", PREFIX, headers={"Authorization": "wxemu.forged"})
        assert response.status_code == 401


def test_token_endpoint_errors_follow_rfc6749() -> None:
    for api in make_api(Emulator(app_secret="shh"), "http"):
        cases = [
            (token_request(api, grant_type="password"), 400, "unsupported_grant_type"),
            (token_request(api, instance_id=""), 400, "invalid_request"),
            (token_request(api, client_secret="nope"), 401, "invalid_client"),
            (api.request("POST", "/oauth2/token", auth=False, content=b"{"), 400, "invalid_request"),
        ]
        for response, status, error in cases:
            assert response.status_code == status, response.text
            assert response.json()["error"] == error
        form = api.request(
            "POST",
            "/oauth2/token",
            auth=False,
            data=GRANT,
        )
        assert form.status_code == 200
