"""Finding the public objects a visitor asks for, on the site they are visiting."""

from django.http import Http404

from site_core.context import current_site


def expert_page_or_404(page_id):
    """The live, public ExpertPage ``page_id`` of the site being served, with its expert."""
    from site_core.models import ExpertPage

    site = current_site()
    page = (ExpertPage.objects.live().public().filter(pk=page_id, expert__isnull=False)
            .select_related("expert").first())
    if page is None or site is None or not page.is_descendant_of(site.root_page):
        raise Http404
    return page
