"""Plaintext YAML inputs for the interop matrix (shapes, scalar traps, comments, documents, rules)."""

from __future__ import annotations

from typing import Any

SHAPES: dict[str, str] = {
    "nested_maps": """\
db:
  user: admin
  port: 5432
  tls:
    enabled: true
    ca: none
top: level
""",
    "lists_of_maps": """\
servers:
  - name: a
    host: a.example
    ports: [80, 443]
  - name: b
    host: b.example
matrix:
  - - 1
    - 2
  - - x
deep:
  b:
    - - c: v
""",
    "scalar_traps": """\
yes_word: yes
no_word: no
on_word: on
y: n
octal: 0777
octal_o: 0o17
hex: 0x1f
binary: 0b101
underscored: 1_000
exp: 1e3
dot_five: .5
five_dot: 5.
float: 3.0
big_float: 1e21
small_float: 1.5e-7
neg_zero: -0.0
huge: 1e400
tiny: 1e-400
leading_zero: 08
plus_hex: +0x10
neg: -42
inf: .inf
ninf: -.inf
nan: .nan
word_inf: inf
date: 2024-01-01
short_date: 2024-1-2
space_time: 2024-01-01 10:20:30.5
rfc: 2024-01-01T10:20:30Z
offset: 2024-01-01T10:20:30.123456789+02:00
no_zone: 2024-01-01T10:20:30
bad_date: 2024-02-30
true_c: True
false_u: FALSE
tilde: ~
null_word: null
Null_word: Null
empty_plain:
clock: 12:30
comma: 1,000
underscore_first: _1
quoted_int: "123"
single_quoted: '0777'
tagged_str: !!str 1e3
""",
    "strings": """\
empty: ""
empty_single: ''
unicode: "héllo wörld ✓ 日本語 🙂"
ключ: значение
colon: "a: b"
hash: "a #b"
quotes: 'it''s "quoted"'
backslash: "C:\\\\path\\\\x"
tab: "a\\tb"
lead_space: "  indented"
trail_space: "trailing  "
literal: |
  line one
  line two
literal_strip: |-
  no newline
literal_keep: |+
  kept

folded: >
  folded
  text
multi_quoted: "a\\nb\\n"
url: https://example.com/path?x=1&y=2
star: "*not_alias"
dash: "- not a list"
""",
    "nulls_and_empty": """\
n1: null
n2: ~
n3:
list_with_null: [1, null, "", x]
empty_map: {}
empty_list: []
nested: {a: {b: {}}}
""",
    "comments": """\
# top comment
# second line
a: 1 # inline on a
b:
  # head of c
  c: x
  d: y
# before list
list:
  - one # item comment
  # between items
  - two
nested:
  inner:
    # deep comment
    k: v
# final comment
""",
    "hash_in_values": """\
url: "http://x/#frag"
plain_hash: a#b
single: 'x # not a comment'
block: |
  # not a comment
  line
after: 1 # real comment
list:
  - "# quoted"
  - x#y
ключ: знач # коммент ✓
multi: "first
  # still the string
  last"
# end
""",
    "comment_placement": """\
# head

# after a blank line
a:
  b:
    c: 1
    # foot of b's map
  d: 2
  # foot of a's map
l:
  - x: 1 # inline in a list item map
    y: 2
  - 2
  # after the items
f: [1, 2] # after a flow sequence
g: {k: v} # after a flow map
h: # after a key
  i: 1
# ключ ✓ 🙂
#
""",
    "multi_doc_comments": """\
a: 1
# end of doc 1
---
# start of doc 2
b: 2
""",
    "multi_doc": """\
first: 1
name: one
---
second: 2
items: [a, b]
---
# a comment in doc 3
third:
  deep: value
""",
    "suffixes": """\
secret: s1
public_unencrypted: p1
tree_unencrypted:
  a: 1
  b: [x, y]
public_unencrypted_map:
  child: c
api_secret: k
value: v
""",
}

# (rule flag -> value) cases over RULES_INPUT; "mac_only_encrypted" combined with encrypted_regex.
RULES_INPUT = """\
# sops:noenc
visible: v1
# sops:enc
hidden: h1
data:
  # comment inside data
  value: 1
  other: two
public_key: pub
api_secret: s
plain: p
stringData:
  x: y
items:
  # sops:enc
  - first
  - second
"""

RULES: dict[str, dict[str, object]] = {
    "unencrypted_suffix": {"unencrypted_suffix": "_key"},
    "encrypted_suffix": {"encrypted_suffix": "_secret"},
    "unencrypted_regex": {"unencrypted_regex": "^(public|plain)"},
    "encrypted_regex": {"encrypted_regex": "^(data|stringData)$"},
    "unencrypted_comment_regex": {"unencrypted_comment_regex": "sops:noenc"},
    "encrypted_comment_regex": {"encrypted_comment_regex": "sops:enc"},
    "mac_only_encrypted": {"encrypted_regex": "^data$", "mac_only_encrypted": True},
    "mac_only_default_rule": {"mac_only_encrypted": True},
}


#: The interop matrix: every shape as it is, then the rules input under each rule, as
#: ``(name, text, EncryptionRules keywords)``.
CASES: list[tuple[str, str, dict[str, Any]]] = [(name, text, {}) for name, text in SHAPES.items()] + [
    (f"rule_{name}", RULES_INPUT, rules) for name, rules in RULES.items()
]
