"""Escaping of user- and server-controlled text for Markdown output (issue 10.7).

Every Markdown writer (``render/markdown.py``, the CLI's error Markdown, the Action's summary) puts
text it did not write itself (secret names, descriptions, diagnostics, file paths, server error
messages, site labels) through these two functions, and nothing else:

- :func:`md_text` for running text and table cells: HTML cannot form (``<``, ``>``, ``&`` become
  entities), links, images, emphasis, code spans, headings, lists, quotes and table cells cannot form
  (every ASCII punctuation character with a meaning in CommonMark/GFM is backslash-escaped), bare URLs
  are not autolinked (``:`` before ``//`` becomes ``&#58;``, the dot of ``www.`` is escaped), and
  line breaks become spaces so the text stays on its line (and in its table cell).
- :func:`md_fenced` for a block shown verbatim: a fenced code block whose fence is longer than any
  run of backticks in the text, so no line of it can close the block early.
- :func:`md_comment` for a hidden marker: an HTML comment whose content cannot end it (``--`` and ``>``
  are replaced), on one line.
- :func:`md_code` for a name or a path shown as code: a backtick code span when the text is plain, and
  ``<code>`` around :func:`md_text` when it holds anything a code span cannot carry safely (backticks,
  ``|`` in a table, ``<``/``>``/``&``, line breaks, control characters).

A CommonMark renderer shows the original text (every escape here is one a renderer undoes), so the
output stays readable; only the raw Markdown source carries the escapes.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["md_code", "md_comment", "md_fenced", "md_text"]

# ASCII punctuation that means something to CommonMark or GFM (or GitHub: ``$`` math, ``@`` mentions,
# ``#`` references) anywhere in a line; a backslash before any ASCII punctuation is an escape, so
# escaping one that means nothing at that spot is harmless.
_PUNCTUATION: Final = frozenset("\\`*_[]()!#|~$@")
# meaningful only at the start of a line (list items, setext underlines, ordered lists "1." / "1)")
_LINE_START: Final = frozenset("-+=")
_ORDERED: Final = re.compile(r"\d+([.)])")
_ENTITIES: Final = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# line breaks of every kind, and the other characters a renderer may treat as one
_LINE_BREAKS: Final = re.compile(r"[\r\n\u0085\u2028\u2029\v\f]+")
# other C0/C1 controls and DEL: never meaningful in a summary, shown as U+FFFD
_CONTROLS: Final = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f]")
_PLAIN_CODE: Final = re.compile(r"[A-Za-z0-9 _+=@#$%^*.,:;/\\~?'\"{}-]*")


def _flatten(text: str) -> str:
    text = _LINE_BREAKS.sub(" ", text)
    return _CONTROLS.sub("\ufffd", text).replace("\t", " ")


def md_text(text: object) -> str:
    """``text`` as inert Markdown: it renders as itself, on one line, and forms no markup."""
    flat = _flatten(str(text))
    out: list[str] = []
    ordered = _ORDERED.match(flat)
    ordered_at = ordered.start(1) if ordered is not None else -1
    for index, char in enumerate(flat):
        if char in _ENTITIES:
            out.append(_ENTITIES[char])
        elif char == ":" and flat.startswith("//", index + 1):
            out.append("&#58;")  # no bare-URL autolink (GFM) from "scheme://"
        elif char == "." and flat[max(0, index - 3) : index].lower() == "www":
            out.append("\\.")  # nor from "www."
        elif char in _PUNCTUATION or (index == 0 and char in _LINE_START) or index == ordered_at:
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)


def md_code(text: object) -> str:
    """``text`` shown as code: a code span when that is safe anywhere (tables too), else ``<code>``."""
    raw = str(text)
    if raw and _PLAIN_CODE.fullmatch(raw) and raw.strip() == raw:
        return f"`{raw}`"
    return f"<code>{md_text(raw)}</code>"


def md_fenced(text: str) -> str:
    """``text`` as a fenced code block (verbatim, several lines) that no line of it can close."""
    lines = [_CONTROLS.sub("\ufffd", line) for line in text.replace("\r\n", "\n").splitlines()]
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return "\n".join([fence, *lines, fence])


def md_comment(text: str) -> str:
    """``<!-- text -->`` that nothing in ``text`` can close early (no ``--``, no ``>``, one line)."""
    inner = _flatten(text).replace(">", "_")
    while "--" in inner:
        inner = inner.replace("--", "-_")
    return f"<!-- {inner.strip('-')} -->"
