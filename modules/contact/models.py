from django.db import models
from django.utils.translation import gettext_lazy as _

from site_core.practice.models import Expert


class ContactMessage(models.Model):
    """A visitor's message to an expert: a question, or dates they propose.

    Seed 000: with no slot configured, the client writes to the expert with
    proposed dates and times; the expert gets it by email and in the admin.
    """

    expert = models.ForeignKey(Expert, verbose_name=_("expert"), on_delete=models.CASCADE,
                               related_name="contact_messages")
    sender = models.ForeignKey("site_core.User", verbose_name=_("sender account"), null=True,
                               blank=True, on_delete=models.SET_NULL, related_name="+")
    name = models.CharField(_("name"), max_length=120)
    email = models.EmailField(_("email"))
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    proposed_times = models.TextField(_("proposed dates and times"), max_length=1000, blank=True)
    message = models.TextField(_("message"), max_length=4000)
    language = models.CharField(_("language"), max_length=8)
    created_at = models.DateTimeField(_("received"), auto_now_add=True, db_index=True)
    notified_at = models.DateTimeField(_("expert notified"), null=True, blank=True)
    handled = models.BooleanField(_("handled"), default=False)

    class Meta:
        verbose_name = _("contact message")
        verbose_name_plural = _("contact messages")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} → {self.expert}"
