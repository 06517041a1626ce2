"""The five Secrets endpoints and their errors, over loopback HTTP and through the in-process transport."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from reconciler.emulator import Emulator

from .conftest import PREFIX, Api, make_api

ISO_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def app_code(response: httpx.Response) -> str:
    return str(response.json()["details"]["applicationError"]["code"])


def violations(response: httpx.Response) -> list[tuple[str, str]]:
    assert response.status_code == 400, response.text
    found = response.json()["details"]["validationError"]["fieldViolations"]
    return [(v["field"], v["violatedRule"]) for v in found]


def test_empty_list_is_200_with_empty_array(api: Api) -> None:
    response = api.list()
    assert response.status_code == 200
    assert response.json() == {"secrets": []}
    assert response.headers["content-type"] == "application/json"
    uuid.UUID(response.headers["x-wix-request-id"])


def test_create_list_get_value(api: Api) -> None:
    response = api.create("api_key", "s3cr3t", "the key")
    assert response.status_code == 200
    secret_id = response.json()["id"]
    assert uuid.UUID(secret_id).version == 4
    assert set(response.json()) == {"id"}
    listed = api.list().json()["secrets"]
    assert len(listed) == 1
    item = listed[0]
    assert set(item) == {"id", "name", "description", "createdDate", "updatedDate"}  # never the value
    assert (item["id"], item["name"], item["description"]) == (secret_id, "api_key", "the key")
    assert ISO_MS.fullmatch(item["createdDate"]) and item["createdDate"] == item["updatedDate"]
    assert api.get_value("api_key").json() == {"value": "s3cr3t"}


def test_description_omitted_when_never_set(api: Api) -> None:
    api.create_id("plain")
    assert "description" not in api.list().json()["secrets"][0]


def test_list_is_in_creation_order_and_survives_renames(api: Api) -> None:
    ids = [api.create_id(name) for name in ("zeta", "alpha", "Mid")]
    assert api.update(ids[0], name="aaa").status_code == 200
    listed = api.list().json()["secrets"]
    assert [s["id"] for s in listed] == ids
    assert [s["name"] for s in listed] == ["aaa", "alpha", "Mid"]


def test_update_changes_only_given_fields(api: Api) -> None:
    secret_id = api.create_id("db", "one", "desc")
    response = api.update(secret_id, value="two")
    assert response.status_code == 200 and response.json() == {}
    assert api.get_value("db").json() == {"value": "two"}
    assert api.list().json()["secrets"][0]["description"] == "desc"
    assert api.update(secret_id, name="db2", description="").status_code == 200
    item = api.list().json()["secrets"][0]
    assert (item["name"], item["description"]) == ("db2", "")
    assert api.get_value("db").status_code == 404
    assert api.get_value("db2").json() == {"value": "two"}


def test_patch_without_id_in_body_and_empty_secret(api: Api) -> None:
    secret_id = api.create_id("x")
    response = api.request("PATCH", f"{PREFIX}/{secret_id}", json={"secret": {}})
    assert response.status_code == 200 and response.json() == {}


def test_updated_date_strictly_increases_within_one_millisecond() -> None:
    frozen = Emulator(wall_ms=lambda: 1_700_000_000_000)
    for api in make_api(frozen, "transport"):
        secret_id = api.create_id("t")
        dates = [api.list().json()["secrets"][0]["updatedDate"]]
        for n in range(5):
            assert api.update(secret_id, value=f"v{n}").status_code == 200
            dates.append(api.list().json()["secrets"][0]["updatedDate"])
        assert dates == sorted(set(dates)) and len(dates) == 6
        assert dates[0] == "2023-11-14T22:13:20.000Z"
        assert dates[-1] == "2023-11-14T22:13:20.005Z"
        assert api.list().json()["secrets"][0]["createdDate"] == dates[0]


def test_updated_date_increases_with_real_clock(api: Api) -> None:
    secret_id = api.create_id("t")
    before = api.list().json()["secrets"][0]["updatedDate"]
    api.update(secret_id, value="again")
    after = api.list().json()["secrets"][0]["updatedDate"]
    assert after > before


def test_delete_then_404(api: Api) -> None:
    secret_id = api.create_id("gone")
    response = api.delete(secret_id)
    assert response.status_code == 200 and response.json() == {}
    assert api.list().json() == {"secrets": []}
    again = api.delete(secret_id)
    assert again.status_code == 404 and app_code(again) == "NOT_FOUND"
    assert api.update(secret_id, value="x").status_code == 404


def test_unknown_name_is_404_not_found(api: Api) -> None:
    response = api.get_value("missing")
    assert response.status_code == 404
    assert app_code(response) == "NOT_FOUND"
    assert "x-wix-request-id" in response.headers


def test_unknown_but_valid_id_is_404(api: Api) -> None:
    response = api.update(str(uuid.uuid4()), value="x")
    assert response.status_code == 404 and app_code(response) == "NOT_FOUND"


def test_duplicate_name_on_create_is_409_case_sensitive(api: Api) -> None:
    api.create_id("Token")
    response = api.create("Token", "other")
    assert response.status_code == 409 and app_code(response) == "ALREADY_EXISTS"
    assert api.create("token").status_code == 200  # names differing in case are different names
    assert len(api.list().json()["secrets"]) == 2
    assert api.get_value("Token").json() == {"value": "v"}


def test_rename_onto_existing_name_is_409_and_to_itself_is_fine(api: Api) -> None:
    first = api.create_id("one")
    api.create_id("two")
    response = api.update(first, name="two", value="changed")
    assert response.status_code == 409 and app_code(response) == "ALREADY_EXISTS"
    assert api.get_value("one").json() == {"value": "v"}  # nothing half-applied
    assert api.update(first, name="one").status_code == 200


@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        ({"value": "v"}, [("secret.name", "REQUIRED_FIELD")]),
        ({"name": "n"}, [("secret.value", "REQUIRED_FIELD")]),
        ({}, [("secret.name", "REQUIRED_FIELD"), ("secret.value", "REQUIRED_FIELD")]),
        ({"name": "", "value": "v"}, [("secret.name", "MIN_LENGTH")]),
        ({"name": "a" * 51, "value": "v"}, [("secret.name", "MAX_LENGTH")]),
        ({"name": "has space", "value": "v"}, [("secret.name", "FORMAT")]),
        ({"name": "dot.name", "value": "v"}, [("secret.name", "FORMAT")]),
        ({"name": "é", "value": "v"}, [("secret.name", "FORMAT")]),
        ({"name": "wixKey", "value": "v"}, [("secret.name", "FORMAT")]),
        ({"name": "WIX_KEY", "value": "v"}, [("secret.name", "FORMAT")]),
        ({"name": 5, "value": "v"}, [("secret.name", "FORMAT")]),
        ({"name": "n", "value": ""}, [("secret.value", "MIN_LENGTH")]),
        ({"name": "n", "value": "x" * 3501}, [("secret.value", "MAX_LENGTH")]),
        ({"name": "n", "value": "v", "description": "d" * 201}, [("secret.description", "MAX_LENGTH")]),
        ({"name": "n", "value": "v", "description": 3}, [("secret.description", "FORMAT")]),
    ],
)
def test_create_validation(api: Api, secret: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    response = api.request("POST", PREFIX, json={"secret": secret})
    assert violations(response) == expected
    assert response.json()["message"].startswith("INVALID_ARGUMENT")
    assert api.list().json() == {"secrets": []}


def test_create_limits_are_inclusive(api: Api) -> None:
    name = "A-z_0+9=@#$" + "a" * 39
    assert len(name) == 50
    secret_id = api.create_id(name, "x" * 3500, "d" * 200)
    assert api.list().json()["secrets"][0]["id"] == secret_id
    assert api.create_id("mywix") and api.create_id("w1x")


def test_validation_errors_never_echo_values(api: Api) -> None:
    response = api.create("bad name", "x" * 3501)
    assert "xxxx" not in response.text


@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        ({"name": "wixy"}, [("secret.name", "FORMAT")]),
        ({"name": "b" * 51}, [("secret.name", "MAX_LENGTH")]),
        ({"value": ""}, [("secret.value", "MIN_LENGTH")]),
        ({"value": "v" * 3501}, [("secret.value", "MAX_LENGTH")]),
        ({"description": "d" * 201}, [("secret.description", "MAX_LENGTH")]),
    ],
)
def test_update_validation_only_present_fields(
    api: Api, secret: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    secret_id = api.create_id("ok", "keep")
    assert violations(api.update(secret_id, **secret)) == expected
    assert api.get_value("ok").json() == {"value": "keep"}


def test_update_without_secret_object(api: Api) -> None:
    secret_id = api.create_id("ok")
    response = api.request("PATCH", f"{PREFIX}/{secret_id}", json={"id": secret_id})
    assert violations(response) == [("secret", "REQUIRED_FIELD")]


@pytest.mark.parametrize("bad_id", ["not-a-guid", "123", "a560ff70-3e9b-41b6-b66d-cf3434085f7"])
def test_non_guid_id_is_400_on_field_id(api: Api, bad_id: str) -> None:
    assert violations(api.update(bad_id, value="x")) == [("id", "FORMAT")]
    assert violations(api.delete(bad_id)) == [("id", "FORMAT")]


@pytest.mark.parametrize("body", [b"", b"not json", b"[1]"])
def test_malformed_body_is_400(api: Api, body: bytes) -> None:
    response = api.request("POST", PREFIX, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert app_code(response) == "INVALID_ARGUMENT"


@pytest.mark.parametrize("prefix", ["/_api/cloud-secrets-vault-server", "/secrets-service", ""])
def test_all_three_prefixes_route(api: Api, prefix: str) -> None:
    response = api.request("POST", f"{prefix}/api/v1/secrets", json={"secret": {"name": "p", "value": "v"}})
    assert response.status_code == 200
    assert api.request("GET", f"{prefix}/api/v1/secrets/name/p").json() == {"value": "v"}
    assert api.request("GET", f"{prefix}/api/v1/secrets/").json()["secrets"][0]["name"] == "p"
    assert api.request("DELETE", f"{prefix}/api/v1/secrets/{response.json()['id']}").status_code == 200


def test_query_strings_ignored_like_the_sdk_sends_them(api: Api) -> None:
    secret_id = api.create_id("a+b=c@d$e", "special")
    # the SDK: raw path, plus the encoded copy as a query string
    response = api.request("GET", f"{PREFIX}/name/a+b=c@d$e?name=a%2Bb%3Dc%40d%24e")
    assert response.json() == {"value": "special"}
    assert api.request("GET", f"{PREFIX}?paging.limit=1").status_code == 200
    assert api.request("DELETE", f"{PREFIX}/{secret_id}?id={secret_id}").status_code == 200


def test_path_is_percent_decoded_and_plus_is_literal(api: Api) -> None:
    api.create_id("a#b", "hash")
    api.create_id("x+y", "plus")
    assert api.request("GET", f"{PREFIX}/name/a%23b").json() == {"value": "hash"}
    assert api.request("GET", f"{PREFIX}/name/x%2By").json() == {"value": "plus"}
    assert api.request("GET", f"{PREFIX}/name/x+y").json() == {"value": "plus"}
    assert api.request("GET", f"{PREFIX}/name/x y").status_code == 404  # '+' is not a space


def test_guid_in_upper_case_finds_the_secret(api: Api) -> None:
    secret_id = api.create_id("u")
    assert api.update(secret_id.upper(), value="w").status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nope"),
        ("PUT", PREFIX),
        ("GET", f"{PREFIX}/6f1c2b9e-8d3a-4c5e-9b7f-0a1d2e3f4a5b"),
        ("GET", "/oauth2/token"),
        ("GET", f"{PREFIX}/name/a/b"),
        ("GET", f"{PREFIX}x"),
        ("GET", f"/prefix{PREFIX}"),
        ("DELETE", PREFIX),
        ("PATCH", f"{PREFIX}/name/x"),
    ],
)
def test_unknown_routes_are_404_and_logged_as_other(api: Api, method: str, path: str) -> None:
    response = api.request(method, path)
    assert response.status_code == 404 and app_code(response) == "NOT_FOUND"
    assert api.emulator.requests[-1].route == "other"
