"""Working days in Russia, the unit of the claims' service levels: a claim's decision is due
a number of working days after it is complete (not counting the days it waits on the
seller), and its payment a number of working days after approval.

Public holidays come from the `holidays` package, which follows the
production calendar's fixed holidays and the weekend days moved by decree.
"""

import datetime as dt
from functools import cache, lru_cache

import holidays


@cache
def _holidays_for(year: int) -> frozenset[dt.date]:
    return frozenset(holidays.country_holidays("RU", years=year).keys())


def is_working_day(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in _holidays_for(day.year)


# A batch of claims asks for the same few due dates thousands of times.
@lru_cache(maxsize=4096)
def add_working_days(start: dt.date, days: int) -> dt.date:
    """Return the date `days` working days after `start` (`start` itself not counted)."""
    current = start
    remaining = days
    while remaining > 0:
        current += dt.timedelta(days=1)
        if is_working_day(current):
            remaining -= 1
    return current


def working_days_between(start: dt.date, end: dt.date) -> int:
    """Return how many working days lie after `start` up to and including `end`."""
    if end <= start:
        return 0
    return sum(
        1
        for offset in range(1, (end - start).days + 1)
        if is_working_day(start + dt.timedelta(days=offset))
    )
