"""The last line of defence against leaking a secret value: scrub registered values from text.

Values are kept out of output by construction (:class:`reconciler.model.Sensitive`); this module
catches what construction missed. A :class:`Redactor` holds every value the run has seen (decrypted
from the manifest or read from Wix) together with the forms in which it could slip out: base64
(standard and URL-safe, with and without padding), URL-encoding, and JSON string escaping. The CLI
wraps stdout, stderr and the log handler with it.

Values shorter than :data:`MIN_LENGTH` characters are not scrubbed: replacing every ``"1"`` in the
output would make it unreadable and would itself reveal the value.

Adding a value is cheap; the matcher is built when text is next scrubbed. Up to :data:`REGEX_FORMS`
forms (a handful of secrets) it is one compiled alternation (longest first); beyond that the text is
scanned with sets instead (the forms' first :data:`MIN_LENGTH` characters, then the forms by length,
longest first), with exactly the same result: at the leftmost position where any form matches, the
longest form is replaced. Compiling the alternation costs about 1 ms per form (0.4 s for a 300-secret
plan, seconds and over 100 MiB for thousands), far more than scanning what this tool prints.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import urllib.parse
from collections.abc import Iterable
from typing import Final, TextIO

__all__ = ["MIN_LENGTH", "REPLACEMENT", "RedactingFilter", "RedactingStream", "Redactor", "forms_of"]

MIN_LENGTH: Final = 4
REPLACEMENT: Final = "[redacted]"
#: Above this many forms, scrub with the prefix index instead of one regular expression (compiling
#: the alternation costs more than scanning the output; see the module docstring).
REGEX_FORMS: Final = 64


def forms_of(value: str) -> set[str]:
    """Every encoding of ``value`` that could appear in output."""
    raw = value.encode("utf-8")
    forms = {
        value,
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        urllib.parse.quote(value, safe=""),
        urllib.parse.quote_plus(value, safe=""),
        urllib.parse.quote(value, safe="+=@$-_"),
    }
    for encoder in (base64.b64encode, base64.urlsafe_b64encode):
        encoded = encoder(raw).decode("ascii")
        forms.add(encoded)
        forms.add(encoded.rstrip("="))
    return {f for f in forms if len(f) >= MIN_LENGTH}


class Redactor:
    """A thread-safe set of sensitive strings and a ``scrub`` that replaces them."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._forms: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._stale = False
        self._heads: set[str] = set()  # the first MIN_LENGTH characters of every form
        self._by_length: dict[int, set[str]] = {}
        self._lengths: tuple[int, ...] = ()  # longest first
        for value in values:
            self.add(value)

    def add(self, value: str) -> None:
        if len(value) < MIN_LENGTH:
            return
        new = forms_of(value) - self._forms
        if not new:
            return
        with self._lock:
            self._forms |= new
            for form in new:
                self._heads.add(form[:MIN_LENGTH])
                self._by_length.setdefault(len(form), set()).add(form)
            # longest first, so a value is replaced whole before any shorter value inside it
            self._lengths = tuple(sorted(self._by_length, reverse=True))
            self._stale = True

    def __len__(self) -> int:
        return len(self._forms)

    def _regex(self) -> re.Pattern[str] | None:
        with self._lock:
            if self._stale:
                ordered = sorted(self._forms, key=len, reverse=True)
                self._pattern = re.compile("|".join(re.escape(f) for f in ordered)) if ordered else None
                self._stale = False
            return self._pattern

    def scrub(self, text: str) -> str:
        if not text or not self._forms:
            return text
        if len(self._forms) <= REGEX_FORMS:
            pattern = self._regex() if self._stale else self._pattern
            return pattern.sub(REPLACEMENT, text) if pattern is not None else text
        return self._scan(text)

    def _scan(self, text: str) -> str:
        heads, by_length, lengths = self._heads, self._by_length, self._lengths
        out: list[str] = []
        start = i = 0
        end = len(text) - MIN_LENGTH + 1
        while i < end:
            if text[i : i + MIN_LENGTH] in heads:
                for length in lengths:
                    if text[i : i + length] in by_length[length]:
                        out.append(text[start:i])
                        out.append(REPLACEMENT)
                        i += length
                        start = i
                        break
                else:
                    i += 1
            else:
                i += 1
        out.append(text[start:])
        return "".join(out)


class RedactingStream:
    """A text stream that scrubs everything written through it. Line-buffered scrubbing is not
    needed: every write from this tool is a whole line or more, and values never span writes."""

    def __init__(self, inner: TextIO, redactor: Redactor) -> None:
        self._inner = inner
        self._redactor = redactor

    def write(self, text: str) -> int:
        self._inner.write(self._redactor.scrub(text))
        return len(text)

    def flush(self) -> None:
        self._inner.flush()

    def isatty(self) -> bool:
        return self._inner.isatty()

    def fileno(self) -> int:
        return self._inner.fileno()

    @property
    def encoding(self) -> str:
        return getattr(self._inner, "encoding", "utf-8") or "utf-8"


class RedactingFilter(logging.Filter):
    """Formats each record early and scrubs the result, including exception text."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg = self._redactor.scrub(message)
        record.args = None
        if record.exc_text:
            record.exc_text = self._redactor.scrub(record.exc_text)
        return True
