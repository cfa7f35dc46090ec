from django.shortcuts import redirect, render

from modules.contact import services
from modules.contact.forms import ContactForm
from site_core.access import ratelimits
from site_core.pages.lookups import expert_page_or_404


def _expert_page(request, page_id):
    return expert_page_or_404(page_id)


def contact_expert(request, page_id):
    page = _expert_page(request, page_id)
    status = 200
    retry_after = None
    if request.method == "POST":
        form = ContactForm(request.POST)
        if form.is_valid():
            # Only messages that would be sent count (site_core.access.ratelimits, group "contact").
            try:
                ratelimits.hit(request, "contact")
            except ratelimits.RateLimited as refused:
                form.add_error(None, refused.message)
                status, retry_after = 429, refused.retry_after
            else:
                data = {k: v for k, v in form.cleaned_data.items() if k != "website"}
                services.send_message(expert=page.expert, sender=request.user, **data)
                return redirect("contact:sent", page_id=page.pk)
        else:
            status = 400
    else:
        initial = {}
        if request.user.is_authenticated:
            initial = {"name": request.user.get_full_name(), "email": request.user.email,
                       "phone": request.user.phone}
        form = ContactForm(initial=initial)
    response = render(request, "contact/contact_form.html", {"form": form, "expert_page": page}, status=status)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def message_sent(request, page_id):
    page = _expert_page(request, page_id)
    return render(request, "contact/message_sent.html", {"expert_page": page})
