"""A fake GitLab API on loopback HTTP for the GitLab helpers (``reconciler.action_hooks``), used by the
hooks' tests (tests/action/test_hooks.py) and the GitLab CI example's run (tests/examples/); the
``gitlab`` fixture in tests/conftest.py serves one for a test.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from reconciler.action_hooks import DRIFT_LABEL

from support import send_json


class FakeGitLab:
    """Merge request 7's notes and the issues of project 42, with the request log; PRIVATE-TOKEN must be
    ``token``. Notes are listed two a page (the helper must follow X-Next-Page). A context manager:
    the server runs from ``__enter__`` to ``__exit__``."""

    def __init__(self, token: str = "glpat-test-token-0001") -> None:
        self.token = token
        self.notes: list[dict[str, Any]] = []
        self.issues: list[dict[str, Any]] = []
        self.issue_notes: list[tuple[int, str]] = []
        self.log: list[tuple[str, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return None

            def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                send_json(self, status, json.dumps(body).encode(), headers)

            def _handle(self, method: str) -> None:
                url = urlsplit(self.path)
                fake.log.append((method, url.path))
                if self.headers.get("PRIVATE-TOKEN") != fake.token:
                    return self._reply(401, {"message": "401 Unauthorized"})
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else {}
                query = parse_qs(url.query)
                page = int(query.get("page", ["1"])[0])
                parts = url.path.split("/")  # /api/v4/projects/42/...
                assert parts[:5] == ["", "api", "v4", "projects", "42"], url.path
                rest = parts[5:]
                if rest[:3] == ["merge_requests", "7", "notes"]:
                    if method == "GET":
                        # two pages, to check that the helper follows X-Next-Page
                        chunk = fake.notes[(page - 1) * 2 : page * 2]
                        more = len(fake.notes) > page * 2
                        return self._reply(200, chunk, {"X-Next-Page": str(page + 1) if more else ""})
                    if method == "POST":
                        note = {"id": 100 + len(fake.notes), "body": body["body"]}
                        fake.notes.append(note)
                        return self._reply(201, note)
                    if method == "PUT":
                        note = next(n for n in fake.notes if n["id"] == int(rest[3]))
                        note["body"] = body["body"]
                        return self._reply(200, note)
                if rest[:1] == ["issues"]:
                    if method == "GET" and len(rest) == 1:
                        assert query["labels"] == [DRIFT_LABEL] and query["state"] == ["opened"]
                        return self._reply(200, [i for i in fake.issues if i["state"] == "opened"])
                    if method == "POST" and len(rest) == 1:
                        issue = {"iid": 1 + len(fake.issues), "state": "opened", **body}
                        fake.issues.append(issue)
                        return self._reply(201, issue)
                    issue = next(i for i in fake.issues if i["iid"] == int(rest[1]))
                    if method == "PUT":
                        if body.pop("state_event", None) == "close":
                            issue["state"] = "closed"
                        issue.update(body)
                        return self._reply(200, issue)
                    if method == "POST" and rest[2:] == ["notes"]:
                        fake.issue_notes.append((issue["iid"], body["body"]))
                        return self._reply(201, {"id": 1})
                return self._reply(404, {"message": "404 Not Found"})

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_PUT(self) -> None:
                self._handle("PUT")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The API root, as GitLab CI's ``CI_API_V4_URL``."""
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/api/v4"

    def env(self, **more: str) -> dict[str, str]:
        """The CI variables the GitLab helpers read, pointing at this fake (``more`` added)."""
        return {"CI_API_V4_URL": self.url, "CI_PROJECT_ID": "42", "WIX_SECRETS_GITLAB_TOKEN": self.token, **more}

    def __enter__(self) -> FakeGitLab:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
