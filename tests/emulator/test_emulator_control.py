"""The request log and the /_emulator control routes: exact counts, no auth, never counted themselves."""

from __future__ import annotations

import httpx
import pytest

from reconciler.emulator import Emulator, EmulatorServer, RequestRecord

from .conftest import PREFIX, Api


def test_every_request_is_recorded_with_route_status_and_fault(api: Api) -> None:
    secret_id = api.create_id("a")
    api.create("a")
    api.list()
    api.get_value("a")
    api.get_value("zz")
    api.update(secret_id, value="b")
    api.delete(secret_id)
    api.request("GET", PREFIX, auth=False)
    api.request("GET", "/elsewhere")
    api.request("POST", "/oauth2/token", auth=False, json={"grant_type": "x"})
    assert api.emulator.requests == [
        RequestRecord("POST", "create", 200, None),
        RequestRecord("POST", "create", 409, None),
        RequestRecord("GET", "list", 200, None),
        RequestRecord("GET", "get_value", 200, None),
        RequestRecord("GET", "get_value", 404, None),
        RequestRecord("PATCH", "update", 200, None),
        RequestRecord("DELETE", "delete", 200, None),
        RequestRecord("GET", "list", 401, None),
        RequestRecord("GET", "other", 404, None),
        RequestRecord("POST", "token", 400, None),
    ]
    assert api.emulator.counts() == {
        "list": 2,
        "get_value": 2,
        "create": 2,
        "update": 1,
        "delete": 1,
        "token": 1,
        "other": 1,
    }


def test_requests_endpoint_and_reset_over_http() -> None:
    emulator = Emulator(api_key="secret-key")
    with EmulatorServer(emulator) as server, httpx.Client(base_url=server.url) as anonymous:
        headers = {"Authorization": "secret-key"}
        client = httpx.Client(base_url=server.url, headers=headers)  # with --api-key, control routes need it
        client.post(PREFIX, headers=headers, json={"secret": {"name": "n", "value": "v"}})
        client.get(PREFIX, headers=headers)
        anonymous.get(PREFIX)  # 401
        assert anonymous.get("/_emulator/requests").status_code == 401
        assert anonymous.post("/_emulator/reset?state=1").status_code == 401
        report = client.get("/_emulator/requests")
        assert report.status_code == 200
        body = report.json()
        assert body["total"] == 3
        assert body["counts"]["create"] == 1 and body["counts"]["list"] == 2
        assert body["byStatus"] == {"200": 2, "401": 1}
        assert body["requests"][0] == {"method": "POST", "route": "create", "status": 200, "fault": None}
        assert client.get("/_emulator/requests").json()["total"] == 3  # control routes are not counted

        assert client.post("/_emulator/reset").json() == {}
        assert client.get("/_emulator/requests").json()["total"] == 0
        assert len(client.get(PREFIX, headers=headers).json()["secrets"]) == 1  # state kept

        assert client.post("/_emulator/reset?state=1").status_code == 200
        assert client.get(PREFIX, headers=headers).json() == {"secrets": []}
        assert emulator.counts()["list"] == 1
        assert client.get("/_emulator/nothing").status_code == 404
        client.close()
        assert emulator.requests == [RequestRecord("GET", "list", 200, None)]


def test_reset_clears_the_log_in_place(emulator: Emulator) -> None:
    log = emulator.requests
    emulator.handle("GET", PREFIX, {"Authorization": "k"}, b"")
    emulator.reset()
    assert log is emulator.requests and log == []


@pytest.mark.parametrize("flag", ["0", "false"])
def test_reset_without_state_flag_keeps_secrets(emulator: Emulator, flag: str) -> None:
    emulator.handle("POST", PREFIX, {"Authorization": "k"}, b'{"secret":{"name":"n","value":"v"}}')
    emulator.handle("POST", f"/_emulator/reset?state={flag}", {}, b"")
    assert len(emulator.handle("GET", PREFIX, {"Authorization": "k"}, b"").json()["secrets"]) == 1


def test_clearing_the_request_log_zeroes_the_counts_too() -> None:
    emulator = Emulator(api_key="k")
    with EmulatorServer(emulator) as server:
        assert httpx.get(server.url + PREFIX, headers={"Authorization": "k"}).status_code == 200
    assert emulator.counts()["list"] == 1
    emulator.requests.clear()  # what a test does to count from here: the counts follow
    assert emulator.counts()["list"] == 0 and emulator.requests == []
