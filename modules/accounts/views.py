from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from modules.accounts import services
from modules.accounts.forms import ProfileForm
from site_core.modules.hooks import REGISTER_PORTAL_PANELS, get_hooks
from site_core.pages.sections import PageSection


@login_required
def portal(request):
    panels = []
    for fn in get_hooks(REGISTER_PORTAL_PANELS):
        result = fn(request)
        if result:
            panels.extend(result if isinstance(result, list | tuple) else [result])
    panels = sorted((p for p in panels if isinstance(p, PageSection)), key=lambda p: (p.order, p.key))
    return render(request, "accounts/portal.html", {"panels": panels})


@login_required
def profile(request):
    if request.method == "POST":
        form = ProfileForm(request.POST, instance=request.user)
        if form.is_valid():
            services.update_profile(request.user, **{k: form.cleaned_data[k] for k in form.Meta.fields})
            messages.success(request, _("Your details were saved."))
            return redirect("accounts:profile")
    else:
        form = ProfileForm(instance=request.user)
    return render(request, "accounts/profile.html", {"form": form}, status=400 if form.errors else 200)
