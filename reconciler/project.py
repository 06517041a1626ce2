"""The project file (``wix-secrets.yaml``): which sites a repository manages, and how to reach each.

Owns finding the file (``--project`` or the nearest ``wix-secrets.yaml`` from the working directory
upward), parsing it strictly (duplicate keys, line numbers; ``schemas/project.schema.json``), the
``defaults`` inheritance, choosing sites (``--site NAME`` / ``--all``), and building each site's
environment: the names the file gives (``api_key_env: SHOP_WIX_API_KEY``) are looked up in the
environment passed in, and the values become ``WIX_API_KEY``/``WIX_SITE_ID``/... of that site only.
The file holds names of variables, never credentials. No network; reads only the project file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

from reconciler.errors import Diagnostic, ManifestError, UsageError

__all__ = [
    "PROJECT_FILE",
    "Credentials",
    "Project",
    "ProjectSite",
    "find_project",
    "load_project",
    "override_sites",
    "parse_project",
    "select_sites",
    "site_environ",
]

PROJECT_FILE: Final = "wix-secrets.yaml"

# Variables of the process environment that select or authenticate a site; a project site never
# inherits them from the process, only from the variables its entry names.
SITE_VARIABLES: Final = (
    "WIX_API_KEY",
    "WIX_SITE_ID",
    "WIX_CLIENT_ID",
    "WIX_CLIENT_SECRET",
    "WIX_INSTANCE_ID",
    "WIX_API_URL",
    "WIX_LOCAL_SITE",
)
_CREDENTIAL_TARGETS: Final = {
    "api_key_env": "WIX_API_KEY",
    "site_id_env": "WIX_SITE_ID",
    "client_id_env": "WIX_CLIENT_ID",
    "client_secret_env": "WIX_CLIENT_SECRET",
    "instance_id_env": "WIX_INSTANCE_ID",
}
_OAUTH: Final = ("client_id_env", "client_secret_env", "instance_id_env")


@dataclass(frozen=True)
class Credentials:
    """Names of environment variables (never their values)."""

    api_key_env: str | None = None
    site_id_env: str | None = None
    client_id_env: str | None = None
    client_secret_env: str | None = None
    instance_id_env: str | None = None

    def merged(self, override: Credentials) -> Credentials:
        return Credentials(**{k: getattr(override, k) or getattr(self, k) for k in _CREDENTIAL_TARGETS})


@dataclass(frozen=True)
class ProjectSite:
    name: str
    manifests: tuple[str, ...]  # absolute paths, defaults first
    site_id: str | None = None
    environment: str | None = None
    credentials: Credentials = Credentials()
    api_url: str | None = None
    local: str | None = None  # absolute path of an emulated site
    code: tuple[str, ...] = ()  # the site's code: paths or globs relative to code_base (codescan)
    code_base: str = ""  # the project file's folder


@dataclass(frozen=True)
class Project:
    path: Path
    sites: tuple[ProjectSite, ...]

    def names(self) -> list[str]:
        return [s.name for s in self.sites]


def find_project(cwd: Path, explicit: str | None = None) -> Path:
    """``explicit`` (relative to ``cwd``), else the nearest ``wix-secrets.yaml`` from ``cwd`` upward."""
    if explicit:
        path = Path(explicit).expanduser()
        path = path if path.is_absolute() else cwd / path
        if not path.is_file():
            raise UsageError(f"{explicit}: no such project file")
        return path
    d = cwd.resolve()
    while True:
        candidate = d / PROJECT_FILE
        if candidate.is_file():
            return candidate
        if d.parent == d:
            raise UsageError(
                f"no {PROJECT_FILE} found in {cwd} or any folder above it",
                hint=f"create one (see examples/project/{PROJECT_FILE}) or pass --project FILE",
            )
        d = d.parent


def load_project(path: Path, *, shown: str | None = None) -> Project:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{shown or path}: cannot read it ({exc.strerror or exc})") from None
    return parse_project(data, file=shown or str(path), base=path.parent, path=path)


def parse_project(data: bytes, *, file: str, base: Path, path: Path | None = None) -> Project:
    """Parse and validate; every problem is reported at once (ManifestError with line numbers)."""
    from reconciler.schema import violations
    from reconciler.yamlstrict import compose_documents, to_python

    nodes, diags = compose_documents(data, file=file)
    if diags:
        raise ManifestError(diags, file=file)
    if len(nodes) != 1:
        raise ManifestError([Diagnostic("a project file holds exactly one YAML document", file=file)], file=file)
    root = nodes[0]
    tree = to_python(root)

    def diag(where: Sequence[str | int], message: str, hint: str | None = None) -> Diagnostic:
        line, column = root.walk(where)
        dotted = ".".join(str(p) for p in where) or None
        return Diagnostic(message, file=file, line=line, column=column, path=dotted, hint=hint)

    problems = [diag(where, message) for where, message in violations(tree, "project")]
    if problems:
        raise ManifestError(problems, file=file)
    defaults: dict[str, Any] = tree.get("defaults") or {}
    base_creds = Credentials(**defaults.get("credentials", {}))
    seen: dict[str, int] = {}
    sites: list[ProjectSite] = []

    def resolve(text: str) -> str:
        p = Path(text).expanduser()
        return str(p if p.is_absolute() else base / p)

    for index, raw in enumerate(tree["sites"]):
        name = raw["name"]
        where: list[str | int] = ["sites", index]
        if name.lower() in seen:
            problems.append(diag([*where, "name"], f"site name {name!r} is used twice (names are case-insensitive)"))
        seen[name.lower()] = index
        listed = [*defaults.get("manifests", []), *raw.get("manifests", [])]
        manifests = tuple(dict.fromkeys(resolve(m) for m in listed))
        if not manifests:
            problems.append(diag(where, f"site {name!r} has no manifest", hint="add manifests: [FILE, ...]"))
        own = Credentials(**raw.get("credentials", {}))
        inherited = base_creds
        if any(getattr(own, k) for k in _OAUTH) and not own.api_key_env:  # a Wix app replaces a default key
            inherited = Credentials(**{k: getattr(base_creds, k) for k in _OAUTH})
        elif own.api_key_env and not any(getattr(own, k) for k in _OAUTH):  # and a key replaces a default app
            inherited = Credentials(site_id_env=base_creds.site_id_env)
        creds = inherited.merged(own)
        local = raw.get("local")
        if local and raw.get("api_url"):
            problems.append(diag(where, f"site {name!r} has both local and api_url; choose one"))
        if not local:
            oauth = [getattr(creds, k) for k in _OAUTH]
            if not creds.api_key_env and not all(oauth):
                problems.append(
                    diag(
                        where,
                        f"site {name!r} names no complete credentials",
                        hint="set credentials.api_key_env (with site_id or site_id_env), or "
                        "client_id_env, client_secret_env and instance_id_env",
                    )
                )
            elif creds.api_key_env and not (raw.get("site_id") or creds.site_id_env) and not all(oauth):
                problems.append(diag(where, f"site {name!r} has an API key but no site_id or site_id_env"))
        sites.append(
            ProjectSite(
                name=name,
                manifests=manifests,
                site_id=raw.get("site_id"),
                environment=raw.get("environment") or defaults.get("environment"),
                credentials=creds,
                api_url=None if local else raw.get("api_url") or defaults.get("api_url"),
                local=resolve(local) if local else None,
                code=tuple(dict.fromkeys([*defaults.get("code", []), *raw.get("code", [])])),
                code_base=str(base),
            )
        )
    if problems:
        raise ManifestError(problems, file=file)
    return Project(path=path or base / PROJECT_FILE, sites=tuple(sites))


def select_sites(project: Project, names: Sequence[str], *, all_sites: bool) -> list[ProjectSite]:
    """The sites ``--site NAME`` (repeatable) or ``--all`` pick, in the project file's order."""
    if all_sites and names:
        raise UsageError("--site and --all both given; choose one")
    if all_sites:
        return list(project.sites)
    if not names:
        raise UsageError("no site chosen", hint="pass --site NAME or --all")
    by_name = {s.name.lower(): s for s in project.sites}
    unknown = [n for n in names if n.lower() not in by_name]
    if unknown:
        raise UsageError(
            f"unknown site{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}",
            hint=f"the project file names: {', '.join(project.names())}",
        )
    wanted = {n.lower() for n in names}
    return [s for s in project.sites if s.name.lower() in wanted]


def override_sites(
    sites: Sequence[ProjectSite],
    *,
    local: tuple[str, str] | None = None,
    api_url: tuple[str, str] | None = None,
    site_id: tuple[str, str] | None = None,
) -> list[ProjectSite]:
    """The chosen sites with the command line's site options applied: never silently ignored.

    Each option is ``(value, where_it_came_from)``, e.g. ``("http://127.0.0.1:8080", "--api-url")``.

    * ``api_url`` (``--api-url`` / ``WIX_API_URL``) applies to **every** chosen site, replacing its
      ``api_url:`` or ``local:`` (a project pointed at ``wix-secrets emulator`` from the command line);
    * ``local`` (``--local`` / ``WIX_LOCAL_SITE``) is one site file, so it applies to one chosen site
      and is a usage error with several;
    * ``site_id`` (``--site-id``) likewise names one site.
    """
    result = list(sites)
    for option, field_name in ((local, "local"), (site_id, "site_id")):
        if option is None:
            continue
        flag = option[1]
        if len(result) > 1:
            names = ", ".join(s.name for s in result)
            raise UsageError(
                f"{flag} names one site, but {len(result)} sites are chosen ({names})",
                hint=f"choose one with --site NAME, or give each site its own `{field_name}:` in the project file",
            )
    out: list[ProjectSite] = []
    for site in result:
        changes: dict[str, Any] = {}
        if local is not None:
            changes.update(local=local[0], api_url=None)
        if api_url is not None:
            changes.update(api_url=api_url[0], local=None)
        if site_id is not None:
            changes["site_id"] = site_id[0]
        out.append(replace(site, **changes) if changes else site)
    return out


def site_environ(site: ProjectSite, environ: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """The environment ``site`` runs with, and the named variables that are missing or empty.

    The process's own ``WIX_*`` site variables are dropped; the ones the project names take their place.
    """
    env = {k: v for k, v in environ.items() if k not in SITE_VARIABLES}
    missing: list[str] = []
    if site.local:
        env["WIX_LOCAL_SITE"] = site.local
    if site.api_url:
        env["WIX_API_URL"] = site.api_url
    if site.site_id:
        env["WIX_SITE_ID"] = site.site_id
    if site.local:
        return env, missing
    creds = site.credentials
    use_key = bool(creds.api_key_env)
    fields = ["api_key_env", "site_id_env"] if use_key else list(_OAUTH)
    for field_name in fields:
        var = getattr(creds, field_name)
        if not var:
            continue
        if field_name == "site_id_env" and site.site_id:
            continue  # a literal site_id wins
        value = environ.get(var, "").strip()
        if value:
            env[_CREDENTIAL_TARGETS[field_name]] = value
        else:
            missing.append(var)
    return env, missing
