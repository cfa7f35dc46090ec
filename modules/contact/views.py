from django.core.cache import cache
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from modules.contact import services
from modules.contact.forms import ContactForm
from site_core.context import current_site
from site_core.models import ExpertPage
from site_core.net import client_ip

# Messages one address may send per hour: enough for a person, not for a bot.
HOURLY_LIMIT = 10


def _expert_page(request, page_id):
    site = current_site()
    page = ExpertPage.objects.live().public().filter(pk=page_id, expert__isnull=False).select_related("expert").first()
    if page is None or site is None or not page.is_descendant_of(site.root_page):
        raise Http404
    return page


def contact_expert(request, page_id):
    page = _expert_page(request, page_id)
    status = 200
    if request.method == "POST":
        form = ContactForm(request.POST)
        throttle_key = f"cabinet:contact:{client_ip(request)}"
        sent = cache.get(throttle_key, 0)
        if sent >= HOURLY_LIMIT:
            form.is_valid()
            form.add_error(None, _("You have sent many messages in a short time. Please try again in an hour."))
            status = 429
        elif form.is_valid():
            data = {k: v for k, v in form.cleaned_data.items() if k != "website"}
            services.send_message(expert=page.expert, sender=request.user, **data)
            cache.set(throttle_key, sent + 1, 3600)
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
