"""The date range of the supervisor APIs (`handoff.service.insights.periods`): days in an IANA time
zone, ISO times, the default length each API chooses, and the errors of bad input."""

import datetime as dt

import pytest

from handoff.service.api.errors import MESSAGES, ApiError
from handoff.service.insights.periods import MAX_DAYS, parse_period

UTC = dt.timezone.utc
NOW = dt.datetime(2024, 5, 1, 12, tzinfo=UTC).timestamp()  # Wednesday 1 May 2024, noon UTC
HOUR, DAY = 3600.0, 86400.0


def _at(*args, tz=UTC) -> float:
    return dt.datetime(*args, tzinfo=tz).timestamp()


def test_days_are_whole_calendar_days_of_the_zone_both_included():
    period = parse_period({"from": "2024-05-02", "to": "2024-05-03"}, NOW, 7)
    assert (period.start, period.end) == (_at(2024, 5, 2), _at(2024, 5, 4))
    assert period.days() == ["2024-05-02", "2024-05-03"]
    paris = parse_period({"from": "2024-05-02", "to": "2024-05-03", "tz": "Europe/Paris"},
                         NOW, 7)
    assert (paris.start, paris.end) == (period.start - 2 * HOUR, period.end - 2 * HOUR)
    assert paris.day(paris.start) == "2024-05-02" and period.day(paris.start) == "2024-05-01"
    assert paris.public() == {"from": "2024-05-02", "to": "2024-05-03", "tz": "Europe/Paris",
                              "start": paris.start, "end": paris.end}
    # A zone name, not an offset: the day summer time starts in Paris lasts 23 hours.
    spring = parse_period({"from": "2024-03-31", "to": "2024-03-31", "tz": "Europe/Paris"},
                          NOW, 7)
    assert spring.end - spring.start == 23 * HOUR


def test_iso_times_with_their_offset_are_exact_and_the_end_is_excluded():
    period = parse_period({"from": "2024-05-01T10:00:00+02:00", "to": "2024-05-01T12:30:00Z"},
                          NOW, 7)
    assert (period.start, period.end) == (_at(2024, 5, 1, 8), _at(2024, 5, 1, 12, 30))
    assert (period.asked_from, period.asked_to) == ("2024-05-01T10:00:00+02:00",
                                                    "2024-05-01T12:30:00Z")


def test_without_dates_the_default_length_ends_today_in_the_zone():
    week = parse_period({}, NOW, 7)
    assert (week.asked_from, week.asked_to) == ("2024-04-25", "2024-05-01")
    assert (week.start, week.end) == (_at(2024, 4, 25), _at(2024, 5, 2))
    month = parse_period({}, NOW, 30)
    assert (month.asked_from, month.asked_to) == ("2024-04-02", "2024-05-01")
    assert month.end - month.start == 30 * DAY and len(month.days()) == 30
    # At noon UTC it is already 2 May in Auckland.
    auckland = parse_period({"tz": "Pacific/Auckland"}, NOW, 7)
    assert (auckland.asked_from, auckland.asked_to) == ("2024-04-26", "2024-05-02")
    # Only one bound: the other follows from it.
    assert parse_period({"to": "2024-03-10"}, NOW, 7).asked_from == "2024-03-04"
    assert parse_period({"to": "2024-03-10T01:00:00+02:00"}, NOW, 7).asked_from == "2024-03-03"
    assert parse_period({"from": "2024-04-30"}, NOW, 7).days() == ["2024-04-30", "2024-05-01"]


def test_a_period_lasts_at_most_a_leap_year():
    year = parse_period({"from": "2024-01-01", "to": "2024-12-31", "tz": "Europe/Paris"}, NOW, 7)
    assert len(year.days()) == MAX_DAYS
    with pytest.raises(ApiError) as caught:
        parse_period({"from": "2024-01-01", "to": "2025-01-01"}, NOW, 7)
    assert caught.value.code == "bad_range"


@pytest.mark.parametrize("query, code", [
    ({"from": "2024-13-01"}, "bad_date"),
    ({"from": "2024-02-30"}, "bad_date"),
    ({"from": "2024-5-2"}, "bad_date"),
    ({"from": "20240502"}, "bad_date"),
    ({"from": "2024-W18-3"}, "bad_date"),
    ({"to": "yesterday"}, "bad_date"),
    ({"from": "2024-05-01T10:00:00"}, "bad_date"),  # an ISO time without its offset
    ({"to": "9999-12-31"}, "bad_date"),  # the day after does not exist
    ({"to": "0001-01-01"}, "bad_date"),  # nor does the week before
    ({"from": "2024-05-02", "to": "2024-05-01"}, "bad_range"),
    ({"from": "2024-05-01T10:00:00Z", "to": "2024-05-01T12:00:00+02:00"}, "bad_range"),
    ({"from": "2022-01-01", "to": "2024-01-01"}, "bad_range"),
    ({"tz": "Mars/Olympus"}, "bad_timezone"),
    ({"tz": "120"}, "bad_timezone"),  # minutes east of UTC: the miner's old way
    ({"tz": "../../etc/passwd"}, "bad_timezone"),
    ({"tz": "zone.tab"}, "bad_timezone"),  # a file of the zone database that is no zone
])
def test_wrong_periods_are_refused_with_a_clear_error(query, code):
    with pytest.raises(ApiError) as caught:
        parse_period(query, NOW, 7)
    assert caught.value.code == code
    status, english, french = MESSAGES[code]
    assert status == 400 and english and french
