"""The progress line (issue 13.9): done/total, the observed rate and an ETA, redrawn in place on a
terminal and cleared at the end; nothing on a non-terminal. A hand-driven clock makes every number
exact: nothing here depends on the speed of the machine."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.cli.console import Console
from reconciler.cli.progress import SHOW_AFTER, ProgressReporter, format_duration


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def quiet_logging() -> Iterator[None]:
    logger = logging.getLogger("reconciler")
    level = logger.level
    logger.setLevel(logging.WARNING)
    yield
    logger.setLevel(level)


def console(*, tty: bool = True, **environ: str) -> tuple[Console, io.StringIO]:
    err = io.StringIO()
    con = Console(
        stdout=io.StringIO(),
        stderr=err,
        stdin=io.StringIO(),
        environ=environ,
        cwd=Path("."),
        stderr_tty=tty,
        stdout_tty=tty,
        stdin_tty=tty,
    )
    return con, err


def frames(text: str) -> list[str]:
    """What each redraw put on the line (``\\r`` + text + erase-to-end-of-line)."""
    return [part.removesuffix("\033[K") for part in text.split("\r") if part.removesuffix("\033[K")]


def test_format_duration() -> None:
    assert [format_duration(s) for s in (0, 4.6, 59, 60, 185, 3599, 3600, 3720)] == [
        "0s",
        "5s",
        "59s",
        "1m00s",
        "3m05s",
        "59m59s",
        "1h00m",
        "1h02m",
    ]


def test_the_eta_follows_the_observed_rate_and_adapts_when_a_rate_limit_sets_in() -> None:
    con, err = console()
    clock = Clock()
    reporter = ProgressReporter(con, "reading values", clock=clock)
    total = 400
    done = 0
    # a burst: 10 reads a second for 5 seconds
    for _ in range(50):
        clock.now += 0.1
        done += 1
        reporter(done, total)
    assert reporter.rate() == pytest.approx(10.0)
    assert reporter.eta(done, total) == pytest.approx(35.0)
    assert frames(err.getvalue())[-1] == "reading values ██░░░░░░░░░░░░░░░░░░ 50/400 · 10.0/s · ETA 35s · 5s"
    # then the rate limit: 2 a second; after a full window the estimate is the new rate only
    for _ in range(30):
        clock.now += 0.5
        done += 1
        reporter(done, total)
    assert reporter.rate() == pytest.approx(2.0)
    assert reporter.eta(done, total) == pytest.approx((total - done) / 2.0)
    last = frames(err.getvalue())[-1]
    assert last.startswith("reading values ") and "80/400 · 2.0/s · ETA 2m40s · 20s" in last
    # the end clears the line, and nothing comes after the clear
    for _ in range(total - done):
        clock.now += 0.5
        done += 1
        reporter(done, total)
    assert err.getvalue().endswith("\r\033[K")
    assert "\n" not in err.getvalue()


def test_redraws_are_throttled_and_quick_work_shows_nothing() -> None:
    con, err = console()
    clock = Clock()
    reporter = ProgressReporter(con, "applying", clock=clock)
    for done in range(1, 10):  # all within SHOW_AFTER: nothing at all, not even a clear
        clock.now += SHOW_AFTER / 20
        reporter(done, 10)
    reporter(10, 10)
    assert err.getvalue() == ""
    con, err = console()
    reporter = ProgressReporter(con, "applying", clock=clock)
    clock.now += SHOW_AFTER
    for done in range(1, 101):  # 100 calls within 0.1 s: one redraw
        clock.now += 0.0009
        reporter(done, 1000)
    assert len(frames(err.getvalue())) == 1
    assert frames(err.getvalue())[0].startswith("applying ░░░░") and " 1/1000 " in frames(err.getvalue())[0]


def test_an_eta_needs_an_observed_rate() -> None:
    con, err = console()
    clock = Clock()
    reporter = ProgressReporter(con, "reading values", clock=clock)
    clock.now += 2
    reporter(0, 10)
    assert reporter.rate() is None and reporter.eta(0, 10) is None
    assert frames(err.getvalue()) == ["reading values ░░░░░░░░░░░░░░░░░░░░ 0/10 · ETA … · 2s"]


def test_a_failure_half_way_still_clears_the_line() -> None:
    con, err = console()
    clock = Clock()
    with pytest.raises(RuntimeError), ProgressReporter(con, "applying", clock=clock) as reporter:
        clock.now += 1
        reporter(3, 10)
        assert err.getvalue().startswith("\rapplying ")
        raise RuntimeError("write failed")
    assert err.getvalue().endswith("\r\033[K")


@pytest.mark.parametrize(
    ("tty", "environ", "enabled"),
    [
        (False, {}, True),  # not a terminal: logs, pipes
        (True, {"CI": "true"}, True),
        (True, {"GITHUB_ACTIONS": "true"}, True),
        (True, {"TERM": "dumb"}, True),
        (True, {}, False),  # --json
    ],
)
def test_nothing_at_all_off_a_terminal_in_ci_or_with_json(tty: bool, environ: dict[str, str], enabled: bool) -> None:
    con, err = console(tty=tty, **environ)
    clock = Clock()
    with ProgressReporter(con, "reading values", clock=clock, enabled=enabled) as reporter:
        for done in range(1, 101):
            clock.now += 1
            reporter(done, 200)
    assert err.getvalue() == ""
    assert not reporter.active


def test_nothing_with_verbose_logging_whose_lines_would_tear_it() -> None:
    logging.getLogger("reconciler").setLevel(logging.INFO)
    con, err = console()
    clock = Clock()
    reporter = ProgressReporter(con, "applying", clock=clock)
    clock.now += 5
    reporter(1, 100)
    assert err.getvalue() == ""


def test_a_long_label_is_cut_so_the_line_fits_one_row() -> None:
    con, err = console()
    clock = Clock()
    reporter = ProgressReporter(con, "a-site-with-a-very-long-name-indeed-really-long: reading values", clock=clock)
    for done in range(1, 20):
        clock.now += 1
        reporter(done, 123456)
    line = frames(err.getvalue())[-1]
    assert len(line) <= 79 and line.startswith("a-site-with") and "…" in line and "19/123456" in line
