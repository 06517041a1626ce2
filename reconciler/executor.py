"""Reading a site's state and applying a plan to it, through a client protocol.

Reading: one ListSecretInfo, then one GetSecretValue for each listed secret that the manifest
declares (or renames), concurrently. Ignored and undeclared secrets are never read. The client bounds
concurrency and the request rate; this module only says what to send.

Applying, in three phases so that a failure half way never leaves fewer declared secrets than
before:

1. renames, in the plan's order (a rename away from a name runs before the rename onto it);
2. creates and updates, concurrently; a create that reuses a name freed by a rename waits for it and
   is skipped if that rename failed;
3. deletes, only if nothing before failed.

A failed operation does not stop independent ones. Afterwards one more ListSecretInfo confirms that
the site converged (names, ids and descriptions; values cannot be listed). Every outcome is a value in
:class:`ApplyResult`; nothing here prints.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from reconciler.errors import NotFoundError, WixSecretsError
from reconciler.model import DesiredState, RemoteSecret, RemoteState, Sensitive, Unset
from reconciler.plan import Action, Change, Plan, matches_any

__all__ = [
    "NOT_STARTED",
    "ApplyResult",
    "ItemResult",
    "KnownValues",
    "SecretsReader",
    "SecretsWriter",
    "apply_plan",
    "names_to_read",
    "read_remote",
]

log = logging.getLogger("reconciler.executor")

Status = Literal["applied", "failed", "skipped"]
Progress = Callable[[str, Change, Status | None], None]
NOT_STARTED = "not started: the apply was interrupted"


class SecretsReader(Protocol):
    async def list_secrets(self) -> list[RemoteSecret]: ...

    async def get_value(self, name: str) -> Sensitive: ...


class SecretsWriter(SecretsReader, Protocol):
    async def create(self, name: str, value: Sensitive, description: str | None) -> str: ...

    async def update(
        self,
        id: str,
        *,
        name: str | None = None,
        value: Sensitive | None = None,
        description: str | None = None,
    ) -> None: ...

    async def delete(self, id: str) -> None: ...


def names_to_read(desired: DesiredState, listed: Sequence[RemoteSecret]) -> list[RemoteSecret]:
    """The listed secrets whose values the plan needs: declared names, and rename sources."""
    present = desired.present()
    wanted: set[str] = {s.name for s in present}
    for secret in present:  # a rename source's value is compared with the renamed secret's
        wanted.update(secret.renamed_from)
    return [s for s in listed if s.name in wanted and not matches_any(s.name, desired.policy.ignore)]


class KnownValues(Protocol):
    """A value cache (:class:`reconciler.valuecache.ValueCache`): may vouch that a secret holds a value."""

    def known(self, secret: RemoteSecret, desired: Sensitive) -> bool: ...


#: The fraction of the values a value cache vouches for that a plan reads anyway (rounded up).
CACHE_SAMPLE = 0.02


async def read_remote(
    client: SecretsReader,
    desired: DesiredState,
    *,
    on_read: Callable[[int, int], None] | None = None,
    value_cache: KnownValues | None = None,
    rng: random.Random | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> RemoteState:
    """List the site, then read the values the plan needs. A secret deleted between the list and the
    read is treated as absent. With ``value_cache``, a declared secret the cache vouches for (same id
    and updatedDate, desired value's keyed MAC) is not read: its value is the desired one, except for
    a random sample of :data:`CACHE_SAMPLE` of them (at least one), which is read to check the cache's
    premise (every value change moves ``updatedDate``, which Wix does not document). If one differs,
    the cache is not trusted for this site: every value is read, and a warning says so (to
    ``on_warning``, else the log)."""
    listed = await client.list_secrets()
    targets = names_to_read(desired, listed)
    values: dict[str, Sensitive] = {}
    if value_cache is not None:
        declared = {s.name: s.value for s in desired.present() if s.value is not None}
        unknown: list[RemoteSecret] = []
        vouched: list[RemoteSecret] = []
        for secret in targets:
            wanted = declared.get(secret.name)
            if wanted is not None and value_cache.known(secret, wanted):
                vouched.append(secret)
            else:
                unknown.append(secret)
        sample = (rng or random.Random()).sample(vouched, math.ceil(len(vouched) * CACHE_SAMPLE)) if vouched else []
        checked = await asyncio.gather(*(_value_or_none(client, s.name) for s in sample))
        for secret, value in zip(sample, checked, strict=True):
            if value is not None:
                values[secret.id] = value
        sampled = {s.id for s in sample}
        if any(r is None or r != declared[s.name] for s, r in zip(sample, checked, strict=True)):
            message = (
                "value cache: a sampled secret's value differs from what the cache vouched for; the cache "
                "is not trusted for this site, every value is read"
            )
            if on_warning is not None:
                on_warning(message)
            else:
                log.warning("%s", message)
            if hasattr(value_cache, "forget"):
                value_cache.forget(s.id for s in vouched)
            unknown.extend(s for s in vouched if s.id not in sampled)
        else:
            for secret in vouched:
                values.setdefault(secret.id, declared[secret.name])
        targets = unknown
    vanished: set[str] = set()
    done = 0

    async def read(secret: RemoteSecret) -> None:
        nonlocal done
        try:
            values[secret.id] = await client.get_value(secret.name)
        except NotFoundError:
            log.info("%s was deleted while the plan was being made; treating it as absent", secret.name)
            vanished.add(secret.id)
        done += 1
        if on_read is not None:
            on_read(done, len(targets))

    await _gather_all([read(s) for s in targets])
    secrets = tuple(s for s in listed if s.id not in vanished)
    return RemoteState(secrets=secrets, values=values)


async def _value_or_none(client: SecretsReader, name: str) -> Sensitive | None:
    try:
        return await client.get_value(name)
    except NotFoundError:
        return None


async def _gather_all(coroutines: Sequence[Coroutine[Any, Any, None]]) -> None:
    """Run all; if one raises, cancel the rest and re-raise (after they have stopped)."""
    tasks = [asyncio.ensure_future(c) for c in coroutines]
    if not tasks:
        return
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


@dataclass(frozen=True)
class ItemResult:
    """What happened to one change. ``error`` is a message without any value."""

    change: Change
    status: Status
    error: str | None = None
    new_id: str | None = None


@dataclass(frozen=True)
class ApplyResult:
    items: tuple[ItemResult, ...]
    converged: bool | None = None
    verification: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    #: (secret id, description) of each description PATCHed to "" that Wix listed unchanged afterwards
    uncleared: tuple[tuple[str, str], ...] = ()

    def count(self, status: Status) -> int:
        return sum(1 for item in self.items if item.status == status)

    @property
    def status(self) -> Literal["nothing-to-do", "success", "partial", "error"]:
        if not self.items:
            return "nothing-to-do"
        failed = self.count("failed") + self.count("skipped")
        if failed == 0 and self.converged is not False:
            return "success"
        if self.count("applied") == 0:
            return "error"
        return "partial"


async def apply_plan(
    client: SecretsWriter,
    plan: Plan,
    *,
    progress: Progress | None = None,
    stop: Callable[[], bool] | None = None,
    concurrency: int | None = None,
) -> ApplyResult:
    """Apply every actionable change of ``plan``. Never raises for a failed operation.

    ``stop`` is asked before each write starts: once it says True, no new write starts (those are
    recorded as skipped, :data:`NOT_STARTED`) and the writes in flight finish. ``concurrency`` bounds
    the writes handed to the client at once, so that a stop leaves at most that many in flight."""
    results: dict[int, ItemResult] = {}
    changes = plan.actionable
    gate = asyncio.Semaphore(concurrency) if concurrency else None

    def stopped() -> bool:
        return stop is not None and stop()

    def record(index: int, item: ItemResult) -> None:
        results[index] = item
        if progress is not None:
            progress("done", item.change, item.status)

    async def attempt(index: int, change: Change) -> None:
        if stopped():
            record(index, ItemResult(change, "skipped", error=NOT_STARTED))
            return
        if progress is not None:
            progress("start", change, None)
        try:
            new_id = await _apply_one(client, change)
        except WixSecretsError as exc:
            log.info("%s %s failed: %s", change.action.value, change.name, exc.summary)
            record(index, ItemResult(change, "failed", error=exc.summary))
        else:
            record(index, ItemResult(change, "applied", new_id=new_id))

    async def run(index: int, change: Change) -> None:
        if gate is None:
            await attempt(index, change)
            return
        async with gate:
            await attempt(index, change)

    # 1. renames, in order; a failed rename blocks creates that reuse its old name
    failed_sources: set[str] = set()
    for index, change in enumerate(changes):
        if change.action is Action.RENAME:
            await run(index, change)
            if results[index].status != "applied" and change.previous_name:
                failed_sources.add(change.previous_name)

    # 2. creates and updates, concurrently
    phase2: list[Coroutine[Any, Any, None]] = []
    for index, change in enumerate(changes):
        if change.action not in (Action.CREATE, Action.UPDATE):
            continue
        if change.action is Action.CREATE and change.name in failed_sources:
            if stopped():
                record(index, ItemResult(change, "skipped", error=NOT_STARTED))
            else:
                record(index, ItemResult(change, "skipped", error=f"the rename away from {change.name} failed"))
            continue
        phase2.append(run(index, change))
    await _gather_all(phase2)

    # 3. deletes, only if nothing failed
    failures = sum(1 for r in results.values() if r.status != "applied")
    for index, change in enumerate(changes):
        if change.action is not Action.DELETE:
            continue
        if stopped():
            record(index, ItemResult(change, "skipped", error=NOT_STARTED))
        elif failures:
            reason = f"skipped because {failures} other operation{'s' if failures != 1 else ''} failed"
            record(index, ItemResult(change, "skipped", error=reason))
        else:
            await run(index, change)

    items = tuple(results[i] for i in sorted(results))
    if not items:
        return ApplyResult(items=())
    notes: list[str] = []
    kept: list[tuple[str, str]] = []
    problems = await _verify(client, items, notes, kept)
    complete = all(item.status == "applied" for item in items)  # a failed change did not converge
    return ApplyResult(
        items=items,
        converged=complete and not problems,
        verification=tuple(problems),
        warnings=tuple(notes),
        uncleared=tuple(kept),
    )


async def _apply_one(client: SecretsWriter, change: Change) -> str | None:
    description = None if isinstance(change.description, Unset) else change.description
    if change.action is Action.CREATE:
        assert change.value is not None
        return await client.create(change.name, change.value, description)
    assert change.remote is not None
    if change.action is Action.DELETE:
        try:
            await client.delete(change.remote.id)
        except NotFoundError:
            log.info("%s was already gone", change.name)
        return None
    await client.update(
        change.remote.id,
        name=change.name if "name" in change.changed else None,
        value=change.value if "value" in change.changed else None,
        description=description if "description" in change.changed else None,
    )
    return change.remote.id


async def _verify(
    client: SecretsReader,
    items: Sequence[ItemResult],
    notes: list[str] | None = None,
    kept: list[tuple[str, str]] | None = None,
) -> list[str]:
    """One ListSecretInfo: every applied change is visible. Returns the problems found.

    A description PATCHed to ``""`` that is listed unchanged is not a problem but a note ("Wix did not
    clear the description of X"): whether Wix clears a description that way is undocumented.
    """
    try:
        listed = await client.list_secrets()
    except WixSecretsError as exc:
        return [f"could not list the site to verify: {exc.summary}"]
    by_name = {s.name: s for s in listed}
    ids = {s.id for s in listed}
    problems: list[str] = []
    for item in items:
        if item.status != "applied":
            continue
        change = item.change
        current = by_name.get(change.name)
        if change.action is Action.DELETE:
            if change.remote is not None and change.remote.id in ids:
                problems.append(f"{change.name} is still on the site after its delete")
            continue
        if current is None:
            problems.append(f"{change.name} is not on the site after its {change.action.value}")
            continue
        if item.new_id and current.id != item.new_id:
            problems.append(f"{change.name} has id {current.id}, expected {item.new_id}")
        described = isinstance(change.description, str) and "description" in change.changed
        before = change.remote.description if change.remote is not None else None
        if described and change.description == "" and before and current.description == before:
            if notes is not None:
                notes.append(f"Wix did not clear the description of {change.name}")
            if kept is not None:
                kept.append((current.id, current.description))
        elif described and current.description != change.description:
            problems.append(f"{change.name} does not have the planned description")
        if change.action is Action.RENAME and change.previous_name in by_name:
            problems.append(f"{change.previous_name} still exists after its rename to {change.name}")
    return problems
