"""The opening-hours editor: an expert's week and date overrides as a person thinks of them
(each weekday on or off, time ranges per day, per mode where wanted; closed on a date, other
hours on a date, a holiday over several dates), read from and translated to the rows the slot
engine already reads (``AvailabilityRule`` with a django-recurrence weekly rule, and
``AvailabilityException``).

The translation, both ways:

- the ranges that share their hours and modes become one weekly rule
  (``RRULE:FREQ=WEEKLY;BYDAY=MO,TU,...``, start and end local times, modes: empty for every mode);
- "closed from D to E" is one closure from local midnight D to local midnight E + 1;
- "other hours on D" is an exception date (EXDATE) on the weekly rules that open on D plus one
  extra opening per range.

Rows the editor cannot show (a rule every other week, a closure of a few hours, one for a
single mode, the running "Now" opening) are left as they are and listed beside it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import recurrence
from django import forms
from django.db import transaction
from django.forms import formset_factory
from django.utils import timezone
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from modules.booking.models import AvailabilityException, AvailabilityRule, Mode

DAYS = range(7)  # 0 = Monday
WORKDAYS = range(5)
MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY
#: The longest date range one override may cover.
MAX_OVERRIDE_DAYS = 366
#: How many days the preview beside the editor shows.
PREVIEW_DAYS = 14
ALL_MODES = tuple(Mode.values)


@dataclass(frozen=True)
class Range:
    """From ``start`` to ``end`` local time; ``end`` at or before ``start`` runs past midnight."""

    start: time
    end: time
    modes: tuple[str, ...] = ALL_MODES

    @property
    def overnight(self) -> bool:
        return self.end <= self.start

    def minutes(self, day: int = 0) -> tuple[int, int]:
        """[start, end) in minutes from Monday 00:00 of the week, for weekday ``day``."""
        start = day * MINUTES_PER_DAY + self.start.hour * 60 + self.start.minute
        end = day * MINUTES_PER_DAY + self.end.hour * 60 + self.end.minute
        if self.overnight:
            end += MINUTES_PER_DAY
        return start, end

    def label(self) -> str:
        return range_label(self.start, self.end)


def range_label(start: time, end: time) -> str:
    """``09:00–12:00``; a range past midnight reads ``22:00–02:00 (+1)``."""
    text = f"{start:%H:%M}–{end:%H:%M}"
    return f"{text} (+1)" if end <= start else text


@dataclass(frozen=True)
class Override:
    """A change to the week on dates ``first`` to ``last``: closed, or these ranges instead."""

    CLOSED = "closed"
    HOURS = "hours"

    kind: str
    first: date
    last: date
    ranges: tuple[Range, ...] = ()
    note: str = ""


@dataclass
class Plan:
    """Everything the editor shows and saves for one expert."""

    available: bool = True
    week: dict[int, list[Range]] = field(default_factory=lambda: {day: [] for day in DAYS})
    overrides: list[Override] = field(default_factory=list)
    modes_off: list[str] = field(default_factory=list)


# --- Reading today's rows -------------------------------------------------------------

def weekly_days(rule: AvailabilityRule) -> frozenset[int] | None:
    """The weekdays of a plain "every week on these days" (or "every day") rule, else None."""
    source = rule.recurrence
    if rule.valid_from or not source or source.exrules or source.rdates or len(source.rrules) != 1:
        return None
    rrule = source.rrules[0]
    if (rrule.interval or 1) != 1 or rrule.count or rrule.until:
        return None
    if any(getattr(rrule, name) for name in ("bysetpos", "bymonth", "bymonthday", "byyearday",
                                             "byweekno", "byhour", "byminute", "bysecond")):
        return None
    days = rrule.byday or []
    if any(getattr(day, "index", None) for day in days):
        return None
    numbers = frozenset(day.number if hasattr(day, "number") else int(day) for day in days)
    if rrule.freq == recurrence.DAILY and not numbers:
        return frozenset(DAYS)
    if rrule.freq == recurrence.WEEKLY and numbers:
        return numbers
    return None


def _modes(stored) -> tuple[str, ...]:
    return tuple(m for m in ALL_MODES if m in stored) if stored else ALL_MODES


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz)


def _whole_days(exception: AvailabilityException, tz: ZoneInfo) -> tuple[date, date] | None:
    """(first, last) local days of a closure from one local midnight to another, else None."""
    starts, ends = exception.starts_at.astimezone(tz), exception.ends_at.astimezone(tz)
    if starts.time() != time.min or ends.time() != time.min or ends.date() <= starts.date():
        return None
    return starts.date(), ends.date() - timedelta(days=1)


def _one_day_opening(exception: AvailabilityException, tz: ZoneInfo) -> tuple[date, Range] | None:
    starts, ends = exception.starts_at.astimezone(tz), exception.ends_at.astimezone(tz)
    if ends - starts > timedelta(days=1) or ends <= starts:
        return None
    if ends.date() != starts.date() and not (ends.date() == starts.date() + timedelta(days=1)
                                             and ends.time() <= starts.time()):
        return None
    return starts.date(), Range(starts.time().replace(second=0, microsecond=0),
                                ends.time().replace(second=0, microsecond=0))


@dataclass
class Stored:
    """An expert's rows sorted into what the editor manages and what it leaves alone."""

    plan: Plan
    rules: list[AvailabilityRule]
    exceptions: list[AvailabilityException]
    kept_rules: list[AvailabilityRule]
    kept_exceptions: list[AvailabilityException]


def read(expert, profile, now: datetime | None = None) -> Stored:
    """The expert's current plan (from today on, in their time zone) and the rows behind it."""
    now = now or timezone.now()
    tz = ZoneInfo(expert.time_zone)
    today = now.astimezone(tz).date()
    plan = Plan(modes_off=[m for m in ALL_MODES if m in (profile.modes_off or [])])
    rules, kept_rules = [], []
    replaced: set[date] = set()
    for rule in AvailabilityRule.objects.filter(expert=expert).order_by("start_time", "pk"):
        days = weekly_days(rule)
        if days is None:
            kept_rules.append(rule)
            continue
        rules.append(rule)
        span = Range(rule.start_time.replace(second=0, microsecond=0),
                     rule.end_time.replace(second=0, microsecond=0), _modes(rule.modes))
        for day in days:
            if span not in plan.week[day]:
                plan.week[day].append(span)
        replaced.update(d for d in (value.date() if isinstance(value, datetime) else value
                                    for value in rule.recurrence.exdates) if d >= today)
    exceptions, kept_exceptions = [], []
    closed_days: list[tuple[date, date, str]] = []
    other_hours: dict[date, list[Range]] = defaultdict(list)
    notes: dict[date, str] = {}
    running_now = profile.available_now_until
    for exception in AvailabilityException.objects.filter(expert=expert, ends_at__gt=now).order_by("starts_at"):
        if exception.modes:
            kept_exceptions.append(exception)
            continue
        if exception.kind == AvailabilityException.Kind.CLOSED:
            days = _whole_days(exception, tz)
            if days is None:
                kept_exceptions.append(exception)
                continue
            exceptions.append(exception)
            closed_days.append((max(days[0], today), days[1], exception.note))
            continue
        opening = _one_day_opening(exception, tz)
        is_now = running_now is not None and exception.ends_at == running_now
        if opening is None or is_now or (opening[0] not in replaced and
                                         any(opening[0].weekday() in weekly_days(r) for r in rules)):
            # An extra opening on a day that keeps its weekly hours: not an "instead" override.
            kept_exceptions.append(exception)
            continue
        exceptions.append(exception)
        day, span = opening
        other_hours[day].append(span)
        if exception.note:
            notes.setdefault(day, exception.note)
    for day in sorted(replaced | set(other_hours)):
        if other_hours.get(day):
            plan.overrides.append(Override(Override.HOURS, day, day, tuple(sorted(other_hours[day], key=_order)),
                                           notes.get(day, "")))
        else:
            plan.overrides.append(Override(Override.CLOSED, day, day))
    for first, last, note in closed_days:
        plan.overrides.append(Override(Override.CLOSED, first, last, note=note))
    plan.overrides.sort(key=lambda o: (o.first, o.kind))
    for day in DAYS:
        plan.week[day].sort(key=_order)
    plan.available = bool(rules)
    return Stored(plan, rules, exceptions, kept_rules, kept_exceptions)


def _order(span: Range):
    return span.start, span.end


# --- Writing rows ---------------------------------------------------------------------

def _noon(day: date) -> datetime:
    # An exception date stored at noon (naive, read in the current zone) keeps its date
    # through django-recurrence's round trip to UTC in any zone less than 12 hours away.
    return datetime.combine(day, time(12))


def rows_for(expert, plan: Plan) -> tuple[list[AvailabilityRule], list[AvailabilityException]]:
    """Unsaved rules and exceptions that give ``plan``."""
    tz = ZoneInfo(expert.time_zone)
    replaced = sorted({o.first + timedelta(days=n) for o in plan.overrides if o.kind == Override.HOURS
                       for n in range((o.last - o.first).days + 1)})
    groups: dict[Range, set[int]] = defaultdict(set)
    if plan.available:
        for day, spans in plan.week.items():
            for span in spans:
                groups[span].add(day)
    rules = []
    for span, days in sorted(groups.items(), key=lambda item: (_order(item[0]), sorted(item[1]))):
        rule = recurrence.Rule(recurrence.WEEKLY, byday=sorted(days))
        exdates = [_noon(day) for day in replaced if day.weekday() in days]
        rules.append(AvailabilityRule(
            expert=expert, start_time=span.start, end_time=span.end,
            modes=[] if set(span.modes) == set(ALL_MODES) else list(span.modes),
            recurrence=recurrence.Recurrence(rrules=[rule], exdates=exdates, include_dtstart=False),
        ))
    exceptions = []
    for override in plan.overrides:
        if override.kind == Override.CLOSED:
            exceptions.append(AvailabilityException(
                expert=expert, kind=AvailabilityException.Kind.CLOSED, note=override.note[:120],
                starts_at=_midnight(override.first, tz),
                ends_at=_midnight(override.last + timedelta(days=1), tz)))
            continue
        for n in range((override.last - override.first).days + 1):
            day = override.first + timedelta(days=n)
            for span in override.ranges:
                end_day = day + timedelta(days=1) if span.overnight else day
                exceptions.append(AvailabilityException(
                    expert=expert, kind=AvailabilityException.Kind.OPEN, note=override.note[:120],
                    starts_at=datetime.combine(day, span.start, tzinfo=tz),
                    ends_at=datetime.combine(end_day, span.end, tzinfo=tz)))
    return rules, exceptions


# --- The form -------------------------------------------------------------------------

def mode_choices():
    return [(m.value, m.label) for m in Mode]


class TimeInput(forms.TimeInput):
    input_type = "time"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%H:%M")


class RangeForm(forms.Form):
    """One time range of a weekday."""

    start = forms.TimeField(label=gettext_lazy("From"), widget=TimeInput())
    end = forms.TimeField(label=gettext_lazy("To"), widget=TimeInput(),
                          help_text=gettext_lazy("Earlier than the start: the range ends the next day."))
    modes = forms.MultipleChoiceField(label=gettext_lazy("Modes"), choices=mode_choices,
                                      widget=forms.CheckboxSelectMultiple, required=False,
                                      initial=list(ALL_MODES))

    def has_changed(self):
        # A blank row (the one left for a new range, or one emptied to remove it) is skipped.
        return bool(self.data.get(self.add_prefix("start")) or self.data.get(self.add_prefix("end")))

    def next_day(self) -> bool:
        """Whether the range as shown ends the next day (for the "(+1)" beside it)."""
        start, end = (_clock(self[name].value()) for name in ("start", "end"))
        return bool(start and end and end < start)

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] == data["end"]:
            self.add_error("end", _("The end cannot be the same time as the start."))
        if not data.get("modes"):
            self.add_error("modes", _("Tick at least one mode."))
        return data

    def chosen_modes(self) -> list[str]:
        value = self["modes"].value()
        return [m for m in ALL_MODES if m in (value or [])]

    def all_modes(self) -> bool:
        return len(self.chosen_modes()) == len(ALL_MODES)

    def modes_summary(self) -> str:
        """Whom the range is for, in words: "every mode", or "Chat, Phone"."""
        if self.all_modes():
            return _("every mode")
        return ", ".join(str(Mode(m).label) for m in self.chosen_modes()) or "—"

    def range(self) -> Range:
        data = self.cleaned_data
        return Range(data["start"], data["end"], _modes(data["modes"]))


class OverrideForm(forms.Form):
    """One date override: closed, or other hours, on a date or over a few dates."""

    KIND_CHOICES = [(Override.CLOSED, gettext_lazy("Closed")),
                    (Override.HOURS, gettext_lazy("Other hours"))]

    kind = forms.ChoiceField(label=gettext_lazy("What changes"), choices=KIND_CHOICES,
                             initial=Override.CLOSED)
    first = forms.DateField(label=gettext_lazy("On (or from)"), widget=forms.DateInput(attrs={"type": "date"},
                                                                                        format="%Y-%m-%d"))
    last = forms.DateField(label=gettext_lazy("Until (included)"), required=False,
                           widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                           help_text=gettext_lazy("Leave empty for a single day."))
    start = forms.TimeField(label=gettext_lazy("From"), widget=TimeInput(), required=False)
    end = forms.TimeField(label=gettext_lazy("To"), widget=TimeInput(), required=False)
    note = forms.CharField(label=gettext_lazy("Note"), max_length=120, required=False)

    def __init__(self, *args, today=None, **kwargs):
        self.today = today
        super().__init__(*args, **kwargs)

    def has_changed(self):
        return bool(self.data.get(self.add_prefix("first")))

    def clean(self):
        data = super().clean()
        first, last = data.get("first"), data.get("last")
        if first and self.today and first < self.today:
            self.add_error("first", _("This date is in the past."))
        if first and last:
            if last < first:
                self.add_error("last", _("The last day must come on or after the first."))
            elif (last - first).days >= MAX_OVERRIDE_DAYS:
                self.add_error("last", _("One change can cover a year at most."))
        if data.get("kind") == Override.HOURS:
            start, end = data.get("start"), data.get("end")
            if not start:
                self.add_error("start", _("Give the time the day opens."))
            if not end:
                self.add_error("end", _("Give the time the day closes."))
            if start and end and start == end:
                self.add_error("end", _("The end cannot be the same time as the start."))
        return data


def _clock(value) -> str:
    """"HH:MM" of a time or of what was typed, to compare two of them."""
    if isinstance(value, time):
        return value.strftime("%H:%M")
    text = str(value or "").strip()
    return text.zfill(5) if len(text) in (4, 5) and ":" in text else text[:5]


def summary(formset) -> list[str]:
    """The day's ranges as shown in its rows ("09:00–12:00", "22:00–02:00 (+1)"), posted or stored."""
    labels = []
    for form in formset.forms:
        start, end = (_clock(form[name].value()) for name in ("start", "end"))
        if start and end:
            labels.append(f"{start}–{end} (+1)" if end <= start else f"{start}–{end}")
    return labels


class _RowsFormSet(forms.BaseFormSet):
    """Rows added, emptied or removed in the page: every posted row is optional, a blank one
    is skipped (the page renumbers rows, so "initial" rows mean nothing once posted)."""

    def initial_form_count(self):
        return 0 if self.is_bound else super().initial_form_count()


class RangeFormSet(_RowsFormSet):
    def clean(self):
        if any(self.errors):
            return
        spans = self.ranges()
        for index, (form, span) in enumerate(spans):
            for _other_form, other in spans[:index]:
                if _overlap(span.minutes(), other.minutes()) and set(span.modes) & set(other.modes):
                    form.add_error("start", _("This range overlaps %(other)s.") % {"other": other.label()})
                    break

    def ranges(self) -> list[tuple[forms.Form, Range]]:
        return [(form, form.range()) for form in self.forms
                if form.has_changed() and getattr(form, "cleaned_data", None) and not form.errors]


class OverrideFormSet(_RowsFormSet):
    pass


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Whether two [start, end) minute intervals of a week meet, the week wrapping around."""
    for shift in (-MINUTES_PER_WEEK, 0, MINUTES_PER_WEEK):
        if a[0] < b[1] + shift and b[0] + shift < a[1]:
            return True
    return False


RangeFormSetClass = formset_factory(RangeForm, formset=RangeFormSet, extra=1)
OverrideFormSetClass = formset_factory(OverrideForm, formset=OverrideFormSet, extra=1)


class WeekForm(forms.Form):
    """The switches: appointments at set hours or not, each weekday, each mode."""

    available = forms.BooleanField(
        label=gettext_lazy("I take appointments at set hours"), required=False,
        help_text=gettext_lazy("Off: clients cannot book a time (your weekly hours are cleared); "
                               "the dates below with other hours stay open."))
    modes_on = forms.MultipleChoiceField(
        label=gettext_lazy("Modes I take now"), choices=mode_choices, widget=forms.CheckboxSelectMultiple,
        required=False, help_text=gettext_lazy("Untick a mode to stop taking it for a while."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for day in DAYS:
            self.fields[f"on_{day}"] = forms.BooleanField(label=WEEKDAYS[day], required=False)


class HoursEditor:
    """The whole editor: the switches, a range formset per weekday, the date overrides."""

    def __init__(self, data=None, *, plan: Plan, today: date):
        self.today = today
        self.week = WeekForm(data, initial={
            "available": plan.available,
            "modes_on": [m for m in ALL_MODES if m not in plan.modes_off],
            **{f"on_{day}": bool(plan.week[day]) for day in DAYS},
        })
        self.days = []
        for day in DAYS:
            initial = [{"start": s.start, "end": s.end, "modes": list(s.modes)} for s in plan.week[day]]
            formset = RangeFormSetClass(data, prefix=f"day{day}", initial=initial)
            self.days.append({"day": day, "name": WEEKDAYS[day], "formset": formset,
                              "on": self.week[f"on_{day}"], "summary": summary(formset)})
        rows = []
        for override in plan.overrides:
            base = {"kind": override.kind, "first": override.first,
                    "last": override.last if override.last != override.first else None, "note": override.note}
            if override.kind == Override.HOURS:
                rows.extend({**base, "start": s.start, "end": s.end} for s in override.ranges)
            else:
                rows.append(base)
        self.overrides = OverrideFormSetClass(data, prefix="ov", initial=rows, form_kwargs={"today": today})

    def __iter__(self):
        return iter(self.days)

    def is_valid(self) -> bool:
        valid = self.week.is_valid()
        for entry in self.days:
            valid = entry["formset"].is_valid() and valid
        valid = self.overrides.is_valid() and valid
        if not valid:
            return False
        return self._check_week() & self._check_overrides()

    @property
    def errors_count(self) -> int:
        count = len(self.week.errors) + self.overrides.total_error_count()
        return count + sum(entry["formset"].total_error_count() for entry in self.days)

    def _check_week(self) -> bool:
        ok = True
        available = self.week.cleaned_data["available"]
        if not available:
            return True
        spans = []
        for entry in self.days:
            day = entry["day"]
            on = self.week.cleaned_data[f"on_{day}"]
            ranges = entry["formset"].ranges()
            if on and not ranges:
                self.week.add_error(f"on_{day}", _("Add a time range for %(day)s, or switch the day off.")
                                    % {"day": WEEKDAYS[day]})
                ok = False
            if on:
                spans.extend((day, form, span) for form, span in ranges)
        # Across days: Monday 22:00–02:00 (+1) and Tuesday 01:00–03:00 meet.
        for index, (day, form, span) in enumerate(spans):
            for other_day, _form, other in spans[:index]:
                if other_day != day and _overlap(span.minutes(day), other.minutes(other_day)) \
                        and set(span.modes) & set(other.modes):
                    form.add_error("start", _("This range overlaps %(day)s %(other)s.")
                                   % {"day": WEEKDAYS[other_day], "other": other.label()})
                    ok = False
                    break
        if ok and not spans:
            self.week.add_error("available", _(
                "No day is open: open at least one day, or switch off appointments at set hours."))
            ok = False
        return ok

    def _check_overrides(self) -> bool:
        ok = True
        taken: dict[date, list[tuple[str, Range | None]]] = defaultdict(list)
        for form in self.overrides.forms:
            if not form.has_changed():
                continue
            data = form.cleaned_data
            first = data["first"]
            last = data.get("last") or first
            span = Range(data["start"], data["end"]) if data["kind"] == Override.HOURS else None
            for n in range((last - first).days + 1):
                day = first + timedelta(days=n)
                for kind, other in taken[day]:
                    if kind != data["kind"]:
                        form.add_error("kind", _("%(day)s is both closed and given other hours.")
                                       % {"day": day.strftime("%Y-%m-%d")})
                        ok = False
                        break
                    if span and other and _overlap(span.minutes(), other.minutes()):
                        form.add_error("start", _("This range overlaps %(other)s on %(day)s.")
                                       % {"other": other.label(), "day": day.strftime("%Y-%m-%d")})
                        ok = False
                        break
                else:
                    taken[day].append((data["kind"], span))
                    continue
                break
        return ok

    def plan(self) -> Plan:
        data = self.week.cleaned_data
        plan = Plan(available=data["available"],
                    modes_off=[m for m in ALL_MODES if m not in data["modes_on"]])
        for entry in self.days:
            if data[f"on_{entry['day']}"]:
                plan.week[entry["day"]] = sorted((span for _f, span in entry["formset"].ranges()), key=_order)
        grouped: dict[tuple, list[Range]] = defaultdict(list)
        for form in self.overrides.forms:
            if not form.has_changed():
                continue
            row = form.cleaned_data
            key = (row["kind"], row["first"], row.get("last") or row["first"], row.get("note", ""))
            if row["kind"] == Override.HOURS:
                grouped[key].append(Range(row["start"], row["end"]))
            else:
                grouped.setdefault(key, [])
        for (kind, first, last, note), spans in grouped.items():
            plan.overrides.append(Override(kind, first, last, tuple(sorted(spans, key=_order)), note))
        plan.overrides.sort(key=lambda o: (o.first, o.kind))
        return plan


def copy_to_workdays(data, source: int):
    """The posted editor with weekday ``source``'s ranges copied to Monday to Friday (the
    "copy" button without JavaScript: shown again, not saved)."""
    data = data.copy()
    prefix = f"day{source}"
    total = int(data.get(f"{prefix}-TOTAL_FORMS") or 0)
    rows = [(data.get(f"{prefix}-{i}-start", ""), data.get(f"{prefix}-{i}-end", ""),
             data.getlist(f"{prefix}-{i}-modes")) for i in range(total)]
    rows = [row for row in rows if row[0] or row[1]]
    for day in WORKDAYS:
        if day == source:
            continue
        target = f"day{day}"
        for key in [k for k in data if k.startswith(f"{target}-") and k.split("-")[1].isdigit()]:
            del data[key]
        for i, (start, end, modes) in enumerate(rows):
            data[f"{target}-{i}-start"] = start
            data[f"{target}-{i}-end"] = end
            data.setlist(f"{target}-{i}-modes", modes)
        data[f"{target}-TOTAL_FORMS"] = str(len(rows))
        data[f"{target}-INITIAL_FORMS"] = "0"
        if data.get(f"on_{source}"):
            data[f"on_{day}"] = "on"
        else:
            data.pop(f"on_{day}", None)
    return data


# --- The preview ----------------------------------------------------------------------

def preview(expert, mode: str, now: datetime | None = None) -> dict:
    """The next two weeks' free start times in ``mode``, by the booking's own engine, grouped by
    the expert's local day, for the length of the shortest consultation on sale in that mode."""
    from modules.booking import availability

    now = now or timezone.now()
    tz = ZoneInfo(expert.time_zone)
    profile = availability.profile_for(expert)
    offering = availability.bookable_offerings([expert.pk])[expert.pk].get(mode)
    lengths = [minutes or profile.slot_minutes for _p, _price, minutes in offering.products()] if offering else []
    minutes = min(lengths) if lengths else profile.slot_minutes
    start_day = now.astimezone(tz).date()
    end = _midnight(start_day + timedelta(days=PREVIEW_DAYS), tz)
    free = availability.free_slots(expert, mode, minutes, now, end, now)
    by_day: dict[date, list[datetime]] = defaultdict(list)
    for slot in free:
        by_day[slot.astimezone(tz).date()].append(slot.astimezone(tz))
    days = [{"date": start_day + timedelta(days=n), "slots": by_day.get(start_day + timedelta(days=n), [])}
            for n in range(PREVIEW_DAYS)]
    return {"mode": mode, "mode_label": Mode(mode).label, "minutes": minutes, "days": days,
            "zone": expert.time_zone, "offered": offering is not None, "count": len(free)}


def preview_unsaved(expert, plan: Plan, mode: str, now: datetime | None = None) -> dict:
    """The preview of ``plan`` before it is saved: written inside a transaction that is rolled
    back, so the booking's engine reads it exactly as it would once saved."""
    from modules.booking import services

    now = now or timezone.now()
    try:
        with transaction.atomic():
            services.set_hours(expert, plan, now=now)
            shown = preview(expert, mode, now)
            transaction.set_rollback(True)
    finally:
        # services.profile() cached the profile row of the rolled-back transaction on the expert.
        expert.__dict__.pop("_booking_profile_cache", None)
    return {**shown, "unsaved": True}
