"""The practice: its people (accounts, experts, staff groups, client memberships) and its settings."""

from functools import cache

from django.conf import settings
from django.contrib.auth.models import AbstractUser, Group
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel, MultiFieldPanel
from wagtail.contrib.settings.models import BaseSiteSetting, register_setting

from site_core.base.fields import ChoiceListField
from site_core.base.phones import PhoneField
from site_core.base.themes import DEFAULT_THEME, theme_choices
from site_core.base.validators import time_zones

CURRENCIES = [
    ("EUR", "EUR — euro"),
    ("CHF", "CHF — franc suisse"),
    ("GBP", "GBP — pound sterling"),
    ("USD", "USD — US dollar"),
    ("CAD", "CAD — dollar canadien"),
    ("JPY", "JPY — yen"),
]


@cache
def time_zone_choices():
    return [(name, name) for name in sorted(time_zones()) if "/" in name]


def country_choices():
    """Countries phonenumbers knows, named in the active language ("Suisse", "Switzerland")."""
    from babel import Locale
    from phonenumbers import SUPPORTED_REGIONS

    from site_core.base.local_time import babel_locale

    names = Locale.parse(babel_locale()).territories
    return sorted(((code, names.get(code, code)) for code in SUPPORTED_REGIONS), key=lambda c: c[1])


def module_choices():
    from site_core.modules import all_modules

    return [
        (module.label, f"{module.verbose_name} — {module.description}")
        for module in all_modules()
        if not module.required
    ]


class ModuleListField(ChoiceListField):
    """Modules switched on; NULL means every installed module."""

    def value_from_object(self, obj):
        from site_core.modules import default_enabled_labels

        value = super().value_from_object(obj)
        return default_enabled_labels() if value is None else value


class User(AbstractUser):
    """Anyone who logs in: a client, an expert or a practice administrator.

    Email is the login (allauth); the username is kept because Wagtail's user
    admin shows it, and allauth fills it in from the email.
    """

    email = models.EmailField(_("email address"))
    phone = PhoneField(_("phone number"), blank=True)
    time_zone = models.CharField(
        _("time zone"), max_length=64, blank=True,
        help_text=_("Dates and times are shown in this zone. Empty: the practice's zone."),
    )
    language = models.CharField(
        _("language"), max_length=8, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
    )

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_unique_ci"),
        ]

    def __str__(self):
        return self.get_full_name() or self.email or self.username


@register_setting(icon="cog")
class PracticeSettings(BaseSiteSetting):
    """Who the practice is and how its site behaves: one row per Wagtail Site."""

    practice_name = models.CharField(_("practice name"), max_length=120, default="Cabinet")
    tagline = models.CharField(_("tagline"), max_length=200, blank=True)
    logo = models.ForeignKey(
        "wagtailimages.Image", verbose_name=_("logo"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )
    theme = models.CharField(_("theme"), max_length=40, default=DEFAULT_THEME, choices=theme_choices)
    currency = models.CharField(_("currency"), max_length=3, default="EUR", choices=CURRENCIES)
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="Europe/Paris", choices=time_zone_choices
    )
    country = models.CharField(
        _("country"), max_length=2, default="FR", choices=country_choices,
        help_text=_("Phone numbers typed without their +prefix are read as numbers of this country."))
    contact_email = models.EmailField(_("contact email"), blank=True)
    contact_phone = PhoneField(_("contact phone"), blank=True)
    enabled_modules = ModuleListField(
        _("modules switched on"),
        null=True,
        default=None,
        choices_callable=module_choices,
        help_text=_("A module that is off has no pages, sections or menu items on this site."),
    )

    panels = [
        MultiFieldPanel(
            [FieldPanel("practice_name"), FieldPanel("tagline"), FieldPanel("logo")],
            heading=_("Identity"),
        ),
        MultiFieldPanel(
            [FieldPanel("theme"), FieldPanel("currency"), FieldPanel("time_zone"), FieldPanel("country")],
            heading=_("Appearance and region"),
        ),
        MultiFieldPanel(
            [FieldPanel("contact_email"), FieldPanel("contact_phone")], heading=_("Contact")
        ),
        FieldPanel("enabled_modules"),
    ]

    class Meta:
        verbose_name = _("practice settings")
        verbose_name_plural = _("practice settings")

    def clean(self):
        from site_core.modules import all_modules, dependency_closure

        if self.enabled_modules is None:
            return
        chosen = set(self.enabled_modules) | {m.label for m in all_modules() if m.required}
        missing = dependency_closure(chosen) - chosen
        if missing:
            names = ", ".join(sorted(missing))
            raise ValidationError(
                {"enabled_modules": _("These modules are needed by the ones you chose: %(names)s.")
                 % {"names": names}}
            )


class Expert(models.Model):
    """A person who consults, independent of language.

    Their public page exists once per language (Wagtail translations); this
    row is the one identity that their prices, hours, appointments and
    wallet hang on, and the link between their login and their pages.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="expert",
    )
    name = models.CharField(_("name"), max_length=120)
    # The practice the expert consults for: its administrators see the expert's rows
    # (prices, hours, appointments, messages). Set from the expert's pages when empty.
    site = models.ForeignKey(
        "wagtailcore.Site", verbose_name=_("practice"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="experts",
    )
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="Europe/Paris", choices=time_zone_choices
    )
    # The per-expert Wagtail group that may edit and publish this expert's
    # pages, and nothing else (kept by site_core.access.services.sync_expert_access).
    editors = models.OneToOneField(
        Group, null=True, blank=True, editable=False, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("expert")
        verbose_name_plural = _("experts")
        ordering = ["name"]

    def __str__(self):
        return self.name


class PracticeGroup(models.Model):
    """The Wagtail group holding one role in one practice: its administrators, its experts.

    site_core.access reads these to answer "is this user an administrator (an expert) of
    this practice?"; site_core.access.services.setup_practice_groups creates and keeps them.
    """

    class Role(models.TextChoices):
        ADMINS = "admins", _("administrators")
        EXPERTS = "experts", _("experts")

    site = models.ForeignKey("wagtailcore.Site", on_delete=models.CASCADE, related_name="practice_groups")
    role = models.CharField(max_length=10, choices=Role.choices)
    group = models.OneToOneField(Group, on_delete=models.CASCADE, related_name="practice_role")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["site", "role"], name="practice_group_one_per_role")]

    def __str__(self):
        return f"{self.site} – {self.get_role_display()}"


class PracticeCollection(models.Model):
    """The practice's own collection of images and documents (a child of the root collection).

    Its administrators may add, choose and edit what is in it, its experts add and choose
    images there; nobody of another practice sees it. The root collection and anything else
    outside the practices' collections stay the install owner's. Made and kept by
    site_core.access.services.setup_practice_groups.
    """

    site = models.OneToOneField("wagtailcore.Site", verbose_name=_("practice"), on_delete=models.CASCADE,
                                related_name="practice_collection")
    collection = models.OneToOneField("wagtailcore.Collection", verbose_name=_("collection"),
                                      on_delete=models.CASCADE, related_name="practice")

    class Meta:
        verbose_name = _("practice collection")
        verbose_name_plural = _("practice collections")

    def __str__(self):
        return str(self.collection)


class ClientMembership(models.Model):
    """A person is a client of this practice: they signed up, booked or were invited on its site.

    An account is install-wide (one email, one login); what a practice's staff see of
    clients is its members only.
    """

    class Source(models.TextChoices):
        SIGNUP = "signup", _("signed up")
        BOOKING = "booking", _("booked")
        INVITATION = "invitation", _("invited")
        IMPORT = "import", _("existing client")

    site = models.ForeignKey("wagtailcore.Site", verbose_name=_("practice"), on_delete=models.CASCADE,
                             related_name="client_memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("client"), on_delete=models.CASCADE,
                             related_name="client_memberships")
    source = models.CharField(_("how they came"), max_length=12, choices=Source.choices)
    created_at = models.DateTimeField(_("client since"), auto_now_add=True)

    class Meta:
        verbose_name = _("client")
        verbose_name_plural = _("clients")
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["site", "user"], name="client_membership_once")]

    def __str__(self):
        return str(self.user)


