"""Finding and reading the site's code safely: globs, boundaries, symlinks, special files, caps."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.codescan import CodeRoot, Limits, scan_code
from reconciler.codescan.files import collect, glob_match, repo_boundary
from reconciler.errors import UsageError


def tree(base: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return base


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("**/*.web.js", "backend/stripe.web.js", True),
        ("**/*.web.js", "stripe.web.js", True),
        ("**/*.web.js", "backend/stripe.js", False),
        ("backend/*.js", "backend/a.js", True),
        ("backend/*.js", "backend/x/a.js", False),
        ("backend/**", "backend/x/y/a.js", True),
        ("*/?.js", "pages/a.js", True),
        ("*/?.js", "pages/ab.js", False),
        ("[bp]*/*.jsw", "backend/a.jsw", True),
        ("[!bp]*/*.jsw", "backend/a.jsw", False),
        ("[a-c]*.ts", "b.ts", True),
        ("*a*a*a*a*a*a*a*a*a*b", "a" * 200, False),  # no backtracking blow-up
        ("**/**/**/**/**/x", "/".join(["d"] * 100), False),
    ],
)
def test_glob_match(pattern: str, path: str, expected: bool) -> None:
    assert glob_match(pattern, path) is expected


def test_directories_globs_and_skipped_folders(tmp_path: Path) -> None:
    tree(
        tmp_path,
        {
            "src/backend/a.web.js": 'getSecret("A")',
            "src/backend/b.jsw": 'getSecret("B")',
            "src/backend/c.ts": 'getSecret("C")',
            "src/backend/readme.md": 'getSecret("NOT_CODE")',
            "src/backend/node_modules/lib/index.js": 'getSecret("DEPENDENCY")',
            "src/backend/.wix/types.js": 'getSecret("HIDDEN")',
            "src/pages/home.js": 'getSecret("PAGE")',
        },
    )
    scan = scan_code([CodeRoot("src", tmp_path)], display_base=tmp_path)
    assert scan.names() == {"A", "B", "C", "PAGE"}
    assert scan.references[0].location == "src/backend/a.web.js:1:11"
    scan = scan_code([CodeRoot("src/**/*.web.js", tmp_path)], display_base=tmp_path)
    assert scan.names() == {"A"}
    scan = scan_code([CodeRoot("src/backend/readme.md", tmp_path)], display_base=tmp_path)
    assert scan.names() == {"NOT_CODE"}  # a file named explicitly is read whatever its suffix
    # the same file through two roots is read once
    scan = scan_code([CodeRoot("src", tmp_path), CodeRoot("src/backend", tmp_path)], display_base=tmp_path)
    assert scan.files == 4


def test_missing_root_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        scan_code([CodeRoot("nope", tmp_path, origin="policy.code of m.yaml")], display_base=tmp_path)


def test_manifest_roots_must_stay_inside_the_repository(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    tree(repo, {"secrets/m.yaml": "", "src/a.js": 'getSecret("IN")'})
    (repo / ".git").mkdir()
    tree(tmp_path, {"outside/b.js": 'getSecret("OUT")'})
    boundary = repo_boundary(repo / "secrets")
    assert boundary == repo.resolve()
    ok = CodeRoot("../src", repo / "secrets", boundary, "policy.code of secrets/m.yaml")
    assert scan_code([ok], display_base=repo).names() == {"IN"}
    for spec in ("../../outside", "/etc", "../../outside/b.js"):
        with pytest.raises(UsageError, match="outside"):
            scan_code([CodeRoot(spec, repo / "secrets", boundary, "policy.code")], display_base=repo)
    # a symlink inside the repository that points out of it is resolved before the check
    (repo / "escape").symlink_to(tmp_path / "outside", target_is_directory=True)
    with pytest.raises(UsageError, match="outside"):
        scan_code([CodeRoot("../escape", repo / "secrets", boundary, "policy.code")], display_base=repo)
    # without .git, the boundary is the manifest's own folder
    assert repo_boundary(tmp_path / "outside") == (tmp_path / "outside").resolve()
    # --code from the command line may point anywhere
    assert scan_code([CodeRoot(str(tmp_path / "outside"), repo)], display_base=repo).names() == {"OUT"}


def test_symlinks_out_of_a_root_are_not_followed(tmp_path: Path) -> None:
    tree(tmp_path, {"secret-stuff/key.js": 'getSecret("OUTSIDE_FILE")', "elsewhere/x.js": 'getSecret("OUTSIDE_DIR")'})
    root = tree(tmp_path / "site", {"src/a.js": 'getSecret("A")', "src/lib/b.js": 'getSecret("B")'})
    (root / "src" / "link.js").symlink_to(tmp_path / "secret-stuff" / "key.js")
    (root / "src" / "linked-dir").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (root / "src" / "inside.js").symlink_to(root / "src" / "lib" / "b.js")
    (root / "src" / "loop").symlink_to(root / "src", target_is_directory=True)
    scan = scan_code([CodeRoot("src", root)], display_base=root)
    assert scan.names() == {"A", "B"}
    assert [(u.path, u.reason) for u in scan.unscanned] == [("src/link.js", "a symbolic link to outside src")]
    assert scan.files == 2  # inside.js is b.js, read once


def test_special_and_large_files_are_unscanned(tmp_path: Path) -> None:
    root = tree(tmp_path, {"src/ok.js": 'getSecret("OK")', "src/big.js": "x" * 5000})
    os.mkfifo(root / "src" / "pipe.js")  # opening it for reading would block forever without O_NONBLOCK
    files, unscanned = collect([CodeRoot("src", root)], display_base=root, limits=Limits(max_file_bytes=4096))
    assert [f.path for f in files] == ["src/ok.js"]
    assert unscanned == [
        type(unscanned[0])("src/big.js", "larger than 4 KiB"),
        type(unscanned[0])("src/pipe.js", "not a regular file"),
    ]


def test_caps_on_files_bytes_and_entries(tmp_path: Path) -> None:
    root = tree(tmp_path, {f"src/f{i}.js": "x" * 100 for i in range(6)})
    with pytest.raises(UsageError, match="more than 5 source files"):
        collect([CodeRoot("src", root)], display_base=root, limits=Limits(max_files=5))
    with pytest.raises(UsageError, match="MiB of source"):
        collect([CodeRoot("src", root)], display_base=root, limits=Limits(max_total_bytes=500))
    with pytest.raises(UsageError, match="more than 3 directory entries"):
        collect([CodeRoot("src", root)], display_base=root, limits=Limits(max_entries=3))


def test_hostile_file_names_are_printable(tmp_path: Path) -> None:
    root = tree(tmp_path, {"src/\x1b[2Jevil\nname.js": 'getSecret("X")'})
    scan = scan_code([CodeRoot("src", root)], display_base=root)
    location = scan.references[0].location
    assert "\x1b" not in location and "\n" not in location
    assert location == "src/\\x1b[2Jevil\\nname.js:1:11"


def test_invalid_text_is_decoded_leniently(tmp_path: Path) -> None:
    (tmp_path / "a.js").write_bytes(b'\xef\xbb\xbf\xff\xfe getSecret("AFTER_BAD_BYTES")')
    scan = scan_code([CodeRoot("a.js", tmp_path)], display_base=tmp_path)
    assert scan.names() == {"AFTER_BAD_BYTES"}
