"""The accounts module's signal receivers, connected in AccountsConfig.ready()."""

from allauth.account.signals import user_signed_up
from django.dispatch import receiver
from wagtail.models import Site

from site_core.access import invitations
from site_core.access.services import add_client_membership


@receiver(user_signed_up)
def client_of_the_practice(sender, request, user, **kwargs):
    """Signing up on a practice's site makes the person its client (their account serves
    every practice of the install). One who signed up from an invitation to it, with the
    address it was sent to, is recorded as invited."""
    site = Site.find_for_request(request) if request is not None else None
    if site is not None:
        source = "invitation" if invitations.invited_here(request, user) else "signup"
        add_client_membership(user, site, source=source)
