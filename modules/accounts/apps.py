from django.utils.translation import gettext_lazy as _

from site_core import modules


class AccountsConfig(modules.ModuleConfig):
    name = "modules.accounts"
    label = "accounts"
    verbose_name = _("Accounts")
    description = _("Sign-up, login, email verification and the client's portal.")
    required = True
    url_prefix = "portal/"

    def ready(self):
        super().ready()
        from modules.accounts import receivers  # noqa: F401  (connects them)
