"""When a cron schedule is due, in its time zone (the syntax is checked by native.cron).

Due times are whole UTC minutes whose wall-clock time in the schedule's zone matches
the expression. Across daylight-saving changes (as classic cron does): a time that
does not exist because clocks jumped forward fires at the first minute after the jump,
and a time that occurs twice because clocks went back fires once, the first time.
Schedules that run every hour (hour field ``*``) simply follow the wall clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from fastn_gen.native.cron import FIELDS, ITEM, MACRO_FIELDS, cron_problem

MINUTE = timedelta(minutes=1)
# How far ahead ``next_due`` looks: enough for 29 February on a given weekday.
HORIZON = timedelta(days=366 * 8)


def _value(text: str, names: dict[str, int]) -> int:
    return int(text) if text.isdigit() else names[text.upper()]


def _field_values(text: str, low: int, high: int, names: dict[str, int]) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        found = ITEM.match(item)
        assert found is not None  # checked by cron_problem
        part, step = found.group("range"), int(found.group("step") or 1)
        if part == "*":
            start, end = low, high
        elif "-" in part:
            first, last = part.split("-")
            start, end = _value(first, names), _value(last, names)
        else:
            start = _value(part, names)
            end = high if found.group("step") else start  # "5/15": from 5 to the end
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True, slots=True)
class CronSchedule:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    day_restricted: bool
    weekday_restricted: bool
    hour_restricted: bool
    zone: ZoneInfo

    @classmethod
    def parse(cls, expression: str, timezone: str = "UTC") -> CronSchedule:
        problem = cron_problem(expression)
        if problem is not None:
            raise ValueError(problem)
        text = expression.strip()
        text = MACRO_FIELDS.get(text.lower(), text)
        fields = text.split()
        sets = [
            _field_values(field, low, high, names)
            for field, (_, low, high, names) in zip(fields, FIELDS, strict=True)
        ]
        return cls(
            minutes=sets[0],
            hours=sets[1],
            days=sets[2],
            months=sets[3],
            weekdays=frozenset(d % 7 for d in sets[4]),
            day_restricted=not fields[2].startswith("*"),
            weekday_restricted=not fields[4].startswith("*"),
            hour_restricted=not fields[1].startswith("*"),
            zone=ZoneInfo(timezone),
        )

    def date_matches(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        in_month = day.day in self.days
        in_week = (day.weekday() + 1) % 7 in self.weekdays
        # Classic cron: with both restricted, either may match.
        if self.day_restricted and self.weekday_restricted:
            return in_month or in_week
        return in_month and in_week

    def wall_matches(self, wall: datetime) -> bool:
        return (
            wall.minute in self.minutes
            and wall.hour in self.hours
            and self.date_matches(wall.date())
        )

    def _wall(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)

    def _skipped_match(self, moment: datetime, wall: datetime) -> bool:
        """Whether clocks jumped forward just before ``moment`` over a matching time."""
        before = self._wall(moment - MINUTE).replace(tzinfo=None)
        skipped = before + MINUTE
        while skipped < wall.replace(tzinfo=None):
            if self.wall_matches(skipped):
                return True
            skipped += MINUTE
        return False

    def due_times(self, after: datetime, until: datetime) -> Iterator[datetime]:
        """The due UTC minutes in ``(after, until]``, in order."""
        moment = after.astimezone(UTC).replace(second=0, microsecond=0) + MINUTE
        end = until.astimezone(UTC)
        while moment <= end:
            wall = self._wall(moment)
            if self.hour_restricted and self._skipped_match(moment, wall):
                yield moment
            elif not self.date_matches(wall.date()):
                midnight = datetime.combine(wall.date() + timedelta(days=1), time(), self.zone)
                moment = max(moment + MINUTE, midnight.astimezone(UTC))
                continue
            elif wall.hour not in self.hours:
                moment += MINUTE * (60 - wall.minute)
                continue
            elif wall.minute in self.minutes and not (self.hour_restricted and wall.fold):
                yield moment
            moment += MINUTE

    def next_due(self, after: datetime) -> datetime | None:
        return next(self.due_times(after, after + HORIZON), None)
