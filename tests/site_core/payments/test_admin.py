import pytest

from site_core.payments import services
from site_core.payments.models import Payment, PromoCode, Refund


def paid_payment(order):
    """Paid through the simulated gateway, as a client's card would."""
    from modules.payments_test import gateway
    from modules.payments_test.provider import TestCardProvider

    payment = services.start_payment(order, "test")
    charge = gateway.create_charge(idempotency_key=payment.idempotency_key, amount=payment.amount,
                                   currency=payment.currency, manual_capture=False)
    services.set_reference(payment, charge.id)
    gateway.pay_with_card(charge.id, gateway.SUCCESS)
    TestCardProvider().refresh(Payment.objects.get(pk=payment.pk))
    payment.refresh_from_db()
    assert payment.state == Payment.State.CAPTURED
    return payment


@pytest.fixture
def superuser(make_user):
    return make_user(email="boss@example.test", is_superuser=True, is_staff=True)


@pytest.mark.django_db
def test_admin_lists_and_inspects_payments(client, superuser, make_order):
    payment = paid_payment(make_order(total=3000))
    client.force_login(superuser)
    listing = client.get("/admin/payment_admin/")
    assert listing.status_code == 200
    assert "30,00" in listing.content.decode() or "€30.00" in listing.content.decode()
    detail = client.get(f"/admin/payment_admin/inspect/{payment.pk}/")
    assert detail.status_code == 200
    body = detail.content.decode()
    assert "captured" in body and "Consultation 30 min" in body


@pytest.mark.django_db
def test_refund_needs_a_confirmation_step(client, superuser, make_order):
    payment = paid_payment(make_order(total=3000))
    client.force_login(superuser)
    url = f"/admin/payment_admin/refund/{payment.pk}/"
    first = client.post(url, {"amount": "10.00", "reason": "late"})
    assert first.status_code == 200
    assert not Refund.objects.exists()
    assert 'name="confirm"' in first.content.decode()
    done = client.post(url, {"amount": "10.00", "reason": "late", "confirm": "on"})
    assert done.status_code == 302
    payment.refresh_from_db()
    assert payment.refunded_amount == 1000


@pytest.mark.django_db
def test_refund_above_what_remains_is_refused(client, superuser, make_order):
    payment = paid_payment(make_order(total=3000))
    client.force_login(superuser)
    response = client.post(f"/admin/payment_admin/refund/{payment.pk}/", {"amount": "30.01", "confirm": "on"})
    assert response.status_code == 400
    assert not Refund.objects.exists()
    payment.refresh_from_db()
    assert payment.refunded_amount == 0


@pytest.mark.django_db
def test_payment_becomes_a_promo_code_for_the_client(client, superuser, make_order, client_user):
    payment = paid_payment(make_order(total=3000))
    client.force_login(superuser)
    client.post(f"/admin/payment_admin/promo-code/{payment.pk}/")
    client.post(f"/admin/payment_admin/promo-code/{payment.pk}/")
    promo = PromoCode.objects.get()
    assert promo.amount == 3000 and promo.client == client_user and promo.max_uses == 1


@pytest.mark.django_db
def test_expert_sees_only_their_clients_payments(client, practice, make_expert, make_order, make_user):
    alice, _, _ = make_expert(practice, "Alice Martin")
    bob, _, _ = make_expert(practice, "Bob Leroy")
    mine = paid_payment(make_order(expert=alice))
    theirs = paid_payment(make_order(expert=bob))
    client.force_login(alice.user)
    assert client.get(f"/admin/payment_admin/inspect/{mine.pk}/").status_code == 200
    assert client.get(f"/admin/payment_admin/inspect/{theirs.pk}/").status_code == 404
    listing = client.get("/admin/payment_admin/").content.decode()
    assert f"/inspect/{mine.pk}/" in listing and f"/inspect/{theirs.pk}/" not in listing
    # Experts see; they do not move money.
    refused = client.post(f"/admin/payment_admin/refund/{mine.pk}/", {"amount": "1", "confirm": "on"})
    assert refused.status_code == 302 and refused["Location"] == "/admin/"
    assert not Refund.objects.exists()


@pytest.mark.django_db
def test_client_and_anonymous_are_kept_out(client, make_order, client_user):
    payment = paid_payment(make_order())
    assert client.get(f"/admin/payment_admin/inspect/{payment.pk}/").status_code == 302
    client.force_login(client_user)
    response = client.get(f"/admin/payment_admin/inspect/{payment.pk}/")
    assert response.status_code in (302, 403)
    assert Payment.objects.get(pk=payment.pk).refunded_amount == 0


def _with_token(browser, url, data):
    browser.get(url)
    return browser.post(url, {**data, "csrfmiddlewaretoken": browser.cookies["csrftoken"].value})


def _speaks(user, language):
    from wagtail.users.models import UserProfile

    profile = UserProfile.get_for_user(user)
    profile.preferred_language = language
    profile.save()


@pytest.mark.django_db
@pytest.mark.parametrize(("language", "typed", "shown"), [("fr", "10,50", "10,50\u00a0€"), ("en", "10.5", "€10.50")])
def test_a_refund_is_typed_in_euros_through_the_confirmation_step(superuser, make_order, language, typed, shown):
    from django.test import Client

    payment = paid_payment(make_order(total=3000))
    _speaks(superuser, language)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(superuser)
    url = f"/admin/payment_admin/refund/{payment.pk}/"
    form = browser.get(url).content.decode()
    assert f'value="{"30,00" if language == "fr" else "30.00"}"' in form  # what remains, in euros
    first = _with_token(browser, url, {"amount": typed, "reason": "late"})
    body = first.content.decode()
    assert first.status_code == 200 and shown in body and not Refund.objects.exists()
    hidden = "10,50" if language == "fr" else "10.50"
    assert f'name="amount" value="{hidden}"' in body  # sent back as euros, not as 1050
    done = _with_token(browser, url, {"amount": hidden, "reason": "late", "confirm": "on"})
    assert done.status_code == 302
    payment.refresh_from_db()
    assert payment.refunded_amount == 1050


@pytest.mark.django_db
@pytest.mark.parametrize("typed", ["-1", "10,505", "1 0", "ten"])
def test_a_refund_amount_that_is_not_money_is_refused(client, superuser, make_order, typed):
    payment = paid_payment(make_order(total=3000))
    client.force_login(superuser)
    response = client.post(f"/admin/payment_admin/refund/{payment.pk}/", {"amount": typed, "confirm": "on"})
    assert response.status_code == 400
    assert 'class="error-message"' in response.content.decode() or "error" in response.content.decode()
    payment.refresh_from_db()
    assert payment.refunded_amount == 0 and not Refund.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("language", "typed"), [("fr", "12,5"), ("en", "12.50")])
def test_a_fixed_promo_code_is_typed_in_euros(practice, superuser, language, typed):
    from django.test import Client

    _speaks(superuser, language)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(superuser)
    url = "/admin/snippets/payments/promocode/add/"
    form = browser.get(url).content.decode()
    assert "cents" not in form and "minor units" not in form and "centimes" not in form
    response = _with_token(browser, url, {
        "site": practice.site.pk, "code": "SPRING", "kind": "fixed", "amount": typed, "minimum_amount": "40",
        "max_uses_per_client": "1", "active": "on"})
    assert response.status_code == 302, response.content.decode()[:3000]
    promo = PromoCode.objects.get(code="SPRING")
    assert (promo.amount, promo.minimum_amount, promo.currency) == (1250, 4000, "EUR")
    listing = browser.get("/admin/snippets/payments/promocode/").content.decode()
    assert ("12,50\u00a0€" if language == "fr" else "€12.50") in listing
    refused = _with_token(browser, url, {
        "site": practice.site.pk, "code": "AUTUMN", "kind": "fixed", "amount": "12,505", "minimum_amount": "0",
        "max_uses_per_client": "1", "active": "on"})
    assert refused.status_code == 200 and not PromoCode.objects.filter(code="AUTUMN").exists()
