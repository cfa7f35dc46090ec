"""Finding the public objects a visitor asks for, on the site they are visiting."""

from django.http import Http404

from site_core.base.context import current_site


def expert_page_or_404(page_id):
    """The live, public ExpertPage ``page_id`` of the site being served, in any of its
    languages, with its expert; 404 otherwise (another practice's page included)."""
    from wagtail.models import Page

    from site_core.pages.models import ExpertPage

    site = current_site()
    page = (ExpertPage.objects.live().public().filter(pk=page_id, expert__isnull=False)
            .select_related("expert").first())
    if page is None or site is None:
        raise Http404
    # The English tree hangs from the translation of the site's root, not from the root itself.
    roots = Page.objects.filter(translation_key=site.root_page.translation_key).values_list("path", flat=True)
    if not any(page.path.startswith(root) for root in roots):
        raise Http404
    return page
