from django.core.cache import cache
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from modules.contact import services
from modules.contact.forms import ContactForm
from site_core.lookups import expert_page_or_404
from site_core.net import client_ip

# Messages one address may send per hour: enough for a person, not for a bot.
HOURLY_LIMIT = 10
THROTTLE_SECONDS = 3600


def _expert_page(request, page_id):
    return expert_page_or_404(page_id)


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
