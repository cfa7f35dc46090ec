from django.core.cache import cache
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from wagtail.models import Page

from modules.contact import services
from modules.contact.forms import ContactForm
from site_core.context import current_site
from site_core.models import ExpertPage
from site_core.net import client_ip

# Messages one address may send per hour: enough for a person, not for a bot.
HOURLY_LIMIT = 10
THROTTLE_SECONDS = 3600


def _expert_page(request, page_id):
    """A live expert page of this site, in any of its languages, or 404."""
    site = current_site()
    page = ExpertPage.objects.live().public().filter(pk=page_id, expert__isnull=False).select_related("expert").first()
    if page is None or site is None:
        raise Http404
    # The English tree hangs from the translation of the site's root, not from the root itself.
    roots = Page.objects.filter(translation_key=site.root_page.translation_key).values_list("path", flat=True)
    if not any(page.path.startswith(root) for root in roots):
        raise Http404
    return page


def _sent_count(key):
    return cache.get(key, 0)


def _count_sent(key):
    # add + incr: two requests at once both count (a get then a set would lose one).
    if not cache.add(key, 1, THROTTLE_SECONDS):
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, THROTTLE_SECONDS)


def contact_expert(request, page_id):
    page = _expert_page(request, page_id)
    status = 200
    if request.method == "POST":
        form = ContactForm(request.POST)
        throttle_key = f"cabinet:contact:{client_ip(request)}"
        if _sent_count(throttle_key) >= HOURLY_LIMIT:
            form.is_valid()
            form.add_error(None, _("You have sent many messages in a short time. Please try again in an hour."))
            status = 429
        elif form.is_valid():
            data = {k: v for k, v in form.cleaned_data.items() if k != "website"}
            services.send_message(expert=page.expert, sender=request.user, **data)
            _count_sent(throttle_key)
            return redirect("contact:sent", page_id=page.pk)
        else:
            status = 400
    else:
        initial = {}
        if request.user.is_authenticated:
            initial = {"name": request.user.get_full_name(), "email": request.user.email,
                       "phone": request.user.phone}
        form = ContactForm(initial=initial)
    return render(request, "contact/contact_form.html", {"form": form, "expert_page": page}, status=status)


def message_sent(request, page_id):
    page = _expert_page(request, page_id)
    return render(request, "contact/message_sent.html", {"expert_page": page})
