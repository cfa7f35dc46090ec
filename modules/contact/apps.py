from django.utils.translation import gettext_lazy as _

from site_core import modules


class ContactConfig(modules.ModuleConfig):
    name = "modules.contact"
    label = "contact"
    verbose_name = _("Languages and contact")
    description = _("The languages an expert speaks, and a form to write to them.")
    url_prefix = "contact/"
