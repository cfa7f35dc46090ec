from django.db import models


class SimulatedCharge(models.Model):
    """The simulated gateway's own record of a charge, as Stripe keeps a PaymentIntent.

    Kept apart from our Payment so the provider has something to re-read,
    like a real gateway.
    """

    id = models.CharField(primary_key=True, max_length=40)
    idempotency_key = models.CharField(max_length=64, unique=True)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    manual_capture = models.BooleanField(default=False)
    # requires_payment_method, requires_action, requires_capture, succeeded, canceled, failed
    status = models.CharField(max_length=24, default="requires_payment_method")
    amount_captured = models.BigIntegerField(default=0)
    amount_refunded = models.BigIntegerField(default=0)
    failure_message = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"charge {self.pk} ({self.status})"


class SimulatedRefund(models.Model):
    id = models.CharField(primary_key=True, max_length=40)
    charge = models.ForeignKey(SimulatedCharge, on_delete=models.CASCADE, related_name="refunds")
    idempotency_key = models.CharField(max_length=64, unique=True)
    amount = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"refund {self.pk} of charge {self.charge_id}"
