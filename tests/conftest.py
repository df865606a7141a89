"""Both tiers: "now" is frozen and injected (testkit/clock.py); HOTLINE_TEST_NOW moves it.

The real parts' fixtures are tests/integration/conftest.py's.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from testkit import clock as clocks


def pytest_configure(config: pytest.Config) -> None:
    try:
        clocks.from_env()  # a wrong value stops the run before any test, with the reason
    except ValueError as exc:
        raise pytest.UsageError(f"{clocks.ENV}: {exc}") from None


def pytest_report_header(config: pytest.Config) -> list[str]:
    at = clocks.from_env()
    return [
        f"now: {at.isoformat()} for every clock-injected test ({clocks.ENV})"
        if at is not None
        else f"now: {len(clocks.INSTANTS)} frozen instants (frozen_now), "
        f"{clocks.AWKWARD.isoformat()} for the slow tests (fixed_now); {clocks.ENV} moves them"
    ]


def _instants() -> tuple[datetime, ...]:
    try:
        return clocks.instants()
    except ValueError:  # pytest_configure stops the run with the reason
        return clocks.INSTANTS


@pytest.fixture(params=_instants(), ids=clocks.label)
def frozen_now(request: pytest.FixtureRequest) -> datetime:
    """The test's "now", once per representative instant (testkit/clock.py ``INSTANTS``: a
    Thursday, a Sunday night, a month end...), or HOTLINE_TEST_NOW alone when set. For fast
    tests whose expectations involve the date, weekday or hour."""
    at: datetime = request.param
    return at


@pytest.fixture(scope="session")
def fixed_now() -> datetime:
    """One frozen "now" for slow tests (real calls): an awkward Thursday evening
    (testkit/clock.py ``AWKWARD``), or HOTLINE_TEST_NOW when set."""
    return clocks.default_now()
