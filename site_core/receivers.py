"""The kernel's own signal receivers, connected in SiteCoreConfig.ready().

(The page cache's receivers are connected from the declarations, site_core.pages.cache.)"""

from django.db.models.signals import post_save
from django.dispatch import receiver
from wagtail.models import Page, Site


@receiver(post_save)
def expert_page_saved(sender, instance, **kwargs):
    from site_core.access.services import sync_expert_access
    from site_core.pages.models import ExpertPage
    from site_core.practice.models import Expert

    if isinstance(instance, ExpertPage):
        # Whoever could edit this page before and is no longer its expert loses it.
        previous = Expert.objects.filter(
            editors__page_permissions__page_id=instance.pk
        ).exclude(pk=instance.expert_id).distinct()
        for expert in previous:
            sync_expert_access(expert)
        if instance.expert_id:
            sync_expert_access(instance.expert)
    elif isinstance(instance, Expert) and not kwargs.get("raw"):
        # The page permissions follow the expert's login.
        if kwargs.get("update_fields") is None or "user" in kwargs["update_fields"]:
            sync_expert_access(instance)


@receiver(post_save, sender=Site)
def practice_site_saved(sender, instance, raw=False, **kwargs):
    """A practice is set up (or its root page moved): its staff groups follow."""
    from site_core.access.services import setup_practice_groups

    if not raw:
        setup_practice_groups(instance)


@receiver(post_save)
def site_root_translated(sender, instance, raw=False, created=False, **kwargs):
    """A translation of a practice's root page: its administrators may edit that tree too."""
    from site_core.access.services import setup_practice_groups

    if raw or not created or not isinstance(instance, Page) or instance.depth != 2:
        return
    for site in Site.objects.filter(root_page__translation_key=instance.translation_key):
        setup_practice_groups(site)
