"""Which plausible Wix the emulator plays where Wix's behaviour is undocumented (all off by default).

Each switch is one side of an open question listed in ``docs/wix-api-assumptions.md``; the default
(every switch off) is the behaviour the official SDK test records. Stdlib only.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CONSISTENCY_HEADER", "DEFAULT_MAX_SECRETS", "Quirks"]

#: The response header the official SDK stores and sends back on every later request.
CONSISTENCY_HEADER = "x-wix-consistent"
#: The cap an older Wix help page states ("up to 64 unique secrets").
DEFAULT_MAX_SECRETS = 64


@dataclass(frozen=True)
class Quirks:
    """``refuse_api_keys``: API keys get 403 PERMISSION_DENIED while Wix app/user tokens work.
    ``require_site_id``: an API-key request without ``wix-site-id`` gets 428 MISSING_METASITE_ID.
    ``max_secrets``: a create beyond this many secrets gets 429 RESOURCE_EXHAUSTED naming the quota.
    ``no_members_area``: writes get 428 FAILED_PRECONDITION (reads work), as a site without Members Area.
    ``read_lag``: reads that do not echo the latest ``X-Wix-Consistent`` see the site as it was before
    the recent writes, until this many such reads have been served (then the replica catches up).
    ``keep_description_on_empty``: a PATCH with ``description: ""`` leaves the description unchanged.
    """

    refuse_api_keys: bool = False
    require_site_id: bool = False
    max_secrets: int | None = None
    no_members_area: bool = False
    read_lag: int = 0
    keep_description_on_empty: bool = False

    def __post_init__(self) -> None:
        if self.max_secrets is not None and self.max_secrets < 0:
            raise ValueError("max_secrets must not be negative")
        if self.read_lag < 0:
            raise ValueError("read_lag must not be negative")
