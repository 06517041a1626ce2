"""A local emulator of the Wix Secrets API: same routes, statuses, envelopes and quirks, plus faults.

It stands beside the dependency graph (stdlib + httpx only; never ``reconciler.wix``, ``model`` or
``plan``) so that testing the client against it is not testing the client against itself.

- :class:`Emulator` (``core``): the behaviour; ``handle(method, target, headers, body) -> Reply``;
  ``requests`` is the request log, ``counts()`` the per-route totals.
- :class:`Faults` (``faults``): latency, jitter, rate limit, 5xx, drops, lost replies, seed.
- :class:`InFlight` (``inflight``): requests being served now and the peak (``Emulator.in_flight``).
- :class:`Quirks` (``quirks``): which plausible Wix to play where Wix is undocumented (API keys refused,
  site id required, 64-secret cap, no Members Area, read lag without the consistency token...).
- :class:`EmulatorTransport` (``transport``): in-process ``httpx.AsyncBaseTransport`` (``--local``).
- :class:`EmulatorServer` (``server``): real HTTP on loopback in a background thread; ``.url``.
"""

from __future__ import annotations

from reconciler.emulator.core import ROUTES, Emulator, Reply, RequestRecord
from reconciler.emulator.faults import Faults
from reconciler.emulator.inflight import InFlight
from reconciler.emulator.quirks import Quirks
from reconciler.emulator.server import EmulatorServer
from reconciler.emulator.state import EmulatorSaveError, EmulatorStateError
from reconciler.emulator.transport import EmulatorTransport

__all__ = [
    "ROUTES",
    "Emulator",
    "EmulatorSaveError",
    "EmulatorServer",
    "EmulatorStateError",
    "EmulatorTransport",
    "Faults",
    "InFlight",
    "Quirks",
    "Reply",
    "RequestRecord",
]
