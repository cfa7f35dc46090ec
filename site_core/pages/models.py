"""The practice's public pages: its home, the experts' index, each expert's page, content pages."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.http import Http404
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from wagtail.admin.forms import WagtailAdminPageForm
from wagtail.admin.panels import FieldPanel
from wagtail.fields import RichTextField, StreamField
from wagtail.models import Page
from wagtail.search import index

from site_core.base.fields import ChoiceListField
from site_core.base.languages import SPOKEN_LANGUAGE_NAMES, spoken_language_choices
from site_core.pages.blocks import body_blocks
from site_core.pages.sections import PageSection
from site_core.practice.models import Expert


class ParentAwarePageForm(WagtailAdminPageForm):
    """Tells a page being created where it will go, so its ``clean()`` can check its slug.

    Wagtail validates a new page before it has a place in the tree
    (``get_parent()`` is None then); without this, a clashing slug passed the
    form and failed later, in ``save()``, as a server error.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.parent_page is not None:
            self.instance._cabinet_parent = self.parent_page
        expert_field = self.fields.get("expert")
        if expert_field is not None and self.for_user is not None:
            # A practice's pages name that practice's experts only.
            from site_core.access import visible_experts

            expert_field.queryset = expert_field.queryset & visible_experts(self.for_user)


def _parent_for_clean(page):
    if page.path:
        return page.get_parent()
    return getattr(page, "_cabinet_parent", None)


def _site_root_for(page, parent):
    """The root page of ``page``'s site in ``page``'s language (None outside a site)."""
    if parent is None:
        return None
    site = parent.get_site()
    if site is None:
        return None
    root = site.root_page
    locale_id = page.locale_id or parent.locale_id
    if root.locale_id != locale_id:
        root = Page.objects.filter(translation_key=root.translation_key, locale_id=locale_id).first()
    return root


def _top_level_clash(page, parent):
    """A new top-level page would hide the consultation link of an expert with the same slug."""
    if parent is None or not page.slug:
        return False
    root = _site_root_for(page, parent)
    if root is None or root.pk != parent.pk:
        return False
    return ExpertPage.objects.descendant_of(root).filter(slug=page.slug).exclude(pk=page.pk).exists()


CLASH_MESSAGE = _("An expert's page of this site already answers at this address.")


class HomePage(Page):
    """The practice's front page and the root of its site."""

    intro = models.CharField(_("headline"), max_length=200, blank=True)
    body = StreamField(body_blocks(), verbose_name=_("body"), blank=True)

    content_panels = Page.content_panels + [FieldPanel("intro"), FieldPanel("body")]
    parent_page_types = ["wagtailcore.Page"]
    subpage_types = ["site_core.ExpertIndexPage", "site_core.ExpertPage", "site_core.ContentPage"]

    class Meta:
        verbose_name = _("home page")

    def route(self, request, path_components):
        # An expert's consultation link is /<slug>/ wherever the practice put
        # their page in the tree.
        try:
            return super().route(request, path_components)
        except Http404:
            if len(path_components) == 1:
                expert_page = (
                    ExpertPage.objects.live().descendant_of(self)
                    .filter(slug=path_components[0]).first()
                )
                if expert_page is not None:
                    return expert_page.route(request, [])
            raise

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["featured_experts"] = ExpertPage.listing(self)[:6]
        context["expert_index"] = (
            ExpertIndexPage.objects.live().descendant_of(self).first()
        )
        return context


class ExpertIndexPage(Page):
    """Lists every live expert of the site, wherever their pages are."""

    intro = RichTextField(_("introduction"), blank=True, features=["bold", "italic", "link"])

    content_panels = Page.content_panels + [FieldPanel("intro")]
    subpage_types = ["site_core.ExpertPage", "site_core.ContentPage"]
    base_form_class = ParentAwarePageForm

    class Meta:
        verbose_name = _("expert index")

    def clean(self):
        super().clean()
        if _top_level_clash(self, _parent_for_clean(self)):
            raise ValidationError({"slug": CLASH_MESSAGE})

    def page_cache_tags(self):
        """The cards show a little of every expert (site_core.pages.cache)."""
        from site_core.pages.cache import INDEX

        return [INDEX]

    def get_context(self, request, *args, **kwargs):
        from site_core.modules.hooks import CONSTRUCT_EXPERT_CARD, get_hooks

        context = super().get_context(request, *args, **kwargs)
        site_root = self.get_site().root_page.localized if self.get_site() else self.get_parent()
        experts = list(ExpertPage.listing(site_root))
        cards = {page.pk: [] for page in experts}
        for fn in get_hooks(CONSTRUCT_EXPERT_CARD, self.get_site()):
            fn(experts, cards, request)
        context["experts"] = [(page, cards[page.pk]) for page in experts]
        return context


RESERVED_SLUGS = {
    "admin", "accounts", "account", "api", "en", "fr", "static", "media", "documents",
    "payments", "ws", "sitemap.xml", "robots.txt", "i18n", "portal", "contact", "healthz",
    "invitation",
}


def reserved_slugs():
    """Paths an expert's page may not take: the kernel's, the languages' and every module's prefix."""
    from site_core.modules import all_modules

    reserved = set(RESERVED_SLUGS) | {code for code, _name in settings.LANGUAGES}
    for module in all_modules():
        if module.url_prefix:
            reserved.add(module.url_prefix.strip("/").split("/")[0])
    return reserved


class ExpertPage(Page):
    """An expert's public page, the "consultation link" clients book from.

    Lives at /<slug>/ whatever its place in the tree. Modules add sections to
    it (booking, reviews, ...) through REGISTER_EXPERT_PAGE_SECTIONS.
    """

    expert = models.ForeignKey(
        Expert, verbose_name=_("expert"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="pages",
    )
    display_name = models.CharField(
        _("display name"), max_length=120,
        help_text=_("Your name, or the name of your service, as clients see it."),
    )
    specialty = models.CharField(_("specialty"), max_length=160,
                                 help_text=_("Your specialty or expertise, in a few words."))
    photo = models.ForeignKey(
        "wagtailimages.Image", verbose_name=_("photo"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )
    summary = models.TextField(_("summary"), max_length=400, blank=True,
                               help_text=_("Two or three sentences shown on your card."))
    biography = StreamField(body_blocks(), verbose_name=_("biography"), blank=True)
    languages_spoken = ChoiceListField(
        _("languages spoken"), choices_callable=spoken_language_choices
    )

    content_panels = Page.content_panels + [
        FieldPanel("expert", permission="site_core.change_expert"),
        FieldPanel("display_name"),
        FieldPanel("specialty"),
        FieldPanel("photo"),
        FieldPanel("summary"),
        FieldPanel("languages_spoken"),
        FieldPanel("biography"),
    ]
    search_fields = Page.search_fields + [
        index.SearchField("display_name"),
        index.SearchField("specialty"),
        index.SearchField("summary"),
        index.SearchField("biography"),
    ]
    subpage_types = []
    base_form_class = ParentAwarePageForm

    class Meta:
        verbose_name = _("expert page")

    @classmethod
    def listing(cls, root):
        """Live, public expert pages under ``root``: a fixed number of queries."""
        return (
            cls.objects.live().public().descendant_of(root)
            .select_related("photo", "locale")  # the locale makes each card's URL
            .prefetch_related("photo__renditions")
            .order_by("display_name")
        )

    @property
    def language_names(self):
        return [SPOKEN_LANGUAGE_NAMES[code] for code in self.languages_spoken or []
                if code in SPOKEN_LANGUAGE_NAMES]

    def clean(self):
        super().clean()
        if self.slug in reserved_slugs():
            raise ValidationError({"slug": _("This address is reserved; choose another.")})
        # The site's root in this page's language: an English page is checked
        # against the English tree, a page being created against where it will go.
        site_root = _site_root_for(self, _parent_for_clean(self))
        if site_root is not None:
            clash = (
                ExpertPage.objects.descendant_of(site_root)
                .filter(slug=self.slug)
                .exclude(pk=self.pk)
                .exists()
            ) or site_root.get_children().filter(slug=self.slug).exclude(pk=self.pk).exists()
            if clash:
                raise ValidationError(
                    {"slug": _("Another page of this site already uses this address.")}
                )

    def get_url_parts(self, request=None):
        parts = super().get_url_parts(request)
        if not parts or parts[2] is None:
            return parts
        site_id, root_url, _path = parts
        with translation.override(self.locale.language_code):
            path = reverse("wagtail_serve", args=(f"{self.slug}/",))
        return site_id, root_url, path

    def page_cache_tags(self):
        """The sections show the expert's rows: prices, availability... (site_core.pages.cache)."""
        from site_core.pages.cache import expert_tag

        return [expert_tag(self.expert_id)] if self.expert_id else []

    def get_sections(self, request):
        from site_core.modules.hooks import REGISTER_EXPERT_PAGE_SECTIONS, get_hooks

        sections = []
        for fn in get_hooks(REGISTER_EXPERT_PAGE_SECTIONS, self.get_site()):
            result = fn(self, request)
            if result is None:
                continue
            sections.extend(result if isinstance(result, list | tuple) else [result])
        return sorted(
            (s for s in sections if isinstance(s, PageSection)), key=lambda s: (s.order, s.key)
        )

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["sections"] = self.get_sections(request)
        return context


class ContentPage(Page):
    """About, FAQ, legal notices: any page of text the practice writes."""

    intro = models.CharField(_("introduction"), max_length=300, blank=True)
    body = StreamField(body_blocks(), verbose_name=_("body"), blank=True)

    content_panels = Page.content_panels + [FieldPanel("intro"), FieldPanel("body")]
    search_fields = Page.search_fields + [index.SearchField("body")]
    subpage_types = ["site_core.ContentPage"]
    base_form_class = ParentAwarePageForm

    class Meta:
        verbose_name = _("content page")

    def clean(self):
        super().clean()
        if _top_level_clash(self, _parent_for_clean(self)):
            raise ValidationError({"slug": CLASH_MESSAGE})
