"""Where a run's code is: ``--code`` paths, a project site's ``code:``, or the manifests' ``policy.code``.

The first that names code wins (they are not merged). ``--code`` paths are relative to the working
directory and may point anywhere (the command line is the user's own); a project's ``code:`` is
relative to the project file and a manifest's ``policy.code`` to the manifest, and both must stay
inside the repository holding that file (:func:`~reconciler.codescan.files.repo_boundary`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from reconciler.codescan.files import CodeRoot, repo_boundary
from reconciler.model import DesiredState

__all__ = ["code_roots"]


def code_roots(
    desired: DesiredState,
    *,
    cwd: Path,
    paths: Sequence[str] = (),
    project_code: Sequence[str] = (),
    project_dir: str | Path | None = None,
) -> list[CodeRoot]:
    if paths:
        return [CodeRoot(p, cwd, None, "--code") for p in paths]
    if project_code and project_dir is not None:
        base = Path(project_dir)
        return [CodeRoot(p, base, repo_boundary(base), "code: of the project file") for p in project_code]
    roots = []
    for spec, manifest in desired.policy.code:
        path = Path(manifest).expanduser()
        base = (path if path.is_absolute() else cwd / path).parent
        roots.append(CodeRoot(spec, base, repo_boundary(base), f"policy.code of {manifest}"))
    return roots
