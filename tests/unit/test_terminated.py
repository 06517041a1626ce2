"""SIGTERM before any write raises ``errors.Terminated`` from the signal handler, wherever the main
thread is, often inside the event loop. asyncio swallows (logs as "fatal error" or "exception in
callback") any exception from its callbacks and transports except KeyboardInterrupt and SystemExit;
a Terminated of another kind was swallowed in CI and the plan went on to exit 0. Reproduced here
with a loop callback, the same path a signal takes when it lands inside asyncio's own code."""

from __future__ import annotations

import asyncio

import pytest

from reconciler.errors import Terminated


def test_terminated_raised_inside_the_event_loop_ends_the_run() -> None:
    async def main() -> None:
        def lands_here() -> None:  # where a signal handler runs when the signal arrives mid-callback
            raise Terminated()

        asyncio.get_running_loop().call_soon(lands_here)
        for _ in range(3):
            await asyncio.sleep(0)  # let the loop run the callback (no wall clock)

    with pytest.raises(Terminated):
        asyncio.run(main())
