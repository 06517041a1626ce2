"""Identities: which one is used (precedence, errors naming both), the Wix CLI token flow end to end
with a fake ``wix``/``npx`` on PATH, token commands, static tokens, and refusals that name the identity.

The fake executables are shell scripts the test writes into tmp_path; the emulator runs over loopback
HTTP and refuses API keys (``Quirks(refuse_api_keys=True)``) where the test says so.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from reconciler.emulator import Emulator, Quirks
from reconciler.errors import UsageError
from reconciler.redact import Redactor
from reconciler.wix.auth import ApiKeyAuth, CommandTokenAuth, OAuthClientCredentials, StaticTokenAuth
from reconciler.wix.identity import configured_kinds, resolve_identity

from support import EmulatorSites, Site

TOKEN_A = "wixcli-token-A-7f3e9c1d2b4a"
TOKEN_B = "wixcli-token-B-0a1b2c3d4e5f"
API_KEY = "IST.api-key-5e6f7a8b"
APP = {"WIX_CLIENT_ID": "app-1", "WIX_CLIENT_SECRET": "app-secret-9d8c7b6a", "WIX_INSTANCE_ID": "inst-1"}


# -- precedence -------------------------------------------------------------------------------------


def test_the_only_configured_identity_is_used() -> None:
    found = resolve_identity({"WIX_API_KEY": API_KEY, "WIX_SITE_ID": "S"})
    assert found.kind == "api-key" and isinstance(found.auth, ApiKeyAuth)
    assert found.describe() == "auth: API key for site S (the only identity configured)"
    found = resolve_identity(APP)
    assert found.kind == "wix-app" and isinstance(found.auth, OAuthClientCredentials)


def test_two_configured_identities_without_a_choice_name_both() -> None:
    env = {"WIX_API_KEY": API_KEY, "WIX_SITE_ID": "S", "WIX_ACCESS_TOKEN": TOKEN_A}
    with pytest.raises(UsageError) as info:
        resolve_identity(env)
    assert "WIX_API_KEY" in info.value.summary and "WIX_ACCESS_TOKEN" in info.value.summary
    assert API_KEY not in str(info.value) and TOKEN_A not in str(info.value)


def test_auth_flag_beats_wix_auth_which_beats_the_configured_one() -> None:
    env = {"WIX_API_KEY": API_KEY, "WIX_SITE_ID": "S", "WIX_ACCESS_TOKEN": TOKEN_A, "WIX_AUTH": "access-token"}
    by_env = resolve_identity(env)
    assert isinstance(by_env.auth, StaticTokenAuth) and by_env.chosen_by == "chosen by WIX_AUTH"
    by_flag = resolve_identity(env, choice="api-key")
    assert isinstance(by_flag.auth, ApiKeyAuth) and by_flag.chosen_by == "chosen by --auth"
    cli = resolve_identity({"WIX_SITE_ID": "S"}, choice="wix-cli")
    assert isinstance(cli.auth, CommandTokenAuth)
    assert cli.describe() == "auth: wix-cli token for site S (chosen by --auth)"
    assert configured_kinds({"WIX_SITE_ID": "S"}) == []  # wix-cli is never guessed


def test_wix_cli_needs_a_site_id_and_unknown_kinds_are_refused() -> None:
    with pytest.raises(UsageError, match="site id"):
        resolve_identity({}, choice="wix-cli")
    with pytest.raises(UsageError, match="unknown identity 'oauth' in WIX_AUTH"):
        resolve_identity({"WIX_AUTH": "oauth"})


def test_nothing_configured_mentions_every_identity() -> None:
    with pytest.raises(UsageError) as info:
        resolve_identity({})
    text = info.value.summary + (info.value.hint or "")
    for name in ("WIX_API_KEY", "WIX_CLIENT_ID", "wix-cli", "WIX_TOKEN_COMMAND", "WIX_ACCESS_TOKEN"):
        assert name in text


@pytest.mark.parametrize("bad", ["IST.key\nInjected: 1", "IST.kéy-non-ascii", "IST.key\x00nul", "IST.\u2028key"])
def test_a_credential_that_cannot_be_a_header_is_refused_by_name_and_registered_first(bad: str) -> None:
    redactor = Redactor()
    with pytest.raises(UsageError) as info:
        resolve_identity({"WIX_API_KEY": bad, "WIX_SITE_ID": "S"}, register=redactor.add)
    assert info.value.summary == "WIX_API_KEY contains a character not allowed in an HTTP header"
    assert bad not in str(info.value) and bad.strip() not in repr(info.value)
    assert redactor.scrub(f"x {bad.strip()} y") == "x [redacted] y"


def test_credentials_are_registered_the_moment_they_are_read() -> None:
    redactor = Redactor()
    resolve_identity({**APP, "WIX_AUTH": "wix-app", "WIX_ACCESS_TOKEN": TOKEN_A}, register=redactor.add)
    assert redactor.scrub(APP["WIX_CLIENT_SECRET"] + " " + TOKEN_A) == "[redacted] [redacted]"


# -- the Wix CLI flow, end to end ---------------------------------------------------------------------


def fake_program(directory: Path, name: str, tokens: list[str], log: Path) -> Path:
    """A program printing tokens[i] on its i-th run (the last one after that), logging its argv."""
    directory.mkdir(exist_ok=True)
    counter = directory / f".{name}.count"
    cases = "\n".join(f"  {i}) echo '{t}' ;;" for i, t in enumerate(tokens))
    script = directory / name
    lines = [
        "#!/bin/sh",
        f"n=$(cat '{counter}' 2>/dev/null || echo 0)",
        f"echo $((n + 1)) > '{counter}'",
        f"echo \"$*\" >> '{log}'",
        "case $n in",
        cases,
        f"  *) echo '{tokens[-1]}' ;;",
        "esac",
    ]
    script.write_text("\n".join(lines) + "\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


@pytest.fixture
def refusing_site(emulator_site: EmulatorSites) -> Site[Emulator]:
    """A site that refuses API keys (403) and accepts the Wix user token ``TOKEN_B``."""
    return emulator_site(api_key=API_KEY, user_tokens=[TOKEN_B], quirks=Quirks(refuse_api_keys=True))


def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "m.yaml"
    path.write_text("version: 1\nsecrets:\n  FIRST:\n    value: first-value-123\n  SECOND:\n    value: two-2222\n")
    return path


def every_file_text(root: Path, skip: Path) -> str:
    out = []
    for path in root.rglob("*"):
        if path.is_file() and skip not in path.parents:
            out.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(out)


def test_wix_cli_plan_and_apply_end_to_end_with_refetch_after_401(
    cli: Any, tmp_path: Path, refusing_site: Site[Emulator]
) -> None:
    emulator, url = refusing_site
    bin_dir, log = tmp_path / "bin", tmp_path / "wix-argv.log"
    fake_program(bin_dir, "wix", [TOKEN_A, TOKEN_B], log)  # the first token is refused (401): fetched again
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "WIX_API_URL": url}
    m = manifest(tmp_path)
    planned = cli("plan", "-v", "--auth", "wix-cli", "--site-id", "S", str(m), env=env)
    assert planned.code == 0, planned.err
    assert "auth: wix-cli token for site S (chosen by --auth)" in planned.err
    assert log.read_text().splitlines() == ["token --site S", "token --site S"]
    applied = cli("apply", "--auth", "wix-cli", "--site-id", "S", "--auto-approve", str(m), env=env)
    assert applied.code == 0, applied.out + applied.err
    again = cli("plan", "--detailed-exitcode", "--site-id", "S", str(m), env={**env, "WIX_AUTH": "wix-cli"})
    assert again.code == 0, again.out + again.err
    statuses = [r.status for r in emulator.requests]
    assert statuses.count(401) == 1 and 403 not in statuses
    for text in (planned.out, planned.err, applied.out, applied.err, again.out, again.err):
        assert TOKEN_A not in text and TOKEN_B not in text
    assert TOKEN_B not in every_file_text(tmp_path, skip=bin_dir)


def test_npx_is_the_fallback_when_wix_is_not_on_path(cli: Any, tmp_path: Path, refusing_site: Site[Emulator]) -> None:
    _, url = refusing_site
    bin_dir, log = tmp_path / "bin", tmp_path / "npx-argv.log"
    fake_program(bin_dir, "npx", [TOKEN_B], log)
    env = {"PATH": str(bin_dir) + os.pathsep + "/usr/bin:/bin", "WIX_API_URL": url, "WIX_SITE_ID": "S"}
    result = cli("plan", "--auth", "wix-cli", str(manifest(tmp_path)), env=env)
    assert result.code == 0, result.err
    assert log.read_text().splitlines() == ["--no-install @wix/cli token --site S"]


def test_no_wix_cli_at_all_says_how_to_install_it(cli: Any, tmp_path: Path, refusing_site: Site[Emulator]) -> None:
    _, url = refusing_site
    empty = tmp_path / "empty"
    empty.mkdir()
    result = cli(
        "plan",
        "--auth",
        "wix-cli",
        "--site-id",
        "S",
        str(manifest(tmp_path)),
        env={"PATH": str(empty), "WIX_API_URL": url},
    )
    assert result.code == 1
    assert "wix, npx not found on PATH" in result.err and "wix login" in result.err
    assert "Traceback" not in result.err


def test_a_failing_wix_cli_is_reported_without_its_output(
    cli: Any, tmp_path: Path, refusing_site: Site[Emulator]
) -> None:
    _, url = refusing_site
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wix = bin_dir / "wix"
    wix.write_text(f"#!/bin/sh\necho '{TOKEN_B}'\necho 'You are not logged in' >&2\nexit 7\n")
    wix.chmod(0o755)
    env = {"PATH": str(bin_dir) + os.pathsep + "/usr/bin:/bin", "WIX_API_URL": url, "WIX_SITE_ID": "S"}
    result = cli("plan", "--auth", "wix-cli", str(manifest(tmp_path)), env=env)
    assert result.code == 1
    assert "`wix token --site S` failed (exit 7)" in result.err and "not logged in" in result.err
    assert TOKEN_B not in result.err + result.out


def test_token_command_and_static_token(cli: Any, tmp_path: Path, refusing_site: Site[Emulator]) -> None:
    _, url = refusing_site
    bin_dir = tmp_path / "bin"
    fake_program(bin_dir, "get-token", [TOKEN_B], tmp_path / "argv.log")
    env = {"WIX_API_URL": url, "WIX_SITE_ID": "S", "WIX_TOKEN_COMMAND": f"{bin_dir / 'get-token'} --for 'my site'"}
    result = cli("plan", "-v", str(manifest(tmp_path)), env=env)
    assert result.code == 0, result.err
    assert (tmp_path / "argv.log").read_text().splitlines() == ["--for my site"]  # split like a shell, none run
    assert "auth: token from WIX_TOKEN_COMMAND" in result.err and TOKEN_B not in result.err
    static = cli(
        "plan", str(manifest(tmp_path)), env={"WIX_API_URL": url, "WIX_SITE_ID": "S", "WIX_ACCESS_TOKEN": TOKEN_B}
    )
    assert static.code == 0, static.err


def test_a_refused_api_key_names_the_identity_the_permission_and_the_alternatives(
    cli: Any, tmp_path: Path, refusing_site: Site[Emulator]
) -> None:
    _, url = refusing_site
    result = cli("plan", str(manifest(tmp_path)), env={"WIX_API_URL": url, "WIX_SITE_ID": "S", "WIX_API_KEY": API_KEY})
    assert result.code == 1
    text = result.err
    assert "permission denied for API key for site S" in text and "Manage Secrets" in text
    assert "--auth wix-cli" in text and "request id" in text
    assert API_KEY not in text + result.out


def test_app_access_tokens_and_site_values_are_registered_as_they_are_read() -> None:
    import asyncio

    from reconciler.emulator import EmulatorTransport
    from reconciler.model import Sensitive
    from reconciler.wix import WixSecretsClient

    emulator = Emulator(app_secret=APP["WIX_CLIENT_SECRET"])
    redactor = Redactor()
    auth = resolve_identity(APP, register=redactor.add).auth

    async def scenario() -> None:
        async with WixSecretsClient(
            api_url="https://www.wixapis.com", auth=auth, transport=EmulatorTransport(emulator), redactor=redactor
        ) as client:
            await client.create("K", Sensitive("site-value-77aa"), None)
            await client.get_value("K")

    asyncio.run(scenario())
    (token,) = emulator._tokens  # the one token the emulator minted
    assert redactor.scrub(f"{token} {APP['WIX_CLIENT_SECRET']} site-value-77aa") == "[redacted] [redacted] [redacted]"


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("head -c 100000 /dev/zero | tr '\\0' 'x'", "printed more than 65536 bytes"),
        ("echo 'two words'", "not a token"),
        ("true", "printed no token"),
    ],
)
def test_a_token_command_printing_no_usable_token_is_refused(
    cli: Any, tmp_path: Path, refusing_site: Site[Emulator], script: str, message: str
) -> None:
    _, url = refusing_site
    program = tmp_path / "tok"
    program.write_text(f"#!/bin/sh\n{script}\n")
    program.chmod(0o755)
    env = {"WIX_API_URL": url, "WIX_SITE_ID": "S", "WIX_TOKEN_COMMAND": str(program)}
    result = cli("plan", str(manifest(tmp_path)), env=env)
    assert result.code == 1
    assert message in result.err and "Traceback" not in result.err
    assert "two words" not in result.err
