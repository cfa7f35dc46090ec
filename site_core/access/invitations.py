"""Client invitations: a practice's administrator invites a person by email (issue A5, item 3).

The invitation is its link, not a row: a token signed with ``django.core.signing`` (salt
``SALT``) that carries the practice's site id and the invited address, normalised, and
expires ``CABINET_INVITATION_DAYS`` days after it was made (the signature's own timestamp).
Nothing is stored until the person accepts: then they become a member of the practice
(``ClientMembership``, source ``invitation``) through ``add_client_membership``, which makes
it once. No table means nothing to clean up and no migration; the price is that an
invitation cannot be withdrawn before it expires (rotating ``SECRET_KEY`` withdraws them all).

The link opens on the practice's own address (``Site.root_url``, as the booking emails do)
and answers only there (``site_core.views.invitation``). A person who is not signed in can
sign up or log in and comes back to it (``?next=``); the address they were invited at is
offered to allauth as already verified (the email proved it), so signing up with it needs no
confirmation code.
"""

import logging
import smtplib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from site_core import access
from site_core.access import ratelimits

logger = logging.getLogger(__name__)

SALT = "cabinet.access.invitation"
#: Where the invitation view leaves the invitation a visitor opened before signing up, for
#: the sign-up receiver (``invited_here``).
SESSION_KEY = "cabinet_invitation"
RATE_GROUP = "invitation"
MAX_EMAIL_LENGTH = 254


def valid_days():
    return getattr(settings, "CABINET_INVITATION_DAYS", 14)


def _max_age():
    return timedelta(days=valid_days())


class InvalidInvitation(Exception):
    """A link that is no invitation (tampered, cut, signed for something else) or an expired
    one (``expired``)."""

    def __init__(self, expired=False):
        super().__init__("expired" if expired else "invalid")
        self.expired = expired


@dataclass(frozen=True)
class Invitation:
    site_id: int
    email: str
    issued_at: datetime | None = None

    @property
    def site(self):
        from wagtail.models import Site

        return Site.objects.filter(pk=self.site_id).first()

    @property
    def expires_at(self):
        return self.issued_at + _max_age() if self.issued_at else None


def normalize_email(email):
    """The address as the invitation carries it: trimmed, lower case (allauth stores addresses
    in lower case), valid; ValidationError otherwise."""
    email = (email or "").strip().lower()
    if not email or len(email) > MAX_EMAIL_LENGTH:
        raise ValidationError(_("Enter a valid email address."), code="invalid_email")
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError(_("Enter a valid email address."), code="invalid_email") from None
    return email


def make_token(site, email):
    return signing.dumps({"s": site.pk, "e": email}, salt=SALT, compress=True)


def read_token(token, *, max_age=None):
    """The Invitation a token carries; InvalidInvitation if it is not one or has expired
    (``max_age``: a timedelta, by default ``CABINET_INVITATION_DAYS``)."""
    try:
        data = signing.loads(token, salt=SALT, max_age=max_age if max_age is not None else _max_age())
        issued = datetime.fromtimestamp(signing.b62_decode(token.rsplit(":", 2)[1]), tz=UTC)
    except signing.SignatureExpired:
        raise InvalidInvitation(expired=True) from None
    except (signing.BadSignature, ValueError, TypeError, IndexError):
        raise InvalidInvitation() from None
    if not isinstance(data, dict) or not isinstance(data.get("s"), int) or not isinstance(data.get("e"), str):
        raise InvalidInvitation()
    return Invitation(site_id=data["s"], email=data["e"], issued_at=issued)


def invitation_path(token):
    """The invitation page's path in the active language."""
    return reverse("invitation", args=[token])


def invitation_url(site, token, language):
    """The link in the email: on the practice's own address, in the invitation's language."""
    with translation.override(language):
        return site.root_url.rstrip("/") + invitation_path(token)


def members_with_email(site, email):
    """The accounts of ``site``'s clients that go by ``email`` (their login, or a verified
    address of theirs)."""
    from site_core.practice.models import User

    return User.objects.filter(
        Q(email__iexact=email) | Q(emailaddress__email__iexact=email, emailaddress__verified=True),
        client_memberships__site=site,
    ).distinct()


def holds_email(user, email):
    """Does the signed-in ``user`` go by ``email``: their login's address, or one they verified?"""
    from allauth.account.models import EmailAddress

    if (user.email or "").strip().lower() == email:
        return True
    return EmailAddress.objects.filter(user=user, email__iexact=email, verified=True).exists()


def _language(language):
    codes = [code for code, _name in settings.LANGUAGES]
    language = (language or "")[:2]
    return language if language in codes else settings.LANGUAGE_CODE[:2]


def practice_name(site):
    """The practice's name as its clients read it (its settings), else the site's."""
    from site_core.base.context import practice_settings

    practice = practice_settings(site)
    return getattr(practice, "practice_name", "") or site.site_name or site.hostname


def invite_client(site, email, *, by, language=None):
    """``by`` (an administrator of the practice ``site``, or the install owner) invites the
    person at ``email`` to be a client of the practice: sends them an email in ``language``
    (French by default, or English) with a signed link that expires after
    ``CABINET_INVITATION_DAYS`` days, on the practice's own address. Returns the link.

    Refused before anything is sent: PermissionDenied if ``by`` does not administer ``site``;
    ValidationError for an invalid address (code ``invalid_email``), a person already a client
    of the practice (``already_member``), a mail server that refused the email (``not_sent``), or an administrator who sent too many invitations
    in a short time (``rate_limited``, ``ratelimits`` group ``invitation``: 50 an hour by
    default). Only invitations that would be sent are counted.
    """
    if site is None or not access.is_practice_admin(by, site):
        raise PermissionDenied("Only an administrator of this practice may invite its clients.")
    email = normalize_email(email)
    language = _language(language)
    name = practice_name(site)
    if members_with_email(site, email).exists():
        raise ValidationError(
            _("%(email)s is already a client of %(practice)s."),
            code="already_member", params={"email": email, "practice": name})
    try:
        ratelimits.hit_account(RATE_GROUP, by)
    except ratelimits.RateLimited as refused:
        minutes = max(1, -(-refused.retry_after // 60))
        raise ValidationError(
            ngettext("You have sent too many invitations in a short time. Please try again in %(minutes)d minute.",
                     "You have sent too many invitations in a short time. Please try again in %(minutes)d minutes.",
                     minutes),
            code="rate_limited", params={"minutes": minutes}) from None

    token = make_token(site, email)
    url = invitation_url(site, token, language)
    with translation.override(language):
        context = {"practice": name, "url": url, "days": valid_days(),
                   "inviter": by.get_full_name() or by.email or name, "email": email}
        subject = _("%(practice)s invites you to its client area") % {"practice": name}
        body = render_to_string("site_core/email/invitation.txt", context)
    try:
        EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [email]).send(fail_silently=False)
    except (smtplib.SMTPException, OSError):
        logger.exception("Invitation to practice %s for %s could not be sent", site.pk, email)
        raise ValidationError(
            _("The invitation could not be sent: the mail server did not take it. Please try again in a moment."),
            code="not_sent") from None
    logger.info("Invitation to practice %s sent to %s by user %s", site.pk, email, by.pk)
    return url


def accept(invitation, user):
    """``user`` (signed in) accepts ``invitation``: they become a client of its practice
    (source ``invitation``; a member already stays as they were). PermissionDenied if they do
    not go by the invited address."""
    from site_core.access.services import add_client_membership

    if user is None or not user.is_authenticated or not holds_email(user, invitation.email):
        raise PermissionDenied("This invitation is for another email address.")
    site = invitation.site
    if site is None:
        raise InvalidInvitation()
    return add_client_membership(user, site, source="invitation")


def remember(request, invitation):
    """The invitation view keeps the invitation a visitor opened for the sign-up that may follow."""
    request.session[SESSION_KEY] = {"s": invitation.site_id, "e": invitation.email}


def forget(request):
    if hasattr(request, "session"):
        request.session.pop(SESSION_KEY, None)


def invited_address(request):
    """The address of the invitation this visitor opened on this practice's site (the one
    being served), or None. The sign-up takes it as verified (the email proved it) and the
    person who signs up with it as invited."""
    from wagtail.models import Site

    session = getattr(request, "session", None)
    held = session.get(SESSION_KEY) if session is not None else None
    if not isinstance(held, dict) or not isinstance(held.get("e"), str):
        return None
    site = Site.find_for_request(request)
    if site is None or held.get("s") != site.pk:
        return None
    return held["e"]


def invited_here(request, user):
    """Did ``user`` just sign up on this practice's site from an invitation to it, at the
    address it was sent to? (The sign-up receiver records such a client as invited.)"""
    email = invited_address(request)
    return email is not None and holds_email(user, email)
