"""The anonymous page cache's generation counter.

Cached pages are keyed by a generation number kept in the shared cache
(Redis when REDIS_URL is set), so one bump after a publish, a settings
change or a module's data change invalidates every cached page in every
worker process at once.
"""

from django.core.cache import cache

GENERATION_KEY = "cabinet:pages:generation"


def generation() -> int:
    value = cache.get(GENERATION_KEY)
    if value is None:
        cache.add(GENERATION_KEY, 1, timeout=None)
        value = cache.get(GENERATION_KEY, 1)
    return value


def invalidate_pages():
    """Call after any change that shows on a public page."""
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:
        cache.add(GENERATION_KEY, 2, timeout=None)
