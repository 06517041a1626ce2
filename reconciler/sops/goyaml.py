"""go-yaml v3 semantics: how sops (Go) types plain YAML scalars, and how Go formats values.

sops builds its tree with ``go.yaml.in/yaml/v3`` decoding into ``interface{}``; those rules differ from
PyYAML's YAML 1.1 resolver (``yes`` is a string, ``1e3`` a float, ``0o17`` an int, dates are
``time.Time``). This module owns:

* :func:`resolve_scalar` -- a PyYAML scalar node (value, style, tag) -> the Go-typed Python value;
* :class:`GoTime` -- a ``datetime`` that keeps Go's nanoseconds;
* Go formatting used for encryption plaintext and the MAC (:func:`to_bytes_text`,
  :func:`format_float_f`, :func:`format_float_g`, :func:`format_time`) and parsing back
  (:func:`parse_typed`).
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "GoTime",
    "format_float_f",
    "format_float_g",
    "format_time",
    "parse_time",
    "parse_typed",
    "resolve_plain",
    "resolve_scalar",
    "to_bytes_text",
    "type_name",
]

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
UINT64_MAX = 2**64 - 1

_CORE = "tag:yaml.org,2002:"
_STR = _CORE + "str"
_BINARY = _CORE + "binary"
_RESOLVABLE = {
    _CORE + "str",
    _CORE + "int",
    _CORE + "float",
    _CORE + "bool",
    _CORE + "null",
    _CORE + "timestamp",
    "",
    "!",
    "?",
    "!!str",
    "!!int",
    "!!float",
    "!!bool",
    "!!null",
    "!!timestamp",
}

_MAP: dict[str, Any] = {}
for _v, _words in (
    (True, ("true", "True", "TRUE")),
    (False, ("false", "False", "FALSE")),
    (None, ("", "~", "null", "Null", "NULL")),
    (math.nan, (".nan", ".NaN", ".NAN")),
    (math.inf, (".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF")),
    (-math.inf, ("-.inf", "-.Inf", "-.INF")),
):
    for _w in _words:
        _MAP[_w] = _v

_INT_RE = re.compile(r"([+-]?)(?:0[xX]([0-9a-fA-F]+)|0[oO]([0-7]+)|0[bB]([01]+)|0([0-7]*)|([1-9][0-9]*))")
_FLOAT_RE = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_DOTFLOAT_RE = re.compile(r"\.[0-9]+(?:[eE][-+]?[0-9]+)?")
_TS_RE = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:(?:([Tt])|( ))(\d{1,2}):(\d{1,2}):(\d{1,2})(?:[.,](\d+))?(Z|[+-]\d{2}:\d{2})?)?"
)


class GoTime(datetime):
    """A timezone-aware ``datetime`` that also keeps Go's sub-microsecond nanoseconds.

    ``nanosecond`` is the full fraction of the second (0..999_999_999); ``microsecond`` is its
    truncation. Formatting with :func:`format_time` gives Go's RFC3339Nano text.
    """

    nanosecond: int

    @classmethod
    def make(cls, dt: datetime, nanosecond: int | None = None) -> GoTime:
        """Wrap ``dt`` (aware) with an exact nanosecond fraction."""
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        out = cls(dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second, dt.microsecond, dt.tzinfo)
        out.nanosecond = dt.microsecond * 1000 if nanosecond is None else nanosecond
        return out


def _fmt_offset(dt: datetime) -> str:
    off = dt.utcoffset()
    if not off:
        return "Z"
    minutes = int(off.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def format_time(dt: datetime) -> str:
    """Go ``time.Time.MarshalText`` (RFC3339Nano): fraction trimmed, ``Z`` for a zero offset."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    ns = getattr(dt, "nanosecond", dt.microsecond * 1000)
    text = f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}"
    if ns:
        text += "." + f"{ns:09d}".rstrip("0")
    return text + _fmt_offset(dt)


def _ts(value: str, *, rfc3339_only: bool = False) -> GoTime | None:
    m = _TS_RE.fullmatch(value)
    if not m:
        return None
    year, month, day, t_sep, space, hh, mi, ss, frac, zone = m.groups()
    if rfc3339_only and (t_sep is None or zone is None):
        return None
    if hh is not None:
        if t_sep is not None and zone is None:
            return None  # "T" form needs a zone in go-yaml's layouts
        if space is not None and zone is not None:
            return None  # the space form has no zone
    try:
        tz = UTC
        if zone and zone != "Z":
            sign = 1 if zone[0] == "+" else -1
            oh, om = int(zone[1:3]), int(zone[4:6])
            if oh > 24 or om > 60:
                return None
            tz = timezone(sign * timedelta(hours=oh, minutes=om))
        ns = int((frac or "0")[:9].ljust(9, "0"))
        hms = (int(hh or 0), int(mi or 0), int(ss or 0))
        dt = datetime(int(year), int(month), int(day), *hms, ns // 1000, tz)
    except (ValueError, OverflowError):
        return None
    return GoTime.make(dt, ns)


def parse_time(value: str) -> GoTime | None:
    """Go ``time.Parse(RFC3339Nano)`` (as ``UnmarshalText``); None if it does not parse."""
    return _ts(value, rfc3339_only=True)


def _parse_int(plain: str) -> int | None:
    m = _INT_RE.fullmatch(plain)
    if not m:
        return None
    sign, hx, octo, binary, legacy_oct, dec = m.groups()
    if hx is not None:
        n = int(hx, 16)
    elif octo is not None:
        n = int(octo, 8)
    elif binary is not None:
        n = int(binary, 2)
    elif legacy_oct is not None:
        n = int(legacy_oct, 8) if legacy_oct else 0
    else:
        n = int(dec)
    return -n if sign == "-" else n


def resolve_plain(value: str) -> object:
    """go-yaml v3 ``resolve("", value)`` for a plain scalar: bool, None, int, float, GoTime or str.

    Integers outside int64 that fit uint64 are returned as ``int`` (sops rejects them when encrypting).
    """
    if value in _MAP:
        return _MAP[value]
    if not value:
        return None
    c = value[0]
    if c == ".":
        if _DOTFLOAT_RE.fullmatch(value):
            f = float(value)
            return value if math.isinf(f) else f
        return value
    if c in "+-" or (c.isdigit() and c.isascii()):
        if len(value) >= 5 and value[4] == "-" and value[:4].isdigit():
            t = _ts(value)
            if t is not None:
                return t
        plain = value.replace("_", "")
        n = _parse_int(plain)
        if n is not None and (INT64_MIN <= n <= UINT64_MAX) and not (n > INT64_MAX and plain[0] in "+-"):
            return n
        if _FLOAT_RE.fullmatch(plain):
            f = float(plain)
            if not math.isinf(f):
                return f
    return value


_pyyaml_resolver: Any = None


def _pyyaml_implicit_tag(value: str) -> str:
    import yaml

    global _pyyaml_resolver
    if _pyyaml_resolver is None:
        _pyyaml_resolver = yaml.resolver.Resolver()
    return str(_pyyaml_resolver.resolve(yaml.ScalarNode, value, (True, False)))


def resolve_scalar(value: str, *, style: str | None, tag: str, implicit: bool | None = None) -> object:
    """What go-yaml v3 decodes a scalar into (``interface{}``), given a PyYAML ScalarNode's fields.

    ``style`` is None (or ``""``) for plain, else ``'``, ``"``, ``|`` or ``>``; ``tag`` is the node's
    tag. Quoted and block scalars are strings; ``!!str`` is a string; ``!!binary`` is its decoded
    bytes as text; plain scalars follow go-yaml's resolver (see module docstring). A plain scalar
    tagged ``tag:yaml.org,2002:str`` is treated as explicitly tagged only when PyYAML's implicit
    resolver would not have given ``str`` (so loaders built on SafeLoader work unchanged); loaders that
    know whether the tag was implicit pass ``implicit`` (or mark implicit plain scalars with tag
    ``""``, ``"!"`` or ``"?"``) and get exact results.
    """
    if tag in (_BINARY, "!!binary"):
        try:
            return base64.b64decode("".join(value.split()), validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            return value
    if style:
        if tag in (_STR, "!!str", "", "!", "?") or tag not in _RESOLVABLE:
            return value
        resolved = resolve_plain(value)  # explicit non-str core tag on a quoted scalar
        return resolved if resolved is not None or tag.endswith("null") else value
    if tag not in _RESOLVABLE:
        return value  # a custom tag: go-yaml keeps the text
    if tag in (_STR, "!!str") and (implicit is False or (implicit is None and _pyyaml_implicit_tag(value) != _STR)):
        return value  # explicitly tagged !!str
    return resolve_plain(value)


def format_float_f(f: float) -> str:
    """Go ``strconv.FormatFloat(f, 'f', -1, 64)``: shortest digits, never an exponent."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    s = format(Decimal(repr(f)), "f")
    return s.rstrip("0").rstrip(".") if "." in s else s


def format_float_g(f: float) -> str:
    """Go ``strconv.FormatFloat(f, 'g', -1, 64)`` (what go-yaml writes for a float)."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    sign, digits, exp = Decimal(repr(f)).as_tuple()
    assert isinstance(exp, int)
    ds = list(digits)
    while len(ds) > 1 and ds[-1] == 0:
        ds.pop()
        exp += 1
    neg = "-" if sign else ""
    if ds == [0]:
        return neg + "0"
    x = len(ds) + exp - 1
    if x < -4 or x >= 6:  # shortest precision: Go decides with eprec = 6
        mant = str(ds[0]) + ("." + "".join(map(str, ds[1:])) if len(ds) > 1 else "")
        return f"{neg}{mant}e{'+' if x >= 0 else '-'}{abs(x):02d}"
    return neg + format_float_f(abs(f))


def type_name(value: object) -> str:
    """The sops ``type:`` of a leaf value."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, datetime):
        return "time"
    return "str"


def to_bytes_text(value: object) -> str:
    """sops ``ToBytes``: the canonical text of a typed leaf (encryption plaintext and MAC input)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_float_f(value)
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    raise TypeError(f"cannot serialise a {type(value).__name__}")


_GO_BOOL = {
    "1": True,
    "t": True,
    "T": True,
    "TRUE": True,
    "true": True,
    "True": True,
    "0": False,
    "f": False,
    "F": False,
    "FALSE": False,
    "false": False,
    "False": False,
}
_ATOI_RE = re.compile(r"[+-]?[0-9]+")
_PARSEFLOAT_RE = re.compile(
    r"[+-]?(?:(?:[0-9](?:_?[0-9])*)?\.?[0-9]*(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)", re.IGNORECASE
)


def parse_typed(text: str, type_: str) -> object:
    """Parse decrypted plaintext back into its typed value (sops ``aes.Decrypt``). Raises ValueError."""
    if type_ == "str":
        return text
    if type_ == "int":
        if not _ATOI_RE.fullmatch(text):
            raise ValueError("not an int")
        n = int(text)
        if not INT64_MIN <= n <= INT64_MAX:
            raise ValueError("int out of range")
        return n
    if type_ == "float":
        if not text or not _PARSEFLOAT_RE.fullmatch(text) or "_" in text:
            raise ValueError("not a float")
        return float(text)
    if type_ == "bool":
        if text not in _GO_BOOL:
            raise ValueError("not a bool")
        return _GO_BOOL[text]
    if type_ == "time":
        t = parse_time(text)
        if t is None:
            raise ValueError("not a time")
        return t
    raise ValueError(f"unknown type {type_!r}")
