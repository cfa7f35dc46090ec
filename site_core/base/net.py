"""Who is asking: the client's address behind known proxies, and the login tried."""

from django.conf import settings


def client_ip(request):
    """The client's IP address.

    With CABINET_PROXY_COUNT=N (N reverse proxies in front of Cabinet, each
    appending to X-Forwarded-For), the Nth address from the right is the
    client's; addresses further left are whatever the client claimed and are
    never trusted. With 0, the socket's address.
    """
    count = getattr(settings, "CABINET_PROXY_COUNT", 0)
    if count > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= count:
            return forwarded[-count]
    return request.META.get("REMOTE_ADDR", "")


def login_identifier(request, credentials):
    """The login being tried, lower-cased: what the visitor typed in the login form.

    The form comes first: Wagtail's admin login posts ``username``, allauth's
    posts ``login``. On a successful login django-axes passes the account's
    Django username (``user.get_username()``), not the email that was typed,
    and the counter it resets must be the one the failures were counted on.
    Without a form (an API call), the credentials given to ``authenticate()``.
    Lower-casing keeps "Alice@x" and "alice@x" on one counter.
    """
    data = getattr(request, "POST", None) or {}
    for key in ("login", "username", "email"):
        value = data.get(key)
        if value:
            return str(value).strip().lower()
    credentials = credentials or {}
    for key in ("username", "email", "login"):
        value = credentials.get(key)
        if value:
            return str(value).strip().lower()
    return None
