"""Find the secret names a JavaScript/TypeScript file reads: tokens in, :class:`CodeReference` out. Pure.

Recognised (see ``docs/code-aware.md``):

- ``getSecret("name")`` of ``wix-secrets-backend`` (Velo v1), also as ``ns.getSecret(...)``,
  ``(0, ns.getSecret)(...)`` (bundled/minified code) and any local alias (``import { getSecret as g }``,
  ``const { getSecret: g } = ...``, ``const g = getSecret``);
- ``secrets.getSecretValue("name")`` of ``wix-secrets-backend.v2`` and ``@wix/secrets``, also elevated:
  ``auth.elevate(secrets.getSecretValue)("name")`` and ``const get = elevate(secrets.getSecretValue)``;
- the name as a single-, double- or template-quoted literal without interpolation, a concatenation of
  them, a ``const`` of this file holding one (``const KEY: string = "name" as const``), or a member of a
  ``const`` object literal or TypeScript ``enum`` of this file (``NAMES.stripe``, ``Names["stripe"]``).

Anything else that calls or passes a getter (a parameter, an interpolated template, a ``let``, a
value imported from elsewhere, ``names.map(getSecret)``, ``getSecret.call(...)``) is a *dynamic*
reference: reported with its location and no name. Declarations (``function getSecret(name) {``,
``getSecret(name: string): Promise<string>``) are not references. Text in comments and strings never
counts: the tokenizer has removed comments and made strings single tokens.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from reconciler.codescan.tokenizer import IDENT, TEMPLATE_HEAD, Tokens, tokenize

__all__ = ["GETTERS", "CodeReference", "display_safe", "scan_source"]

#: the getter functions of the Wix secrets APIs, by name, and the API label shown for them
GETTERS: Final = {"getSecret": "getSecret", "getSecretValue": "getSecretValue"}
_ELEVATORS: Final = frozenset({"elevate"})
_INDIRECT: Final = frozenset({"call", "apply", "bind"})
_DECLARATION_BEFORE: Final = frozenset({"function", "async", "get", "set", "static", "declare"})
_MAX_EXPR_TOKENS: Final = 64  # an argument longer than this is not worth resolving: dynamic
_MAX_CANDIDATES: Final = 16  # names one argument may resolve to (several consts of one name)
_MAX_SHOWN: Final = 120
_MAX_BRACKET_SPAN: Final = 512  # tokens searched for a matching bracket (beyond: not a declaration)
_MAX_BRACKET_STEPS: Final = 300_000  # for all bracket searches of one file together


@dataclass(frozen=True)
class CodeReference:
    """One place in the code that reads a secret. ``name`` is None for a dynamic reference.

    ``path`` is the file as shown to the user (relative, ``/``-separated, made printable); ``line`` and
    ``column`` are 1-based (columns count characters) and point at the name argument (or the call).
    ``api`` is ``getSecret``, ``getSecretValue`` or ``elevate(getSecretValue)``; ``detail`` says why a
    reference is dynamic, or through which constant a name was resolved.
    """

    path: str
    line: int
    column: int
    name: str | None
    api: str
    detail: str = ""

    @property
    def dynamic(self) -> bool:
        return self.name is None

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


def display_safe(text: str, *, limit: int = _MAX_SHOWN) -> str:
    """``text`` with every non-printable character escaped and cut at ``limit`` characters, so that a
    hostile file name or string literal cannot inject terminal escapes or fake lines into output."""
    shown = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text[: limit + 1])
    return shown if len(shown) <= limit else shown[:limit] + "..."


def scan_source(text: str, path: str) -> list[CodeReference]:
    """Every secret reference in one JavaScript/TypeScript source, in order of appearance."""
    return _Scanner(tokenize(text), display_safe(path, limit=400)).run()


class _Scanner:
    def __init__(self, toks: Tokens, path: str) -> None:
        self.t = toks
        self.path = path
        self.aliases: dict[str, str] = dict(GETTERS)  # local name -> API label
        self.consts: dict[str, set[str]] = {}  # const name -> the string values it is declared with
        self.opaque: set[str] = set()  # consts (or enums) whose value is not a string we can resolve
        self.maps: dict[str, dict[str, set[str]]] = {}  # const object / enum -> key -> values
        self.budget = _MAX_BRACKET_STEPS  # tokens all bracket searches of this file may visit

    # ---------------------------------------------------------------- pass 1: definitions
    def run(self) -> list[CodeReference]:
        for _ in range(3):  # consts may refer to consts declared further down: iterate to a fixpoint
            before = (sum(len(v) for v in self.consts.values()), len(self.aliases), len(self.maps))
            self._definitions()
            if (sum(len(v) for v in self.consts.values()), len(self.aliases), len(self.maps)) == before:
                break
        return self._references()

    def _definitions(self) -> None:
        t = self.t
        for i in range(len(t)):
            if t.kind[i] != IDENT or t.is_punct(i - 1, ".", "?."):
                continue
            word = t.ident(i)
            if word == "const":
                if t.is_ident(i + 1, "enum"):
                    self._enum(i + 2)
                else:
                    self._declarators(i + 1)
            elif word == "enum":
                self._enum(i + 1)
            elif word in self.aliases or word in GETTERS:
                self._import_or_destructure_alias(i)

    def _import_or_destructure_alias(self, i: int) -> None:
        t = self.t
        label = self.aliases.get(t.ident(i) or "") or GETTERS.get(t.ident(i) or "", "")
        # import { getSecret as g }   export { getSecretValue as gv }
        if (t.is_ident(i + 1, "as") and t.is_ident(i + 2) and t.is_punct(i + 3, ",", "}")) or (
            t.is_punct(i - 1, "{", ",")
            and t.is_punct(i + 1, ":")
            and t.is_ident(i + 2)
            and t.is_punct(i + 3, ",", "}", "=")
        ):
            self.aliases[t.ident(i + 2) or ""] = label

    def _declarators(self, j: int) -> None:
        t = self.t
        while True:
            name = t.ident(j)
            if name is None:
                return  # destructuring: aliases are found by _import_or_destructure_alias
            j += 1
            if t.is_punct(j, ":"):
                j = self._skip_type(j + 1)
            if not t.is_punct(j, "="):
                return
            j = self._const_value(name, j + 1)
            if j < 0 or not t.is_punct(j, ","):
                return
            j += 1

    def _skip_type(self, j: int) -> int:
        """Index of the ``=`` that ends a type annotation starting at ``j`` (or where it gave up)."""
        t = self.t
        depth = 0
        for k in range(j, min(len(t), j + _MAX_EXPR_TOKENS)):
            p = t.punct(k)
            if p in ("(", "[", "{", "<"):
                depth += 1
            elif p in (")", "]", "}", ">"):
                depth -= 1
            elif p in ("=", ";") and depth <= 0:
                return k
        return j

    def _const_value(self, name: str, j: int) -> int:
        """Record what ``const name = ...`` at ``j`` holds; the index after the value, -1 if unknown."""
        t = self.t
        # const get = secrets.getSecretValue   const get = auth.elevate(secrets.getSecretValue)
        getter = self._getter_at(self._skip_member_chain(j))
        if (
            getter is not None
            and self._chain_start(getter[0]) == j
            and not t.is_punct(getter[1] + 1, "(", ".", "[", "?.")
        ):
            self.aliases[name] = getter[2]
            return getter[1] + 1
        elevated = self._elevated_getter(j)
        if elevated is not None:
            self.aliases[name] = "elevate(getSecretValue)" if elevated[1] == "getSecretValue" else "elevate(getSecret)"
            return elevated[0]
        k = j
        if (
            t.is_ident(k, "Object")
            and t.is_punct(k + 1, ".")
            and t.is_ident(k + 2, "freeze")
            and t.is_punct(k + 3, "(")
        ):
            k += 4
        if t.is_punct(k, "{"):
            return self._object(name, k)
        values, end = self._string_expr(j)
        if values is not None and self._expression_ends(end):
            self.consts.setdefault(name, set()).update(values)
            return self._after_as_const(end)
        self.opaque.add(name)
        return -1

    def _after_as_const(self, j: int) -> int:
        t = self.t
        if t.is_ident(j, "as") and t.is_ident(j + 1, "const"):
            return j + 2
        return j

    def _expression_ends(self, j: int) -> bool:
        t = self.t
        if j >= len(t):
            return True
        if t.is_ident(j, "as", "satisfies"):
            return True
        p = t.punct(j)
        if p is None:
            return t.kind[j] == IDENT  # a new statement after automatic semicolon insertion
        return p in (";", ",", ")", "}", "]")

    def _object(self, name: str, k: int) -> int:
        """``const NAME = { key: "value", "other": NAME2, ... }``: record the string-valued keys."""
        close = self._matching(k)
        if close is None:
            return -1
        self._entries(self.maps.setdefault(name, {}), k + 1, close, ":")
        return close + 1

    def _enum(self, j: int) -> None:
        """``enum Names { Stripe = "stripe_key", ... }``."""
        t = self.t
        name = t.ident(j)
        close = self._matching(j + 1) if name is not None and t.is_punct(j + 1, "{") else None
        if name is not None and close is not None:
            self._entries(self.maps.setdefault(name, {}), j + 2, close, "=")

    def _entries(self, entries: dict[str, set[str]], j: int, close: int, separator: str) -> None:
        """Entries ``key <separator> string-expression`` between ``j`` and ``close``; others skipped."""
        t = self.t
        depth = 0
        entry_start = True
        while j < close:
            if entry_start and depth == 0:
                key = t.ident(j) or t.string(j)
                if key is not None and t.is_punct(j + 1, separator):
                    values, end = self._string_expr(j + 2)
                    if values is not None and (end == close or t.is_punct(end, ",")):
                        entries.setdefault(key, set()).update(values)
                        j = end + 1
                        continue
            p = t.punct(j)
            if p in ("(", "[", "{"):
                depth += 1
            elif p in (")", "]", "}"):
                depth -= 1
            entry_start = p == "," and depth == 0
            j += 1

    # ---------------------------------------------------------------- expressions
    def _string_expr(self, j: int) -> tuple[set[str] | None, int]:
        """Resolve ``atom (+ atom)*`` at ``j`` to its possible values; (None, j) if not resolvable.
        Returns the index after the expression."""
        t = self.t
        results: set[str] = {""}
        for _ in range(_MAX_EXPR_TOKENS):
            values, j = self._atom(j)
            if values is None:
                return None, j
            results = {a + b for a, b in itertools.product(results, values)}
            if len(results) > _MAX_CANDIDATES:
                return None, j
            if not t.is_punct(j, "+"):
                return results, j
            j += 1
        return None, j

    def _atom(self, j: int) -> tuple[set[str] | None, int]:
        t = self.t
        literal = t.string(j)
        if literal is not None:
            return {literal}, j + 1
        if t.is_punct(j, "("):
            values, end = self._string_expr(j + 1)
            if values is not None and t.is_punct(end, ")"):
                return values, end + 1
            return None, j
        name = t.ident(j)
        if name is None or t.is_punct(j - 1, ".", "?."):
            return None, j
        if t.is_punct(j + 1, ".", "?.") and t.ident(j + 2) is not None:
            return self._member(name, t.ident(j + 2) or ""), j + 3
        if t.is_punct(j + 1, "[") and t.string(j + 2) is not None and t.is_punct(j + 3, "]"):
            return self._member(name, t.string(j + 2) or ""), j + 4
        if name in self.consts and name not in self.opaque:
            return set(self.consts[name]), j + 1
        return None, j

    def _member(self, obj: str, key: str) -> set[str] | None:
        values = self.maps.get(obj, {}).get(key)
        return set(values) if values else None

    def _skip_member_chain(self, j: int) -> int:
        """From ``a.b.c`` at ``j``, the index of ``c`` (the last name); ``j`` if not a chain."""
        t = self.t
        k = j
        while t.is_ident(k) and t.is_punct(k + 1, ".", "?.") and t.is_ident(k + 2) and k - j < _MAX_EXPR_TOKENS:
            k += 2
        return k

    def _chain_start(self, start: int) -> int:
        """The first token of the member chain (``a.b.getSecret``) whose getter part starts at ``start``."""
        t = self.t
        s = start
        if t.is_punct(s, ".", "?.", "["):
            s -= 1
        for _ in range(_MAX_EXPR_TOKENS):
            if not (t.is_ident(s) and t.is_punct(s - 1, ".", "?.") and t.is_ident(s - 2)):
                break
            s -= 2
        return s

    def _getter_at(self, i: int) -> tuple[int, int, str] | None:
        """A getter expression whose name token is at ``i``: (first index, last index, API label)."""
        t = self.t
        name = t.ident(i)
        if name is not None:
            if t.is_punct(i - 1, ".", "?."):
                return (i - 1, i, GETTERS[name]) if name in GETTERS else None
            return (i, i, self.aliases[name]) if name in self.aliases else None
        literal = t.string(i)  # ns["getSecretValue"]
        if literal in GETTERS and t.is_punct(i - 1, "[") and t.is_punct(i + 1, "]"):
            return i - 1, i + 1, GETTERS[literal]
        return None

    def _elevated_getter(self, j: int) -> tuple[int, str] | None:
        """``[auth.]elevate(getter)`` at ``j``: (index after it, getter label)."""
        t = self.t
        k = self._skip_member_chain(j)
        if not (t.is_ident(k, *_ELEVATORS) and t.is_punct(k + 1, "(")):
            return None
        last = self._skip_member_chain(k + 2)
        if t.is_punct(last + 1, "[") and t.string(last + 2) in GETTERS:
            last += 2
        getter = self._getter_at(last)
        if getter is None or not t.is_punct(getter[1] + 1, ")"):
            return None
        return getter[1] + 2, getter[2]

    # ---------------------------------------------------------------- pass 2: references
    def _references(self) -> list[CodeReference]:
        t = self.t
        found: list[CodeReference] = []
        for i in range(len(t)):
            getter = self._getter_at(i)
            if getter is None:
                continue
            start, end, label = getter
            if self._is_declaration(start, end):
                continue
            found.extend(self._use(start, end, label))
        return found

    def _is_declaration(self, start: int, end: int) -> bool:
        t = self.t
        if start == end and t.is_ident(start - 1, *_DECLARATION_BEFORE):
            return True
        if start == end and t.is_punct(start - 1, "*") and t.is_ident(start - 2, "function"):
            return True
        if not t.is_punct(end + 1, "("):
            return False
        close = self._matching(end + 1)
        if close is None:
            return False
        if t.is_punct(close + 1, "{"):
            return True  # getSecret(name) { ... }: a method
        depth = 0
        ternary = 0
        for k in range(end + 2, close):  # a top-level `:` outside a ternary: TypeScript parameter types
            p = t.punct(k)
            if p in ("(", "[", "{"):
                depth += 1
            elif p in (")", "]", "}"):
                depth -= 1
            elif depth == 0 and p == "?":
                ternary += 1
            elif depth == 0 and p == ":":
                if ternary == 0:
                    return True
                ternary -= 1
        return False

    def _matching(self, open_index: int) -> int | None:
        """The bracket closing the one at ``open_index``, looked for within a bounded window and a
        bounded total of steps per file (past it: None, and callers stay conservative)."""
        t = self.t
        depth = 0
        stop = min(len(t), open_index + _MAX_BRACKET_SPAN, open_index + self.budget)
        self.budget -= stop - open_index
        for k in range(open_index, stop):
            p = t.punct(k)
            if p in ("(", "[", "{"):
                depth += 1
            elif p in (")", "]", "}"):
                depth -= 1
                if depth == 0:
                    return k
        return None

    def _use(self, start: int, end: int, label: str) -> Iterable[CodeReference]:
        t = self.t
        first = self._chain_start(start)
        after = self._skip_type_arguments(end + 1)
        if t.is_punct(after, "?.") and t.is_punct(after + 1, "("):
            after += 1
        if t.is_punct(after, "("):  # getSecret("x")
            return self._call(after, label)
        if not (t.is_punct(first - 1, "(", ",") and t.is_punct(after, ")", ",")):
            if t.is_punct(after, ".") and t.is_ident(after + 1, *_INDIRECT):
                return [self._dynamic(first, label, f"called indirectly through .{t.ident(after + 1)}")]
            return ()  # an import or export specifier, a property, a type position...
        open_at = self._opening_paren(first - 1)
        if open_at is None or self._is_parameter_list(open_at):
            return ()
        callee = t.ident(open_at - 1)
        if t.is_punct(after, ")") and t.is_punct(first - 1, "(", ","):
            call_at = after + 1
            if t.is_punct(call_at, "?.") and t.is_punct(call_at + 1, "("):
                call_at += 1
            if t.is_punct(call_at, "("):  # elevate(getter)("x"), (0, ns.getSecret)("x")
                if callee in _ELEVATORS and label in GETTERS.values():
                    label = f"elevate({label})"
                return self._call(call_at, label)
            if callee in _ELEVATORS and t.is_punct(first - 1, "("):
                return ()  # const get = elevate(getter): an alias, whose calls are references
        return [self._dynamic(first, label, "the function is passed as a value to another function")]

    def _skip_type_arguments(self, j: int) -> int:
        """After TypeScript type arguments (``getSecret<string>(...)``) at ``j``, else ``j``."""
        t = self.t
        if not t.is_punct(j, "<"):
            return j
        depth = 0
        for k in range(j, min(len(t), j + 32)):
            p = t.punct(k)
            if p == "<":
                depth += 1
            elif p == ">":
                depth -= 1
                if depth == 0:
                    return k + 1 if t.is_punct(k + 1, "(", "?.") else j
            elif p not in (None, ",", ".", "|", "&", "[", "]", "{", "}", ":", ";"):
                return j
        return j

    def _is_parameter_list(self, open_at: int) -> bool:
        t = self.t
        if t.is_ident(open_at - 1, "function") or t.is_ident(open_at - 2, "function"):
            return True
        close = self._matching(open_at)
        return close is not None and t.is_punct(close + 1, "=>", "{")

    def _opening_paren(self, k: int) -> int | None:
        """The ``(`` of the argument list that position ``k`` (a ``(`` or ``,``) belongs to."""
        t = self.t
        depth = 0
        for j in range(k, max(-1, k - 4 * _MAX_EXPR_TOKENS), -1):
            p = t.punct(j)
            if p in (")", "]", "}"):
                depth += 1
            elif p in ("(", "[", "{"):
                if depth == 0:
                    return j if p == "(" else None
                depth -= 1
        return None

    def _call(self, open_paren: int, label: str) -> list[CodeReference]:
        t = self.t
        arg = open_paren + 1
        if t.is_punct(arg, ")"):
            return [self._dynamic(open_paren, label, "called without a name")]
        values, end = self._string_expr(arg)
        if t.is_ident(end, "as") and t.is_ident(end + 1):  # getSecret(NAME as string)
            end += 2
        if values is not None and t.is_punct(end, ",", ")"):
            line, column = t.position(arg)
            via = self._via(arg, end)
            return [CodeReference(self.path, line, column, display_safe(value), label, via) for value in sorted(values)]
        return [self._dynamic(arg, label, self._why_dynamic(arg))]

    def _via(self, arg: int, end: int) -> str:
        t = self.t
        if end == arg + 1 and t.string(arg) is not None:
            return ""
        names = [t.ident(k) for k in range(arg, end) if t.is_ident(k) and not t.is_punct(k - 1, ".", "?.")]
        shown = ", ".join(display_safe(n, limit=40) for n in names if n)
        return f"via {shown}" if shown else ""

    def _why_dynamic(self, arg: int) -> str:
        t = self.t
        if arg < len(t) and t.kind[arg] == TEMPLATE_HEAD:
            return "a template literal with interpolation"
        name = t.ident(arg)
        if name is not None and t.is_punct(arg + 1, ",", ")"):
            shown = display_safe(name, limit=40)
            if name in self.opaque:
                return f"`{shown}` is a const whose value is not a string literal"
            if name in self.consts:
                return f"`{shown}` is declared with more than {_MAX_CANDIDATES} different values"
            return f"`{shown}` is not a string constant of this file (a parameter, a variable, an import)"
        return "a computed expression"

    def _dynamic(self, at: int, label: str, why: str) -> CodeReference:
        line, column = self.t.position(at)
        return CodeReference(self.path, line, column, None, label, why)
