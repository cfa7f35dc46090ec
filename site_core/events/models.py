"""The outbox's tables: the facts that happened, and each receiver's handling of them."""

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Event(models.Model):
    """A fact other parts of Cabinet act on (an order was paid, a session ended).

    Written in the same transaction as the change it reports, so it exists exactly when
    the change does: a rolled-back change leaves no event, a committed one always has its
    event, whatever happens to the process afterwards. Its payload is plain data (ids,
    amounts, codes), never a model instance, and says when the fact happened
    (``occurred_at``), not when it is delivered.
    """

    name = models.CharField(_("event"), max_length=64, db_index=True)
    site = models.ForeignKey("wagtailcore.Site", verbose_name=_("practice"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+")
    payload = models.JSONField(_("payload"), encoder=DjangoJSONEncoder)
    occurred_at = models.DateTimeField(_("occurred at"))
    created_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["-pk"]

    def __str__(self):
        return f"{self.name} #{self.pk}"


class Delivery(models.Model):
    """One receiver's handling of one event.

    Made with the event, one per receiver that listens for it where its module is on for
    the event's practice. A worker takes it under a row lock and runs the receiver inside
    the same transaction as the row's new state: the receiver's database effects and
    "done" commit together or not at all, so a delivery is done once. A receiver that
    raises is recorded as such (its error kept), its effects rolled back, and tried again
    later with a growing delay; after the last attempt it stays FAILED until someone
    presses "retry" in the admin.
    """

    class State(models.TextChoices):
        PENDING = "pending", _("to deliver")
        DONE = "done", _("delivered")
        FAILED = "failed", _("failed")

    event = models.ForeignKey(Event, verbose_name=_("event"), on_delete=models.CASCADE, related_name="deliveries")
    receiver = models.CharField(_("receiver"), max_length=200)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    last_error = models.TextField(_("last error"), blank=True)
    done_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("event delivery")
        verbose_name_plural = _("event deliveries")
        ordering = ["-pk"]
        constraints = [models.UniqueConstraint(fields=["event", "receiver"], name="one_delivery_per_receiver")]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="delivery_due")]

    def __str__(self):
        return f"{self.event} → {self.receiver}"
