"""The anonymous page cache: what a cached page shows, and when it stops being true.

A cached page is stored with the *tags* of what it shows and the generation
of each tag when it was rendered (generations live in the shared cache, Redis
when REDIS_URL is set, so every worker process sees a bump at once). A page is
served from the cache only while none of its tags has been bumped since.

Tags are:

- ``all``: every page of every site (a page, an image);
- ``site:<site id>``: every page of one site (its practice settings);
- ``expert:<expert id>``: the pages of one expert, in every language;
- ``index``: the expert index, whose cards show a little of each expert.

What bumps them is declared, never called by hand: every app config (the
kernel's and each module's :class:`site_core.modules.ModuleConfig`) lists in
``shown_on_pages`` the models whose rows public pages show, as
:class:`ShownOnPages`. The kernel connects ``post_save`` and ``post_delete``
of those models (and their subclasses) and bumps the tags **after the
transaction commits**: bumped inside it, a request served meanwhile would read
the old rows under the new generation and cache them again.

A declaration may also name the datetime fields at which what a page shows
changes by itself (``available_now_until``): a page is cached no longer than
until the next of those moments (:func:`lifetime`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime
from functools import cache as memoize

from django.apps import apps
from django.core.cache import cache
from django.db import transaction
from django.db.models import Min, Q
from django.db.models.signals import post_delete, post_save, pre_save
from wagtail.signals import post_page_move

ALL = "all"
INDEX = "index"
GENERATION_KEY = "cabinet:pages:generation"


def site_tag(site_id) -> str:
    return f"site:{site_id}"


def expert_tag(expert_id) -> str:
    return f"expert:{expert_id}"


@dataclass(frozen=True)
class ShownOnPages:
    """A model whose rows public pages show, and which pages.

    ``model`` is ``"app_label.ModelName"`` (its subclasses count too: a page type,
    a custom image model). Say where a row shows, any of:

    - ``expert``: the name of the row's foreign key to ``site_core.Expert``: that
      expert's pages (all their translations) show it;
    - ``index=True``: the expert index shows it too (on the cards);
    - ``site``: the name of the row's foreign key to ``wagtailcore.Site``: every
      page of that site shows it (a site setting);
    - ``everywhere=True``: every page of every site.

    ``changes_at`` names datetime fields at which what the pages show changes
    with no write (an "available now" that runs out): the pages that show the
    row are cached no longer than until the soonest of them still to come.
    """

    model: str
    expert: str | None = None
    index: bool = False
    site: str | None = None
    everywhere: bool = False
    changes_at: tuple[str, ...] = ()

    def __post_init__(self):
        if not (self.expert or self.index or self.site or self.everywhere):
            raise ValueError(f"{self.model}: say which pages show it (expert, index, site or everywhere)")

    def model_class(self):
        return apps.get_model(self.model)

    def tags(self, row, previous=None) -> set[str]:
        """The tags a change of ``row`` makes stale (``previous``: its foreign keys before the change)."""
        if self.everywhere:
            return {ALL}
        found = set()
        if self.index:
            found.add(INDEX)
        for value in _ids(row, self.expert, previous):
            found.add(expert_tag(value))
        for value in _ids(row, self.site, previous):
            found.add(site_tag(value))
        if self.site and not _ids(row, self.site, previous):
            found.add(ALL)  # a row of no site: it is not known which pages show it
        return found


def _attname(model, field_name):
    return model._meta.get_field(field_name).attname


def _ids(row, field_name, previous) -> set:
    if not field_name:
        return set()
    attname = _attname(type(row), field_name)
    values = {getattr(row, attname, None), (previous or {}).get(attname)}
    return {value for value in values if value is not None}


# --- Declarations ----------------------------------------------------------

def declarations() -> list[tuple[object, ShownOnPages]]:
    """(app config, declaration) for every ``shown_on_pages`` entry of every installed app."""
    found = []
    for config in apps.get_app_configs():
        for declaration in getattr(config, "shown_on_pages", ()) or ():
            found.append((config, declaration))
    return found


@memoize
def _by_model():
    """{concrete model: [declarations]}, a declared model's subclasses included."""
    table = {}
    declared = [(d.model_class(), d) for _config, d in declarations()]
    for model in apps.get_models():
        for base, declaration in declared:
            if issubclass(model, base):
                table.setdefault(model, []).append(declaration)
    return table


def connect():
    """Connects the receivers for every declared model (called once, in SiteCoreConfig.ready())."""
    for model in _by_model():
        uid = f"cabinet-page-cache-{model._meta.label_lower}"
        pre_save.connect(_remember_keys, sender=model, dispatch_uid=uid, weak=False)
        post_save.connect(_row_changed, sender=model, dispatch_uid=uid, weak=False)
        post_delete.connect(_row_changed, sender=model, dispatch_uid=uid, weak=False)
    # A move rewrites the tree with queries of its own (paths, URLs), not only a save.
    post_page_move.connect(_page_moved, dispatch_uid="cabinet-page-cache-page-move", weak=False)


def _page_moved(sender, **kwargs):
    invalidate(ALL)


def _key_fields(model):
    names = {d.expert for d in _by_model().get(model, ()) if d.expert}
    names |= {d.site for d in _by_model().get(model, ()) if d.site}
    return [_attname(model, name) for name in sorted(names)]


def _remember_keys(sender, instance, raw=False, update_fields=None, **kwargs):
    """Before a row moves to another expert or site, note where it was: both pages change."""
    instance.__dict__.pop("_cabinet_page_keys", None)
    fields = _key_fields(sender)
    if raw or not fields or instance.pk is None or instance._state.adding:
        return
    if update_fields is not None and not set(fields) & {_attname(sender, name) for name in update_fields}:
        return  # a save of other fields (a pause, a price) cannot move the row: no query
    instance._cabinet_page_keys = (
        sender._base_manager.filter(pk=instance.pk).values(*fields).first() or {}
    )


def _row_changed(sender, instance, **kwargs):
    # loaddata (raw) too: fixtures loaded into a running site change what it shows.
    previous = instance.__dict__.pop("_cabinet_page_keys", None)
    tags = set()
    for declaration in _by_model().get(sender, ()):
        tags |= declaration.tags(instance, previous)
    invalidate(*tags)


# --- Generations -----------------------------------------------------------

def _key(tag: str) -> str:
    return GENERATION_KEY if tag == ALL else f"{GENERATION_KEY}:{tag}"


def _fresh() -> int:
    # Never a value a stored page could hold: a generation evicted from the
    # cache comes back larger than any it had.
    return time.time_ns()


def generations(tags) -> tuple[tuple[str, int], ...]:
    """The current generation of each tag, as a sorted tuple of (tag, generation)."""
    tags = sorted(set(tags))
    keys = {tag: _key(tag) for tag in tags}
    values = cache.get_many(list(keys.values()))
    result = []
    for tag in tags:
        value = values.get(keys[tag])
        if value is None:
            cache.add(keys[tag], _fresh(), timeout=None)
            value = cache.get(keys[tag])
        result.append((tag, value))
    return tuple(result)


def bump(tags):
    """Makes every cached page showing one of ``tags`` stale, now. Prefer :func:`invalidate`."""
    for tag in set(tags):
        try:
            cache.incr(_key(tag))
        except ValueError:
            cache.add(_key(tag), _fresh(), timeout=None)


def invalidate(*tags):
    """Pages showing one of ``tags`` are stale once the current transaction commits.

    Outside a transaction, at once. Inside one that rolls back, never. A
    failing cache does not fail the change that was committed (robust).
    """
    tags = frozenset(tags)
    if tags:
        transaction.on_commit(lambda: bump(tags), robust=True)


def invalidate_pages():
    """Every page of every site is stale once the current transaction commits."""
    invalidate(ALL)


def generation() -> int:
    """The generation of the ``all`` tag (kept for callers that watch every page)."""
    return dict(generations([ALL]))[ALL]


# --- What a page shows -----------------------------------------------------

def page_tags(page, site) -> list[str]:
    """The tags of what ``page`` shows: every page shows the site's settings and other
    pages (menu, images); a page type adds its own with ``page_cache_tags()``."""
    tags = [ALL]
    if site is not None:
        tags.append(site_tag(site.pk))
    own = getattr(page, "page_cache_tags", None)
    if own is not None:
        tags.extend(own())
    return tags


def next_change(page, site, tags, now: datetime, enabled=None) -> datetime | None:
    """The soonest moment after ``now`` at which a declared field changes what ``page`` shows.

    ``enabled`` (app labels) skips declarations of modules that are off for the site.
    """
    soonest = None
    for config, declaration in declarations():
        if not declaration.changes_at:
            continue
        if enabled is not None and _is_module(config) and config.label not in enabled:
            continue
        rows = _rows_shown(declaration, page, site, tags)
        if rows is None:
            continue
        moments = rows.aggregate(**{
            name: Min(name, filter=Q(**{f"{name}__gt": now})) for name in declaration.changes_at
        })
        for moment in moments.values():
            if moment is not None and (soonest is None or moment < soonest):
                soonest = moment
    return soonest


def _is_module(config):
    from site_core.modules import ModuleConfig

    return isinstance(config, ModuleConfig)


def _rows_shown(declaration, page, site, tags):
    """The declared model's rows that ``page`` shows, or None if it shows none."""
    manager = declaration.model_class()._default_manager
    if declaration.everywhere or (declaration.index and INDEX in tags):
        return manager.all()
    experts = [tag.split(":", 1)[1] for tag in tags if tag.startswith("expert:")]
    if declaration.expert and experts:
        return manager.filter(**{f"{declaration.expert}__in": experts})
    if declaration.site and site is not None:
        return manager.filter(**{declaration.site: site.pk})
    return None


def seconds_until(moment: datetime | None, now: datetime, limit: int) -> int:
    """``limit``, or the whole seconds from ``now`` to ``moment`` if that is sooner (0 if past)."""
    if moment is None:
        return limit
    return max(0, min(limit, math.floor((moment - now).total_seconds())))


def lifetime(page, site, tags, now: datetime, limit: int, enabled=None) -> int:
    """Seconds ``page`` may stay cached: ``limit``, or less if it changes by itself sooner."""
    return seconds_until(next_change(page, site, tags, now, enabled), now, limit)
