"""Public views of site_core.access: the page a client invitation's link opens."""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from site_core.access import invitations
from site_core.base.context import current_site

TEMPLATE = "site_core/invitation.html"


def _refused(request, reason, status):
    return render(request, TEMPLATE, {"refused": reason}, status=status)


@never_cache
def invitation(request, token):
    """``/invitation/<token>/`` on the practice's own address. GET shows who invites whom;
    a signed-in person who goes by the invited address accepts with a POST (made a client
    once: accepting again changes nothing) and lands in their portal. Anyone else is offered
    to sign up or log in and come back here (``?next=``). A tampered or expired link, or one
    opened on another practice's address: 400; signed in with another address: 403. None of
    these writes anything."""
    from site_core.practice.models import ClientMembership

    try:
        invitation = invitations.read_token(token)
    except invitations.InvalidInvitation as refused:
        return _refused(request, "expired" if refused.expired else "invalid", 400)
    site = current_site()
    if site is None or invitation.site_id != site.pk:
        return _refused(request, "other_site", 400)

    context = {"invitation": invitation, "practice_name": invitations.practice_name(site),
               "portal_url": resolve_url(settings.LOGIN_REDIRECT_URL)}
    user = request.user
    if not user.is_authenticated:
        # The email carried the link: signing up from it, with that address, needs no code
        # (modules.accounts' adapter asks invitations.invited_address).
        invitations.remember(request, invitation)
        back = {"next": request.path}
        context.update(signup_url=f"{reverse('account_signup')}?{urlencode({'email': invitation.email, **back})}",
                       login_url=f"{reverse('account_login')}?{urlencode(back)}")
        return render(request, TEMPLATE, context, status=200)
    if not invitations.holds_email(user, invitation.email):
        return _refused(request, "other_user", 403)

    if request.method == "POST":
        try:
            invitations.accept(invitation, user)
        except PermissionDenied:
            return _refused(request, "other_user", 403)
        except invitations.InvalidInvitation:
            return _refused(request, "invalid", 400)
        invitations.forget(request)
        messages.success(request, _("Welcome: you are now a client of %(practice)s.")
                         % {"practice": context["practice_name"]})
        return redirect(context["portal_url"])
    context["member"] = ClientMembership.objects.filter(site=site, user=user).exists()
    return render(request, TEMPLATE, context)
