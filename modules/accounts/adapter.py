from allauth.account.adapter import DefaultAccountAdapter
from django.core.exceptions import PermissionDenied
from django.utils import translation

from site_core.access import invitations
from site_core.base.net import client_ip


class AccountAdapter(DefaultAccountAdapter):
    """Remembers the language a client signed up in, for the emails we send later, and takes
    the address of an invitation the visitor opened as verified.

    allauth's rate limits (sign-up, password reset, failed logins per address)
    read the client's address the way django-axes and the contact form do
    (site_core.base.net.client_ip, CABINET_PROXY_COUNT): behind a proxy, allauth's
    own default would see every visitor as the proxy and limit them together.
    """

    def get_client_ip(self, request):
        ip = client_ip(request)
        if not ip:
            raise PermissionDenied("Unable to determine client IP address")
        return ip

    def is_email_verified(self, request, email):
        """An address is verified at sign-up when it is the one an invitation opened in this
        browser was sent to (site_core.access.invitations): the email proved it. Only that
        address: one typed instead of it is confirmed by a code, as usual."""
        if super().is_email_verified(request, email):
            return True
        invited = invitations.invited_address(request) if request is not None else None
        return invited is not None and (email or "").strip().lower() == invited

    def save_user(self, request, user, form, commit=True):
        user = super().save_user(request, user, form, commit=False)
        user.language = (translation.get_language() or "fr")[:2]
        if commit:
            user.save()
        return user
