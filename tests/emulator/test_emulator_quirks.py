"""Each undocumented Wix behaviour the emulator can play (``Quirks``), both sides, over both seams."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from reconciler.emulator import Emulator, Quirks

from .conftest import PREFIX, Api, make_api


def api_for(quirks: Quirks, mode: str, **kwargs: object) -> Iterator[Api]:
    return make_api(Emulator(quirks=quirks, **kwargs), mode)  # type: ignore[arg-type]


@pytest.fixture(params=["http", "transport"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_default_mode_accepts_api_keys_and_has_no_cap(mode: str) -> None:
    for api in api_for(Quirks(), mode):
        for i in range(70):
            api.create_id(f"S{i}")
        assert len(api.list().json()["secrets"]) == 70
        assert api.request("GET", PREFIX, headers={"wix-site-id": ""}).status_code == 200


def test_api_keys_refused_403_while_user_and_app_tokens_work(mode: str) -> None:
    for api in api_for(Quirks(refuse_api_keys=True), mode, user_tokens=["user-token-1234"]):
        refused = api.list()
        assert refused.status_code == 403
        assert refused.json()["details"]["applicationError"]["code"] == "PERMISSION_DENIED"
        assert api.request("GET", PREFIX, headers={"Authorization": "user-token-1234"}).status_code == 200
        grant = api.request(
            "POST",
            "/oauth2/token",
            auth=False,
            json={"grant_type": "client_credentials", "client_id": "a", "client_secret": "b", "instance_id": "i"},
        ).json()
        assert api.request("GET", PREFIX, headers={"Authorization": grant["access_token"]}).status_code == 200


def test_site_id_required_with_api_keys_only(mode: str) -> None:
    for api in api_for(Quirks(require_site_id=True), mode, user_tokens=["user-token-1234"]):
        missing = api.request("GET", PREFIX, headers={"wix-site-id": ""})
        assert missing.status_code == 428
        assert missing.json()["details"]["applicationError"]["code"] == "MISSING_METASITE_ID"
        assert api.list().status_code == 200  # AUTH carries wix-site-id
        assert api.request("GET", PREFIX, auth=False, headers={"Authorization": "user-token-1234"}).status_code == 200


def test_secret_cap_answers_429_naming_the_quota(mode: str) -> None:
    for api in api_for(Quirks(max_secrets=64), mode):
        ids = [api.create_id(f"S{i}") for i in range(64)]
        over = api.create("S64")
        assert over.status_code == 429
        body = over.json()
        assert body["details"]["applicationError"]["code"] == "RESOURCE_EXHAUSTED"
        assert "quota" in body["details"]["applicationError"]["description"]
        assert "retry-after" not in over.headers
        assert api.delete(ids[0]).status_code == 200
        assert api.create("S64").status_code == 200


def test_missing_members_area_refuses_writes_428_and_reads_work(mode: str) -> None:
    emulator = Emulator()
    Api(emulator, "transport").create_id("existing", "v")
    emulator.quirks = Quirks(no_members_area=True)
    for api in make_api(emulator, mode):
        assert api.create("new").status_code == 428
        secret_id = api.list().json()["secrets"][0]["id"]
        assert api.update(secret_id, value="x").status_code == 428
        assert api.delete(secret_id).status_code == 428
        assert api.get_value("existing").json() == {"value": "v"}


def test_read_lag_only_the_consistency_token_avoids(mode: str) -> None:
    for api in api_for(Quirks(read_lag=3), mode):
        assert api.list().json()["secrets"] == []
        created = api.create("fresh")
        token = created.headers["x-wix-consistent"]
        assert api.list().json()["secrets"] == []  # a lagging replica without the token
        assert api.get_value("fresh").status_code == 404
        echoed = api.request("GET", PREFIX, headers={"X-Wix-Consistent": token})
        assert [s["name"] for s in echoed.json()["secrets"]] == ["fresh"]
        for _ in range(3):
            api.list()
        assert [s["name"] for s in api.list().json()["secrets"]] == ["fresh"]  # eventually consistent


def test_default_mode_has_no_read_lag(mode: str) -> None:
    for api in api_for(Quirks(), mode):
        api.create("fresh")
        assert [s["name"] for s in api.list().json()["secrets"]] == ["fresh"]


@pytest.mark.parametrize("keep", [False, True])
def test_empty_description_clears_or_is_ignored(mode: str, keep: bool) -> None:
    for api in api_for(Quirks(keep_description_on_empty=keep), mode):
        secret_id = api.create_id("d", "v", "old text")
        assert api.update(secret_id, description="").status_code == 200
        listed = api.list().json()["secrets"][0]
        assert listed.get("description") == ("old text" if keep else "")


def test_emulator_cli_flags_select_the_quirks(cli) -> None:  # type: ignore[no-untyped-def]
    shown = cli("emulator", "--help")  # help is written through the console (its stdout), exit 0
    assert shown.code == 0
    text = shown.out
    for flag in ("--refuse-api-keys", "--require-site-id", "--max-secrets", "--no-members-area", "--read-lag"):
        assert flag in text
    assert "--keep-empty-description" in text and "--token" in text
    bad = cli("emulator", "--read-lag", "-1")
    assert bad.code == 1 and "read_lag" in bad.err


def test_the_emulator_process_plays_the_quirks_from_its_flags() -> None:
    import httpx

    from .test_emulator_cli import emulator_process

    token = "user-token-from-wix-cli-77"
    flags = ("--api-key", "IST.k", "--refuse-api-keys", "--token", token, "--max-secrets", "1", "--no-members-area")
    with emulator_process(*flags) as (proc, url), httpx.Client(base_url=url) as client:
        assert client.get(PREFIX, headers={"Authorization": "IST.k"}).status_code == 403
        assert client.get(PREFIX, headers={"Authorization": token}).status_code == 200
        created = client.post(PREFIX, headers={"Authorization": token}, json={"secret": {"name": "a", "value": "v"}})
        assert created.status_code == 428
        proc.terminate()
        _, err = proc.communicate(timeout=15)
        assert token not in err
