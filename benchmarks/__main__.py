"""``python -m benchmarks``: wix-secrets against its theoretical limits (see docs/benchmarks.md).

Starts emulators (each in its own process) with injected latency and rate limits, runs every
scenario several times, and prints one table: the median measured time, the theoretical limit, their
ratio and the target. ``--quick`` is the smoke run (small N, 5 ms latency, a few seconds); the tests run
it and check the exact request counts. ``--json FILE`` / ``--markdown FILE`` keep the results.
Exit status: 1 if a request count differs from the expected one (a target missed is only reported).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

from benchmarks.scenarios import SCENARIOS, Config, Row, fmt, run_all


def markdown(rows: list[Row], cfg: Config, seconds: float) -> str:
    head = (
        "| scenario | parameters | measured (median) | limit | ratio | target | met | requests (emulator log) |\n"
        "|---|---|---:|---:|---:|---|---|---|\n"
    )
    lines = []
    for r in rows:
        ratio = f"{r.ratio:.2f}" if r.ratio is not None else "-"
        met = {True: "yes", False: "**no**", None: "-"}[r.met]
        counts = ", ".join(f"{k} {v}" for k, v in r.counts.items()) or "-"
        if r.expected and not r.counts_ok:
            counts += f" (**expected {r.expected}**)"
        lines.append(
            f"| {r.scenario} | {r.params} | {fmt(r.measured, r.unit)} | {fmt(r.limit, r.unit)} | {ratio} "
            f"| {r.target} | {met} | {counts} |"
        )
    notes = [f"- {r.scenario} [{r.params}]: {r.note}" for r in rows if r.note]
    machine = f"{platform.python_implementation()} {platform.python_version()}, {platform.machine()}"
    footer = (
        f"\n{'quick' if cfg.quick else 'full'} run, latency {cfg.latency_ms:g} ms, {cfg.repeats} run(s) per "
        f"scenario (median), {machine}, {seconds:.0f} s in all.\n"
    )
    return head + "\n".join(lines) + "\n" + footer + ("\n" + "\n".join(notes) + "\n" if notes else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the smoke run: small N, 5 ms latency, seconds")
    parser.add_argument("--repeats", type=int, default=3, help="runs per scenario (median; default 3)")
    parser.add_argument("--only", action="append", default=[], choices=sorted(SCENARIOS), help="run only these")
    parser.add_argument("--json", metavar="FILE", help="write the rows as JSON")
    parser.add_argument("--markdown", metavar="FILE", help="write the table as Markdown")
    parser.add_argument("-q", "--silent", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)
    cfg = Config.quick_config() if args.quick else Config.full(repeats=args.repeats)

    def log(line: str) -> None:
        if not args.silent:
            print(line, file=sys.stderr, flush=True)

    started = time.perf_counter()
    rows = run_all(cfg, log, tuple(args.only))
    table = markdown(rows, cfg, time.perf_counter() - started)
    print(table)
    if args.json:
        Path(args.json).write_text(json.dumps([r.as_dict() for r in rows], indent=2) + "\n", encoding="utf-8")
    if args.markdown:
        Path(args.markdown).write_text(table, encoding="utf-8")
    wrong = [r for r in rows if r.expected and not r.counts_ok]
    for r in wrong:
        print(f"request counts differ: {r.scenario} [{r.params}]: {r.counts} != {r.expected}", file=sys.stderr)
    return 1 if wrong else 0


if __name__ == "__main__":
    raise SystemExit(main())
