"""Business calendars: deadlines land at the exact expected instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from baton_sla_monitor.domain.calendar import (
    BusinessCalendar,
    CalendarError,
    public_holidays,
    weekly_windows,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
NINE_TO_FIVE = weekly_windows([(day, "09:00", "17:00") for day in range(5)])
ALWAYS = weekly_windows([(day, "00:00", "24:00") for day in range(7)])


def calendar(zone: ZoneInfo = BERLIN, **kwargs) -> BusinessCalendar:
    return BusinessCalendar(zone=zone, windows=kwargs.pop("windows", NINE_TO_FIVE), **kwargs)


def local(zone: ZoneInfo, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=zone)


def test_friday_afternoon_plus_one_hour_is_monday_morning() -> None:
    due = calendar().add(local(BERLIN, 2026, 11, 20, 16, 30), timedelta(hours=1))
    assert due == local(BERLIN, 2026, 11, 23, 9, 30)


def test_a_lead_outside_hours_starts_counting_at_the_next_opening() -> None:
    due = calendar().add(local(BERLIN, 2026, 11, 24, 22, 0), timedelta(minutes=30))
    assert due == local(BERLIN, 2026, 11, 25, 9, 30)


def test_public_holidays_are_skipped() -> None:
    berlin = calendar(holidays=public_holidays("DE", "BE"))
    # Thursday 24 December: one hour left that day; 25 and 26 are holidays, then a weekend.
    due = berlin.add(local(BERLIN, 2026, 12, 24, 16, 0), timedelta(hours=2))
    assert due == local(BERLIN, 2026, 12, 28, 10, 0)
    # Berlin keeps International Women's Day (Sunday in 2026: use 2027, a Monday).
    due = berlin.add(local(BERLIN, 2027, 3, 5, 16, 0), timedelta(hours=2))
    assert due == local(BERLIN, 2027, 3, 9, 10, 0)


def test_a_region_the_holiday_tables_do_not_know_falls_back_to_the_country() -> None:
    emea = public_holidays("DE", "EMEA")
    assert datetime(2026, 12, 25).date() in emea
    assert datetime(2026, 3, 9).date() not in emea
    assert public_holidays("XX") == frozenset()
    assert public_holidays(None) == frozenset()


def test_daylight_saving_start_in_berlin_keeps_local_office_hours() -> None:
    # Clocks go forward on Sunday 29 March 2026: Friday is UTC+1, Monday UTC+2.
    due = calendar().add(local(BERLIN, 2026, 3, 27, 16, 0), timedelta(hours=2))
    assert due == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)  # 10:00 CEST


def test_daylight_saving_counts_real_hours_on_a_round_the_clock_calendar() -> None:
    # 24 hours of working time from Saturday noon end at Sunday 13:00: that day had 23 hours.
    due = calendar(windows=ALWAYS).add(local(BERLIN, 2026, 3, 28, 12, 0), timedelta(hours=24))
    assert due == local(BERLIN, 2026, 3, 29, 13, 0)
    assert due - local(BERLIN, 2026, 3, 28, 12, 0) == timedelta(hours=24)


def test_daylight_saving_end_in_new_york_keeps_local_office_hours() -> None:
    # Clocks go back on Sunday 1 November 2026: Friday is UTC-4, Monday UTC-5.
    ny = calendar(NEW_YORK, holidays=public_holidays("US", "NY"))
    due = ny.add(local(NEW_YORK, 2026, 10, 30, 16, 0), timedelta(hours=2))
    assert due == datetime(2026, 11, 2, 15, 0, tzinfo=UTC)  # 10:00 EST
    # and in spring: Sunday 8 March 2026, Friday UTC-5, Monday UTC-4
    due = ny.add(local(NEW_YORK, 2026, 3, 6, 16, 30), timedelta(hours=1))
    assert due == datetime(2026, 3, 9, 13, 30, tzinfo=UTC)  # 09:30 EDT


def test_out_of_office_pauses_the_clock() -> None:
    away = ((local(BERLIN, 2026, 11, 23, 0, 0), local(BERLIN, 2026, 11, 25, 0, 0)),)
    due = calendar(away=away).add(local(BERLIN, 2026, 11, 23, 10, 0), timedelta(hours=1))
    assert due == local(BERLIN, 2026, 11, 25, 10, 0)
    # a range ending mid-morning leaves the rest of that morning
    away = ((local(BERLIN, 2026, 11, 23, 8, 0), local(BERLIN, 2026, 11, 23, 11, 0)),)
    due = calendar(away=away).add(local(BERLIN, 2026, 11, 23, 9, 0), timedelta(minutes=90))
    assert due == local(BERLIN, 2026, 11, 23, 12, 30)


def test_overnight_shifts_run_past_midnight() -> None:
    nights = calendar(windows=weekly_windows([(day, "22:00", "06:00") for day in range(5)]))
    # Friday 22:00 to Saturday 06:00 is the week's last shift; Monday 22:00 is the next.
    due = nights.add(local(BERLIN, 2026, 11, 21, 5, 0), timedelta(hours=2))
    assert due == local(BERLIN, 2026, 11, 23, 23, 0)


def test_adjacent_windows_merge_and_elapsed_counts_only_working_time() -> None:
    split = calendar(
        windows=weekly_windows(
            [(0, "09:00", "12:00"), (0, "12:00", "17:00"), (1, "09:00", "17:00")]
        )
    )
    start = local(BERLIN, 2026, 11, 23, 11, 0)  # a Monday
    assert split.add(start, timedelta(hours=2)) == local(BERLIN, 2026, 11, 23, 13, 0)
    assert split.elapsed(start, local(BERLIN, 2026, 11, 24, 10, 0)) == timedelta(hours=7)
    assert split.elapsed(start, start - timedelta(hours=1)) == timedelta(0)


def test_elapsed_is_the_inverse_of_add() -> None:
    berlin = calendar(holidays=public_holidays("DE", "BE"))
    start = local(BERLIN, 2026, 12, 23, 15, 17)
    for minutes in (1, 59, 60, 8 * 60, 3 * 8 * 60 + 7):
        due = berlin.add(start, timedelta(minutes=minutes))
        assert berlin.elapsed(start, due) == timedelta(minutes=minutes)


def test_a_calendar_without_working_time_says_so() -> None:
    with pytest.raises(CalendarError):
        calendar(windows=()).add(local(BERLIN, 2026, 11, 23, 9, 0), timedelta(hours=1))
    forever = ((local(BERLIN, 2026, 1, 1, 0, 0), local(BERLIN, 2036, 1, 1, 0, 0)),)
    with pytest.raises(CalendarError):
        calendar(away=forever).add(local(BERLIN, 2026, 11, 23, 9, 0), timedelta(hours=1))
