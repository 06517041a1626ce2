"""pre-commit hooks (``.pre-commit-hooks.yaml``): refuse plaintext manifests, validate manifests.

``python -m reconciler.action_hooks check-encrypted FILE...``
    Every file given must be SOPS-encrypted (a top-level ``sops`` block with a MAC, see
    :func:`reconciler.sops.is_encrypted`). pre-commit passes the files its ``files:`` pattern
    matches (``*.sops.yaml`` by default): a file named like an encrypted manifest that is not
    encrypted is refused, so a decrypted copy never reaches a commit. The SOPS configuration file
    (``.sops.yaml`` itself) is skipped. Nothing is decrypted and no value is read.

``python -m reconciler.action_hooks validate FILE...``
    ``wix-secrets validate`` on each file separately (manifests of different sites are
    independent), printing every problem with its file and line.

``python -m reconciler.action_hooks gitlab-mr-note --file SUMMARY.md --marker NAME``
    GitLab CI: post the Markdown summary as one note on the merge request, updated in place on the
    next run (found by the ``<!-- NAME -->`` marker on its first line).

``python -m reconciler.action_hooks gitlab-drift-issue --file SUMMARY.md --json DRIFT.json ...``
    GitLab CI: on drift, open one issue (or update the open one); when the site is back in sync,
    close it with a note. Without a usable JSON document (the check failed) nothing is touched.

The GitLab helpers read ``CI_API_V4_URL``, ``CI_PROJECT_ID``, ``CI_MERGE_REQUEST_IID`` and a token
from ``WIX_SECRETS_GITLAB_TOKEN`` (or ``GITLAB_TOKEN``). They post summaries, which hold names,
actions and fingerprints only.

Exit status: 0 when every file passes (or the note/issue was written), 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from reconciler.render.mdescape import md_comment

__all__ = [
    "DRIFT_LABEL",
    "SOPS_CONFIG_NAMES",
    "GitLabError",
    "check_encrypted",
    "gitlab_drift_issue",
    "gitlab_mr_note",
    "main",
    "validate",
]

SOPS_CONFIG_NAMES = frozenset({".sops.yaml", ".sops.yml"})
DRIFT_LABEL = "wix-secrets-drift"
NOTE_LIMIT = 60_000  # GitLab notes and descriptions hold up to 1,000,000 chars; keep them readable


def check_encrypted(files: Sequence[str], *, out: TextIO) -> int:
    """Report each file that is not SOPS-encrypted; 1 if any, else 0."""
    from reconciler.sops import is_encrypted

    failures = 0
    for name in files:
        path = Path(name)
        if path.name in SOPS_CONFIG_NAMES:
            continue
        try:
            data = path.read_bytes()
        except OSError as exc:
            out.write(f"{name}: cannot read: {exc.strerror or exc}\n")
            failures += 1
            continue
        if not is_encrypted(data):
            out.write(
                f"{name}: not SOPS-encrypted (no top-level `sops` block with a MAC); refusing to commit it.\n"
                f"  hint: encrypt it in place (`wix-secrets encrypt --in-place {name}`; recipients from "
                f".sops.yaml or --age age1...), then stage it again\n"
            )
            failures += 1
    return 1 if failures else 0


def validate(files: Sequence[str], *, out: TextIO, err: TextIO) -> int:
    """``wix-secrets validate`` each file in-process; 1 if any is invalid, else 0."""
    from reconciler.cli import run
    from reconciler.cli.console import Console
    from reconciler.redact import RedactingStream, Redactor

    worst = 0
    for name in files:
        if Path(name).name in SOPS_CONFIG_NAMES:
            continue
        redactor = Redactor()
        console = Console(
            stdout=RedactingStream(out, redactor),  # type: ignore[arg-type]
            stderr=RedactingStream(err, redactor),  # type: ignore[arg-type]
            stdin=sys.stdin,
            environ=dict(os.environ),
            cwd=Path.cwd(),
            redactor=redactor,
        )
        code = run(["validate", name], console)
        worst = max(worst, 1 if code else 0)
    return worst


# --- GitLab helpers ---------------------------------------------------------------------------------


class GitLabError(Exception):
    """The GitLab API refused a request or could not be reached; the message has no token."""


class _GitLab:
    """The few GitLab REST calls the helpers need (urllib; no dependency)."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        api = environ.get("CI_API_V4_URL", "").rstrip("/")
        project = environ.get("CI_PROJECT_ID", "")
        token = environ.get("WIX_SECRETS_GITLAB_TOKEN") or environ.get("GITLAB_TOKEN") or ""
        missing = [
            name
            for name, value in (
                ("CI_API_V4_URL", api),
                ("CI_PROJECT_ID", project),
                ("WIX_SECRETS_GITLAB_TOKEN", token),
            )
            if not value
        ]
        if missing:
            raise GitLabError(f"missing {', '.join(missing)} in the environment")
        self._base = f"{api}/projects/{urllib.parse.quote(project, safe='')}"
        self._token = token

    def request(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> tuple[Any, str | None]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self._base + path, data=data, method=method)
        req.add_header("PRIVATE-TOKEN", self._token)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as reply:
                raw = reply.read()
                next_page = reply.headers.get("X-Next-Page") or None
        except urllib.error.HTTPError as exc:
            raise GitLabError(f"GitLab API {method} {path.split('?')[0]}: HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise GitLabError(f"GitLab API {method} {path.split('?')[0]}: {exc}") from None
        return (json.loads(raw) if raw else None), next_page

    def list(self, path: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        page: str | None = "1"
        sep = "&" if "?" in path else "?"
        while page:
            data, page = self.request("GET", f"{path}{sep}per_page=100&page={page}")
            if not isinstance(data, list):
                break
            items.extend(item for item in data if isinstance(item, dict))
        return items


def _marked_body(file: str, marker: str, environ: Mapping[str, str]) -> tuple[str, str]:
    """(marker line, body): the summary file's text under ``<!-- marker -->``."""
    marker_line = md_comment(marker)  # the marker cannot close the comment and show text (issue 10.7)
    try:
        text = Path(file).read_text(encoding="utf-8")
    except OSError:
        job = environ.get("CI_JOB_URL", "")
        text = "**wix-secrets produced no summary**: see the job log" + (f" ({job})" if job else "") + ".\n"
    if len(text) > NOTE_LIMIT:
        text = text[:NOTE_LIMIT] + "\n\n*(truncated: see the job artifacts)*\n"
    return marker_line, f"{marker_line}\n{text}"


def gitlab_mr_note(file: str, marker: str, *, environ: Mapping[str, str], out: TextIO) -> int:
    """Create or update the merge request note that starts with ``<!-- marker -->``."""
    iid = environ.get("CI_MERGE_REQUEST_IID")
    if not iid:
        out.write("gitlab-mr-note: not a merge request pipeline (no CI_MERGE_REQUEST_IID); nothing posted\n")
        return 0
    try:
        api = _GitLab(environ)
        marker_line, body = _marked_body(file, marker, environ)
        notes_path = f"/merge_requests/{urllib.parse.quote(iid, safe='')}/notes"
        notes = api.list(notes_path)
        mine = next((n for n in notes if str(n.get("body") or "").startswith(marker_line)), None)
        if mine is not None:
            api.request("PUT", f"{notes_path}/{int(mine['id'])}", {"body": body})
            out.write(f"gitlab-mr-note: updated note {mine['id']} on !{iid}\n")
        else:
            created, _ = api.request("POST", notes_path, {"body": body})
            out.write(f"gitlab-mr-note: posted note {(created or {}).get('id')} on !{iid}\n")
    except GitLabError as exc:
        out.write(f"gitlab-mr-note: {exc}\n")
        return 1
    return 0


def gitlab_drift_issue(
    file: str, json_file: str, marker: str, title: str, *, environ: Mapping[str, str], out: TextIO
) -> int:
    """Open or update the drift issue when the drift document has changes; close it when clean."""
    try:
        doc = json.loads(Path(json_file).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        doc = None
    if not isinstance(doc, dict) or not isinstance(doc.get("summary"), dict) or "has_changes" not in doc:
        out.write(f"gitlab-drift-issue: {json_file} is not a drift result (the check failed?); issue left as is\n")
        return 1
    try:
        api = _GitLab(environ)
        marker_line, body = _marked_body(file, marker, environ)
        if environ.get("CI_PIPELINE_URL"):
            body += f"\nLast checked by pipeline {environ['CI_PIPELINE_URL']}.\n"
        issues = api.list(f"/issues?state=opened&labels={DRIFT_LABEL}")
        issue = next((i for i in issues if str(i.get("description") or "").startswith(marker_line)), None)
        if doc["has_changes"]:
            if issue is not None:
                api.request("PUT", f"/issues/{int(issue['iid'])}", {"title": title, "description": body})
                out.write(f"gitlab-drift-issue: drift; updated issue #{issue['iid']}\n")
            else:
                created, _ = api.request(
                    "POST", "/issues", {"title": title, "description": body, "labels": DRIFT_LABEL}
                )
                out.write(f"gitlab-drift-issue: drift; opened issue #{(created or {}).get('iid')}\n")
        elif issue is not None:
            where = environ.get("CI_PIPELINE_URL", "")
            note = "The site is back in sync with the manifest" + (f" ({where})" if where else "") + ". Closing."
            api.request("POST", f"/issues/{int(issue['iid'])}/notes", {"body": note})
            api.request("PUT", f"/issues/{int(issue['iid'])}", {"state_event": "close"})
            out.write(f"gitlab-drift-issue: in sync; closed issue #{issue['iid']}\n")
        else:
            out.write("gitlab-drift-issue: in sync; nothing to do\n")
    except GitLabError as exc:
        out.write(f"gitlab-drift-issue: {exc}\n")
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reconciler.action_hooks", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="hook", required=True, metavar="HOOK")
    enc = sub.add_parser("check-encrypted", help="refuse files that are not SOPS-encrypted")
    enc.add_argument("files", nargs="*", metavar="FILE")
    val = sub.add_parser("validate", help="validate each manifest")
    val.add_argument("files", nargs="*", metavar="FILE")
    note = sub.add_parser("gitlab-mr-note", help="post or update the summary as a merge request note")
    note.add_argument("--file", required=True, help="the Markdown summary (--markdown-file)")
    note.add_argument("--marker", required=True, help="identifies the note to update, e.g. wix-secrets:plan:shop")
    issue = sub.add_parser("gitlab-drift-issue", help="open, update or close the drift issue")
    issue.add_argument("--file", required=True, help="the Markdown summary of the drift check")
    issue.add_argument("--json", required=True, dest="json_file", help="the drift check's --json-file")
    issue.add_argument("--marker", required=True, help="identifies the issue, e.g. wix-secrets:drift:shop")
    issue.add_argument("--title", required=True, help="the issue title")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.hook == "check-encrypted":
        return check_encrypted(args.files, out=sys.stderr)
    if args.hook == "validate":
        return validate(args.files, out=sys.stdout, err=sys.stderr)
    if args.hook == "gitlab-mr-note":
        return gitlab_mr_note(args.file, args.marker, environ=os.environ, out=sys.stdout)
    return gitlab_drift_issue(args.file, args.json_file, args.marker, args.title, environ=os.environ, out=sys.stdout)


if __name__ == "__main__":
    raise SystemExit(main())
