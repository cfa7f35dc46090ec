"""The opening-hours editor: an expert sets their week and dates by form (CSRF enforced), bad
input is refused on the field with nothing saved, and only the expert and the practice's
administrators get in. The slots that follow come from the booking's own engine."""

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import recurrence
from django.test import Client

from modules.booking import availability, hours, services
from modules.booking.models import AvailabilityException, AvailabilityRule

PARIS = ZoneInfo("Europe/Paris")
#: Monday 2 November 2026, 08:00 in Paris.
NOW = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)
NEXT_FRIDAY = date(2026, 11, 6)


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)


def url(expert):
    return f"/admin/booking_hours/{expert.pk}/"


def week_post(ranges=None, *, available=True, on=None, overrides=(), modes_on=("chat", "video", "phone")):
    """The editor's form as a browser without JavaScript posts it. ``ranges``: {weekday: [(start,
    end) or (start, end, modes)]}; ``overrides``: dicts of OverrideForm fields."""
    ranges = ranges or {}
    data = {"modes_on": list(modes_on)}
    if available:
        data["available"] = "on"
    for day in range(7):
        rows = ranges.get(day, [])
        if (on is None and rows) or (on is not None and day in on):
            data[f"on_{day}"] = "on"
        data[f"day{day}-TOTAL_FORMS"] = str(len(rows) + 1)
        data[f"day{day}-INITIAL_FORMS"] = "0"
        for i, row in enumerate(rows):
            data[f"day{day}-{i}-start"], data[f"day{day}-{i}-end"] = row[0], row[1]
            data[f"day{day}-{i}-modes"] = list(row[2]) if len(row) > 2 else ["chat", "video", "phone"]
        data[f"day{day}-{len(rows)}-modes"] = ["chat", "video", "phone"]  # the blank row left for a new range
    data["ov-TOTAL_FORMS"] = str(len(overrides) + 1)
    data["ov-INITIAL_FORMS"] = "0"
    for i, row in enumerate(overrides):
        for key, value in row.items():
            data[f"ov-{i}-{key}"] = value
    data[f"ov-{len(overrides)}-kind"] = "closed"
    return data


def csrf_client(user):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    return browser


def post_with_token(browser, path, data):
    page = browser.get(path)
    assert page.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    return browser.post(path, {**data, "csrfmiddlewaretoken": token})


def rows(expert):
    rules = sorted((recurrence.serialize(r.recurrence), r.start_time, r.end_time, tuple(r.modes))
                   for r in AvailabilityRule.objects.filter(expert=expert))
    exceptions = sorted((e.kind, e.starts_at, e.ends_at, tuple(e.modes), e.note)
                        for e in AvailabilityException.objects.filter(expert=expert))
    return rules, exceptions


def local(day, hour, minute=0):
    return datetime.combine(day, time(hour, minute), tzinfo=PARIS)


def every(first, last, step=30):
    """first, first + step... up to last included (local datetimes)."""
    found = []
    while first <= last:
        found.append(first)
        first += timedelta(minutes=step)
    return found


def test_an_expert_sets_tuesday_and_thursday_and_closes_from_friday_by_form(practice, expert_setup):
    expert, _page = expert_setup
    browser = csrf_client(expert.user)
    assert browser.get("/admin/booking_hours/").url == url(expert)
    response = post_with_token(browser, url(expert), week_post(
        {1: [("09:00", "12:00"), ("14:00", "18:00")], 3: [("10:00", "11:00", ["phone"])]},
        overrides=[{"kind": "closed", "first": "2026-11-06", "last": "2026-11-08", "note": "Congrès"}]))
    assert response.status_code == 302, response.content.decode()[:3000]
    rules, exceptions = rows(expert)
    assert rules == [
        ("RRULE:FREQ=WEEKLY;BYDAY=TH", time(10), time(11), ("phone",)),
        ("RRULE:FREQ=WEEKLY;BYDAY=TU", time(9), time(12), ()),
        ("RRULE:FREQ=WEEKLY;BYDAY=TU", time(14), time(18), ()),
    ]
    assert exceptions == [("closed", local(NEXT_FRIDAY, 0), local(date(2026, 11, 9), 0), (), "Congrès")]
    # The page shows the week back, and the free times the booking would offer.
    body = browser.get(response.url).content.decode()
    assert "Vos horaires sont enregistrés" in body
    assert 'name="day1-1-start" value="14:00"' in body and 'name="day3-0-modes" value="phone"' in body
    assert 'value="2026-11-06"' in body and 'value="2026-11-08"' in body
    tuesday = re.search(r'data-date="2026-11-03">(.*?)</li>', body, re.S).group(1)
    day = date(2026, 11, 3)
    assert re.findall(r">(\d\d:\d\d)</time>", tuesday) == [
        t.strftime("%H:%M") for t in every(local(day, 9), local(day, 11, 30)) + every(local(day, 14), local(day, 17, 30))]
    friday = re.search(r'data-date="2026-11-06">(.*?)</li>', body, re.S).group(1)
    assert "<time" not in friday


def test_the_preview_lists_what_the_booking_engine_offers(practice, expert_setup):
    expert, _page = expert_setup
    services.set_hours(expert, hours.Plan(week={**{d: [] for d in range(7)},
                                                 1: [hours.Range(time(9), time(12)), hours.Range(time(14), time(18))]},
                                          overrides=[hours.Override("closed", date(2026, 11, 10), date(2026, 11, 10))]))
    client = csrf_client(expert.user)
    body = client.get(url(expert) + "?mode=chat").content.decode()
    # Chat's shortest package is 15 minutes: starts every 30 minutes up to 15 minutes before closing.
    tuesday = re.search(r'data-date="2026-11-03">(.*?)</li>', body, re.S).group(1)
    expected = [t.strftime("%H:%M") for t in every(local(date(2026, 11, 3), 9), local(date(2026, 11, 3), 11, 30))
                + every(local(date(2026, 11, 3), 14), local(date(2026, 11, 3), 17, 30))]
    assert re.findall(r">(\d\d:\d\d)</time>", tuesday) == expected
    closed = re.search(r'data-date="2026-11-10">(.*?)</li>', body, re.S).group(1)
    assert "<time" not in closed and "aucun créneau libre" in closed
    engine = availability.free_slots(expert, "chat", 15, NOW, local(date(2026, 11, 16), 0), NOW)
    # Tuesday 10 is closed: the engine offers the first Tuesday only, and so does the page.
    assert len(re.findall(r"<time datetime", body)) == len(engine) == len(expected)


def test_an_unchanged_save_changes_no_row(practice, expert_setup):
    expert, _page = expert_setup
    services.set_hours(expert, hours.Plan(
        week={**{d: [] for d in range(7)}, 0: [hours.Range(time(22), time(2))],
              2: [hours.Range(time(9), time(12), ("chat",)), hours.Range(time(9), time(12), ("video",))]},
        overrides=[hours.Override("hours", date(2026, 11, 4), date(2026, 11, 4), (hours.Range(time(15), time(16)),)),
                   hours.Override("closed", date(2026, 12, 21), date(2027, 1, 3), note="Noël")]))
    before = rows(expert)
    plan = hours.read(expert, availability.profile_for(expert), NOW).plan
    services.set_hours(expert, plan)
    assert rows(expert) == before
    # Posted back as the page shows it, too.
    browser = csrf_client(expert.user)
    page = browser.get(url(expert)).content.decode()
    assert re.search(r'data-next-day\s+title', page)  # Monday 22:00–02:00 shows "(+1)"
    assert re.search(r'data-summary data-closed="fermé">22:00–02:00 \(\+1\)</p>', page)
    assert 'data-summary data-closed="fermé">fermé</p>' in page  # Tuesday
    data = {}
    for name, value in re.findall(r'<input type="(?:time|date|text|hidden)" name="([^"]+)" value="([^"]*)"', page):
        data[name] = value
    for name, value in re.findall(r'<input type="(?:time|date|text|hidden)" name="([^"]+)"[^>]*value="([^"]*)"', page):
        data.setdefault(name, value)
    for name in re.findall(r'<input type="checkbox" name="([^"]+)"[^>]*checked', page):
        data.setdefault(name, "on")
    for name, value in re.findall(r'<input type="checkbox" name="([^"]+)" value="([^"]+)"[^>]*checked', page):
        data.setdefault(name, [])
        if isinstance(data[name], str):
            data[name] = []
        data[name].append(value)
    for name, value in re.findall(r'<select name="([^"]+)"[^>]*>.*?<option value="([^"]+)" selected', page, re.S):
        data[name] = value
    response = browser.post(url(expert), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert rows(expert) == before


def test_other_hours_on_a_date_replace_the_week_that_day(practice, expert_setup):
    expert, _page = expert_setup
    response = post_with_token(csrf_client(expert.user), url(expert), week_post(
        {1: [("09:00", "12:00")]},
        overrides=[{"kind": "hours", "first": "2026-11-10", "start": "14:00", "end": "15:00"},
                   {"kind": "hours", "first": "2026-11-10", "start": "20:00", "end": "21:00"}]))
    assert response.status_code == 302, response.content.decode()[:3000]
    slots = availability.free_slots(expert, "video", 45, NOW, local(date(2026, 11, 11), 0), NOW)
    assert [s.astimezone(PARIS) for s in slots] == every(local(date(2026, 11, 3), 9), local(date(2026, 11, 3), 11)) + [
        local(date(2026, 11, 10), 14), local(date(2026, 11, 10), 20)]


def test_an_overnight_range_and_per_mode_ranges(practice, expert_setup):
    expert, _page = expert_setup
    response = post_with_token(csrf_client(expert.user), url(expert), week_post(
        {0: [("22:00", "02:00")], 1: [("09:00", "10:00", ["chat"]), ("09:00", "10:00", ["phone"])]}))
    assert response.status_code == 302, response.content.decode()[:3000]
    end = local(date(2026, 11, 4), 0)
    assert [s.astimezone(PARIS) for s in availability.free_slots(expert, "video", 45, NOW, end, NOW)] == \
        every(local(date(2026, 11, 2), 22), local(date(2026, 11, 3), 1))
    chat = availability.free_slots(expert, "chat", 15, NOW, end, NOW)
    assert local(date(2026, 11, 3), 9) in chat and local(date(2026, 11, 3), 9, 30) in chat
    assert hours.range_label(time(22), time(2)) == "22:00–02:00 (+1)"
    # Shown back: a range for every mode keeps its modes folded, one for chat only shows them.
    page = csrf_client(expert.user).get(url(expert)).content.decode()
    monday = page[page.index('data-day="0"'):page.index('data-day="1"')]
    assert '<details class="hours__modes-more">' in monday and ">tous les modes</span>" in monday
    tuesday = page[page.index('data-day="1"'):page.index('data-day="2"')]
    assert tuesday.count('<details class="hours__modes-more" open>') == 2
    assert ">Chat</span>" in tuesday and ">Téléphone</span>" in tuesday


@pytest.mark.parametrize(("data", "field", "message"), [
    (week_post({1: [("09:00", "12:00"), ("11:00", "13:00")]}), "day1-1-start", "chevauche 09:00–12:00"),
    (week_post({0: [("22:00", "02:00")], 1: [("01:00", "03:00")]}), "day1-0-start", "chevauche lundi 22:00–02:00"),
    (week_post({1: [("09:00", "09:00")]}), "day1-0-end", "La fin ne peut pas être à l’heure du début"),
    (week_post({1: [("09:00", "12:00", [])]}), "day1-0-modes", "Cochez au moins un mode"),
    (week_post({1: [("09:00", "12:00")]}, overrides=[{"kind": "closed", "first": "2026-11-01"}]),
     "ov-0-first", "Cette date est passée"),
    (week_post({1: [("09:00", "12:00")]}, overrides=[{"kind": "closed", "first": "2026-11-06",
                                                      "last": "2036-11-06"}]),
     "ov-0-last", "un an au plus"),
    (week_post({1: [("09:00", "12:00")]}, overrides=[{"kind": "closed", "first": "2026-11-06",
                                                      "last": "2026-11-05"}]),
     "ov-0-last", "Le dernier jour doit"),
    (week_post({1: [("09:00", "12:00")]}, overrides=[{"kind": "hours", "first": "2026-11-06", "start": "10:00"}]),
     "ov-0-end", "Indiquez l’heure de fermeture"),
    (week_post({1: [("09:00", "12:00")]}, overrides=[{"kind": "closed", "first": "2026-11-06"},
                                                     {"kind": "hours", "first": "2026-11-06", "start": "10:00",
                                                      "end": "11:00"}]),
     "ov-1-kind", "à la fois fermé"),
    (week_post({}), "available", "Aucun jour n’est ouvert"),
    (week_post({}, on={2}), "on_2", "Ajoutez une plage horaire pour mercredi"),
    (week_post({1: [("09:00", "25:00")]}), "day1-0-end", "Saisissez une heure valide"),
], ids=["overlap", "overnight-overlap", "end-is-start", "no-mode", "past", "ten-years", "backwards", "no-end",
        "closed-and-hours", "empty-week", "day-on-without-range", "not-a-time"])
def test_bad_input_is_refused_on_its_field_and_nothing_is_saved(practice, expert_setup, data, field, message):
    expert, _page = expert_setup
    before = rows(expert)
    response = post_with_token(csrf_client(expert.user), url(expert), data)
    assert response.status_code == 400
    body = response.content.decode()
    assert "Rien n’a été enregistré" in body
    assert message in body, body[body.find("error-message") - 2000:body.find("error-message") + 500]
    # The message sits with its field.
    field_at = body.find(f'name="{field}"')
    assert field_at != -1 and message in body[field_at:field_at + 1500]
    assert rows(expert) == before


def test_the_form_needs_its_csrf_token(practice, expert_setup):
    expert, _page = expert_setup
    before = rows(expert)
    response = csrf_client(expert.user).post(url(expert), week_post({1: [("09:00", "12:00")]}))
    assert response.status_code == 403
    assert rows(expert) == before


def test_copy_without_javascript_shows_monday_to_friday_unsaved(practice, expert_setup):
    expert, _page = expert_setup
    before = rows(expert)
    data = week_post({1: [("09:00", "12:00"), ("14:00", "18:00")], 5: [("10:00", "12:00")]})
    response = post_with_token(csrf_client(expert.user), url(expert), {**data, "copy": "1"})
    assert response.status_code == 200
    body = response.content.decode()
    for day in range(5):
        assert f'name="day{day}-0-start" value="09:00"' in body and f'name="day{day}-1-end" value="18:00"' in body
        assert re.search(rf'name="on_{day}" id="id_on_{day}" data-on checked', body)
    assert 'name="day5-0-start" value="10:00"' in body and 'name="day6-0-start" value=' not in body
    assert rows(expert) == before


def test_switching_off_appointments_and_modes(practice, expert_setup):
    expert, _page = expert_setup
    response = post_with_token(csrf_client(expert.user), url(expert), week_post(
        {}, available=False, modes_on=("chat",),
        overrides=[{"kind": "hours", "first": "2026-11-07", "start": "10:00", "end": "11:00"}]))
    assert response.status_code == 302, response.content.decode()[:3000]
    assert not AvailabilityRule.objects.filter(expert=expert).exists()
    from modules.booking.models import BookingProfile

    assert BookingProfile.objects.get(expert=expert).modes_off == ["phone", "video"]
    assert AvailabilityException.objects.get(expert=expert).kind == "open"


def test_rows_the_editor_cannot_show_are_kept(practice, expert_setup):
    expert, _page = expert_setup
    fortnight = AvailabilityRule.objects.create(
        expert=expert, recurrence=recurrence.deserialize("RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=SU"),
        start_time=time(10), end_time=time(12), valid_from=date(2026, 11, 1))
    lunch = AvailabilityException.objects.create(expert=expert, kind="closed", starts_at=local(date(2026, 11, 4), 12),
                                                 ends_at=local(date(2026, 11, 4), 13), note="Dentiste")
    now_opening = services.available_now(expert)
    past = AvailabilityException.objects.create(expert=expert, kind="closed", starts_at=local(date(2026, 10, 1), 0),
                                                ends_at=local(date(2026, 10, 2), 0))
    body = csrf_client(expert.user).get(url(expert)).content.decode()
    assert "Dentiste" in body  # listed beside the editor
    services.set_hours(expert, hours.Plan(week={**{d: [] for d in range(7)}, 2: [hours.Range(time(9), time(10))]}))
    assert set(AvailabilityRule.objects.filter(expert=expert).values_list("start_time", flat=True)) == {time(9),
                                                                                                     time(10)}
    assert AvailabilityRule.objects.filter(pk=fortnight.pk).exists()
    kept = set(AvailabilityException.objects.filter(expert=expert).values_list("pk", flat=True))
    assert kept == {lunch.pk, now_opening.pk, past.pk}


def test_only_the_expert_and_the_practice_administrators_get_in(practice, expert_setup, make_expert, make_user,
                                                                client):
    from django.contrib.auth.models import Permission

    expert, _page = expert_setup
    colleague, _p, _e = make_expert(practice, "Marc Dubois")
    before = rows(expert)
    # Anonymous: to the login page.
    assert "/admin/login/" in client.get(url(expert)).url
    # Another expert: not found, nothing written; their own index leads to their own hours.
    other = csrf_client(colleague.user)
    assert other.get(url(expert)).status_code == 404
    assert other.get("/admin/booking_hours/").url == url(colleague)
    token_page = other.get(url(colleague)).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', token_page).group(1)
    assert other.post(url(expert), {**week_post({1: [("09:00", "10:00")]}), "csrfmiddlewaretoken": token}
                      ).status_code == 404
    assert rows(expert) == before
    # A client with admin access but no expert: refused.
    client_user = make_user()
    client_user.user_permissions.add(Permission.objects.get(codename="access_admin"))
    client.force_login(client_user)
    assert client.get(url(expert)).status_code in (302, 403)
    assert client.get("/admin/booking_hours/").status_code in (302, 403)
    assert rows(expert) == before
    # The practice administrator chooses any expert and edits their hours.
    from site_core.access.services import add_practice_admin

    admin = make_user()
    add_practice_admin(practice.site, admin)
    boss = csrf_client(admin)
    listing = boss.get("/admin/booking_hours/").content.decode()
    assert url(expert) in listing and url(colleague) in listing
    page = boss.get(url(colleague)).content.decode()
    assert "<title>Horaires d’ouverture: Marc Dubois" in page and 'href="/admin/booking_hours/"' in page
    assert 'href="/admin/booking_hours/"' not in csrf_client(expert.user).get(url(expert)).content.decode()
    response = post_with_token(boss, url(colleague), week_post({4: [("08:00", "09:00")]}))
    assert response.status_code == 302
    assert AvailabilityRule.objects.get(expert=colleague).start_time == time(8)
    assert rows(expert) == before


def test_the_old_rule_form_and_its_widget_are_gone(practice, expert_setup):
    expert, _page = expert_setup
    browser = csrf_client(expert.user)
    assert browser.get("/admin/booking_rules/").status_code == 404
    for path in ("/admin/booking_exceptions/new/", "/admin/booking_offerings/new/", "/admin/booking_profiles/new/",
                 url(expert)):
        body = browser.get(path).content.decode()
        # django-recurrence's widget and the django.contrib.admin jQuery it asked for.
        assert "recurrence/js" not in body and "/static/admin/" not in body, path
    menu = browser.get("/admin/").content.decode()
    assert "/admin/booking_hours/" in menu


def test_preview_before_saving_shows_the_posted_hours_and_writes_nothing(practice, expert_setup):
    from modules.booking.models import BookingProfile

    expert, _page = expert_setup
    BookingProfile.objects.get_or_create(expert=expert)
    before = rows(expert)
    modes_before = BookingProfile.objects.get(expert=expert).modes_off
    data = week_post({2: [("20:00", "21:00")]}, modes_on=("chat", "phone"),
                     overrides=[{"kind": "closed", "first": "2026-11-11"}])
    response = post_with_token(csrf_client(expert.user), url(expert) + "?mode=chat", {**data, "preview": "1"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "rien n’est enregistré avant d’appuyer sur Enregistrer" in body
    # Wednesday 4 November: 20:00 and 20:30 (chat's 15-minute package), the 11th closed, no Monday hours.
    wednesday = re.search(r'data-date="2026-11-04">(.*?)</li>', body, re.S).group(1)
    assert re.findall(r">(\d\d:\d\d)</time>", wednesday) == ["20:00", "20:30"]
    assert "<time" not in re.search(r'data-date="2026-11-11">(.*?)</li>', body, re.S).group(1)
    assert "<time" not in re.search(r'data-date="2026-11-09">(.*?)</li>', body, re.S).group(1)
    # The form shows what was posted, the database what was there.
    assert 'name="day2-0-start" value="20:00"' in body
    assert rows(expert) == before
    assert BookingProfile.objects.get(expert=expert).modes_off == modes_before
    # The page shown afterwards reads the saved week again: Monday's 09:00.
    saved = csrf_client(expert.user).get(url(expert) + "?mode=chat").content.decode()
    monday = re.search(r'data-date="2026-11-02">(.*?)</li>', saved, re.S).group(1)
    assert ">09:00</time>" in monday


def test_a_bad_preview_is_refused_like_a_bad_save(practice, expert_setup):
    expert, _page = expert_setup
    before = rows(expert)
    data = week_post({1: [("09:00", "12:00"), ("11:00", "13:00")]})
    response = post_with_token(csrf_client(expert.user), url(expert), {**data, "preview": "1"})
    assert response.status_code == 400
    assert "chevauche 09:00–12:00" in response.content.decode()
    assert rows(expert) == before
