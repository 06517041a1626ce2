"""Which host names are this machine: the one loopback check shared by the client (https required
off loopback) and the emulator (a foreign ``Host`` or ``Origin`` is refused). Stdlib only, so the
emulator can use it and still stand beside the client's graph."""

from __future__ import annotations

import ipaddress

__all__ = ["is_loopback_host"]


def is_loopback_host(host: str) -> bool:
    """localhost, 127.0.0.0/8 and ::1 (brackets allowed); anything else is not this machine."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
