"""Markdown/HTML injection through the Action's job summary and summary file (issue 10.7).

A pull request's manifest names secrets with HTML and Markdown; the job summary (and the file a later
step posts as the PR comment) must show those names as text: no image, no link, no HTML, no extra
table row. The entry point runs as the composite step runs it, against a live emulator."""

from __future__ import annotations

import html
import re
from pathlib import Path

from reconciler.emulator import Emulator

from .gha import API_KEY, SITE_ID, Runner
from support import AgeKey, Site

IMG = "<img src=x onerror=alert(1)>"
LINK = "[approve](https://evil.example/x)"


def readable(markdown: str) -> str:
    text = re.sub(r"</?code>", "", markdown)
    return html.unescape(re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text))


def test_hostile_secret_names_do_not_become_html_or_links_in_the_job_summary(
    runner: Runner, site: Site[Emulator], age_key: AgeKey
) -> None:
    hostile = runner.workspace / "secrets" / "pr.yaml"
    hostile.write_text(
        f'version: 1\nsecrets:\n  "{IMG}":\n    value: v1-value-1234\n  "{LINK}":\n    value: v2-value-5678\n',
        encoding="utf-8",
    )
    inputs = {
        "manifest": "secrets/pr.yaml",
        "api-url": site.url,
        "site-id": SITE_ID,
        "api-key": API_KEY,
        "age-key": age_key.identity,
        "command": "plan",
    }
    run = runner.run_entry_point(inputs)
    assert run.code == 1
    comment = Path(run.outputs["summary-file"]).read_text(encoding="utf-8")
    for markdown in (run.summary, comment):
        assert "2 problems found" in markdown
        body = markdown.split("-->", 1)[1]  # after the <!-- wix-secrets:plan:... --> marker line
        assert "<img" not in body and "](" not in body and "://" not in body
        assert "<" not in body.replace("<code>", "").replace("</code>", "")
        shown = readable(body)
        assert f"name '{IMG}'" in shown and f"name '{LINK}'" in shown
    assert site.emulator.requests == []
    run.assert_no_leak({"a": "v1-value-1234", "b": "v2-value-5678"})
