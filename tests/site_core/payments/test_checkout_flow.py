import pytest

from site_core.payments.models import Order, Payment, PaymentLog


@pytest.mark.django_db
def test_client_pays_an_order_with_the_test_card(client, client_user, make_order):
    order = make_order(total=4500)
    client.force_login(client_user)
    page = client.get(f"/payments/checkout/{order.public_id}/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "45,00" in body and "Consultation 30 min" in body

    card_form = client.post(f"/payments/checkout/{order.public_id}/pay/test/")
    assert card_form.status_code == 200
    payment = Payment.objects.get(order=order)
    assert payment.state == Payment.State.PENDING and payment.reference.startswith("sim_")

    back = client.post(f"/payments-test/pay/{payment.pk}/", {"card_number": "4242 4242 4242 4242"})
    assert back.status_code == 302
    done = client.get(back["Location"])
    assert done.status_code == 302
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.state == Payment.State.CAPTURED and payment.captured_amount == 4500
    assert order.state == Order.State.PAID
    assert list(PaymentLog.objects.filter(payment=payment).values_list("to_state", flat=True)) == [
        "created", "pending", "captured"
    ]


@pytest.mark.django_db
def test_declined_card_leaves_the_order_open(client, client_user, make_order):
    order = make_order()
    client.force_login(client_user)
    client.post(f"/payments/checkout/{order.public_id}/pay/test/")
    payment = Payment.objects.get(order=order)
    back = client.post(f"/payments-test/pay/{payment.pk}/", {"card_number": "4000 0000 0000 0002"})
    response = client.get(back["Location"], follow=True)
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.state == Payment.State.FAILED
    assert order.state == Order.State.OPEN
    assert "card declined" in response.content.decode()


@pytest.mark.django_db
def test_another_client_cannot_see_the_checkout(client, make_user, make_order):
    order = make_order()
    client.force_login(make_user())
    assert client.get(f"/payments/checkout/{order.public_id}/").status_code == 404
    assert client.post(f"/payments/checkout/{order.public_id}/pay/test/").status_code == 404
    assert not Payment.objects.exists()
