"""``wix-secrets emulator``: serve the Wix Secrets API emulator over HTTP in the foreground.

Prints one line, ``wix-secrets emulator listening on http://HOST:PORT``, to stdout once the socket is
bound (so scripts can read the URL, e.g. with ``--port 0``), serves until SIGINT or SIGTERM, then
stops cleanly. Faults (latency, rate limit, 5xx, drops, lost replies) are reproducible with ``--seed``.
The emulator itself is imported inside the handler so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from reconciler.cli.app import add_subcommand
from reconciler.cli.console import Console
from reconciler.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from reconciler.emulator import Faults

__all__ = ["register", "run"]

DESCRIPTION = """\
Run a local emulator of the Wix Secrets API (list, get value, create, update, delete and
POST /oauth2/token) with Wix's status codes, error envelopes and quirks. Point the tool at it with
--api-url, or the official JS SDK with a custom fetch. Control routes (not counted):
GET /_emulator/requests (request counts and log), POST /_emulator/reset[?state=1]; with
--api-key they need it in Authorization. Browsers' cross-origin requests and Host names other than
IP addresses and localhost are refused (DNS rebinding).
"""

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_subcommand(
        subparsers, "emulator", help="run a local emulator of the Wix Secrets API", description=DESCRIPTION
    )
    server = parser.add_argument_group("server")
    server.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    server.add_argument("--port", type=int, default=8080, help="port; 0 picks a free one (default 8080)")
    server.add_argument(
        "--state",
        metavar="FILE",
        help="persist the emulated site in FILE (JSON, mode 0600; holds values); default: in memory",
    )
    server.add_argument(
        "--api-key",
        metavar="KEY",
        help="accept only this API key (env WIX_EMULATOR_API_KEY); default: any non-empty key",
    )
    server.add_argument(
        "--app-secret",
        metavar="SECRET",
        help="client_secret /oauth2/token requires (env WIX_EMULATOR_APP_SECRET); default: the --api-key if "
        "given, else any",
    )
    server.add_argument(
        "--token",
        metavar="TOKEN",
        action="append",
        default=None,
        help="accept TOKEN as a Wix user token, as `wix token --site` prints (repeatable; env WIX_EMULATOR_TOKEN)",
    )
    server.add_argument(
        "--token-ttl",
        type=float,
        metavar="SECONDS",
        default=14400.0,
        help="lifetime of issued access tokens (default 14400, like Wix)",
    )
    quirks = parser.add_argument_group("play an undocumented Wix behaviour (docs/wix-api-assumptions.md)")
    quirks.add_argument(
        "--refuse-api-keys", action="store_true", help="answer API keys 403 PERMISSION_DENIED (tokens work)"
    )
    quirks.add_argument(
        "--require-site-id", action="store_true", help="answer API-key requests without wix-site-id 428"
    )
    quirks.add_argument(
        "--max-secrets",
        type=int,
        metavar="N",
        nargs="?",
        const=64,
        default=None,
        help="refuse creates beyond N secrets with 429 RESOURCE_EXHAUSTED (N defaults to 64)",
    )
    quirks.add_argument(
        "--no-members-area", action="store_true", help="answer writes 428, as a site without the Members Area app"
    )
    quirks.add_argument(
        "--read-lag",
        type=int,
        metavar="N",
        default=0,
        help="reads not echoing the latest X-Wix-Consistent see the site as before recent writes, for N reads",
    )
    quirks.add_argument(
        "--keep-empty-description",
        action="store_true",
        help='a PATCH with description "" leaves the description unchanged',
    )
    faults = parser.add_argument_group("fault injection (reproducible with --seed)")
    faults.add_argument("--latency", type=float, metavar="MS", default=0.0, help="added delay per request")
    faults.add_argument("--jitter", type=float, metavar="MS", default=0.0, help="extra random delay, 0..MS")
    faults.add_argument(
        "--rate-limit",
        type=int,
        metavar="N",
        default=None,
        help="requests per minute (sliding window); beyond it 429 RESOURCE_EXHAUSTED with Retry-After",
    )
    faults.add_argument(
        "--error-rate",
        type=float,
        metavar="F",
        default=0.0,
        help="fraction of requests answered 500/502/503/504 before anything is applied",
    )
    faults.add_argument(
        "--drop-rate",
        type=float,
        metavar="F",
        default=0.0,
        help="fraction of requests whose connection is closed without an answer",
    )
    faults.add_argument(
        "--lost-reply-rate",
        type=float,
        metavar="F",
        default=0.0,
        help="fraction of successful writes applied but then answered with a drop or a 5xx",
    )
    faults.add_argument("--seed", type=int, metavar="N", default=None, help="seed for every random decision")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, console: Console) -> int:
    from reconciler.emulator import Emulator, EmulatorServer, EmulatorStateError, Faults
    from reconciler.emulator.quirks import Quirks

    try:
        faults = Faults(
            latency_ms=args.latency,
            jitter_ms=args.jitter,
            rate_limit=args.rate_limit,
            error_rate=args.error_rate,
            drop_rate=args.drop_rate,
            lost_reply_rate=args.lost_reply_rate,
            seed=args.seed,
        )
        quirks = Quirks(
            refuse_api_keys=args.refuse_api_keys,
            require_site_id=args.require_site_id,
            max_secrets=args.max_secrets,
            no_members_area=args.no_members_area,
            read_lag=args.read_lag,
            keep_description_on_empty=args.keep_empty_description,
        )
    except ValueError as exc:
        raise UsageError(f"invalid fault setting: {exc}") from exc
    if args.token_ttl <= 0:
        raise UsageError("--token-ttl must be positive")
    if not 0 <= args.port <= 65535:
        raise UsageError("--port must be between 0 and 65535")
    api_key = args.api_key or console.environ.get("WIX_EMULATOR_API_KEY") or None
    app_secret = args.app_secret or console.environ.get("WIX_EMULATOR_APP_SECRET") or None
    tokens = list(args.token or [])
    if console.environ.get("WIX_EMULATOR_TOKEN"):
        tokens.append(console.environ["WIX_EMULATOR_TOKEN"])
    for credential in (api_key, app_secret, *tokens):
        if credential:
            console.redactor.add(credential)
    state: Path | None = console.resolve(args.state) if args.state else None
    try:
        emulator = Emulator(
            state_file=state,
            faults=faults,
            api_key=api_key,
            app_secret=app_secret,
            token_ttl=args.token_ttl,
            user_tokens=tokens,
            quirks=quirks,
        )
    except EmulatorStateError as exc:
        raise UsageError(str(exc), hint="remove the file or point --state elsewhere") from exc
    if args.verbose or args.debug:
        logging.getLogger("reconciler.emulator").setLevel(logging.DEBUG)
    if args.host not in LOOPBACK:
        console.err(f"warning: listening on {args.host}: plain HTTP, values travel unencrypted")

    server = EmulatorServer(emulator, host=args.host, port=args.port)
    try:
        server.start()
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from exc
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        console.out(f"wix-secrets emulator listening on {server.url}")
        details = [f"state: {state}" if state else "state: in memory"]
        if faults.active:
            details.append(_describe(faults))
        console.err("; ".join(details) + ". Stop with Ctrl-C.")
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.stop()
    counts = emulator.counts()
    console.err(f"emulator stopped after {sum(counts.values())} requests")
    return ExitCode.OK


def _describe(faults: Faults) -> str:
    names = ("latency_ms", "jitter_ms", "rate_limit", "error_rate", "drop_rate", "lost_reply_rate", "seed")
    parts = [f"{n.replace('_', '-')}={getattr(faults, n)}" for n in names if getattr(faults, n)]
    return "faults: " + " ".join(parts)
