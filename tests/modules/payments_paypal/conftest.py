import pytest

from tests.site_core.payments.drivers.paypal import PayPalDriver


@pytest.fixture
def client_user(make_user):
    return make_user(email="camille@example.test", first_name="Camille", last_name="Martin")


@pytest.fixture
def make_order(practice, client_user):
    from site_core.payments import services

    def make(total=5000, capture_mode="automatic", currency="EUR", client=None):
        return services.create_order(
            site=practice.site, client=client or client_user, expert=None, purpose="other", currency=currency,
            lines=[("Consultation 30 min", total, 1)], capture_mode=capture_mode,
        )

    return make


@pytest.fixture
def paypal(settings, monkeypatch):
    """PayPal configured for the sandbox, its API faked in memory at the SDK's transport."""
    driver = PayPalDriver()
    driver.install(settings, monkeypatch)
    return driver


@pytest.fixture
def fake(paypal):
    return paypal.fake


@pytest.fixture
def buyer(client, client_user):
    client.force_login(client_user)
    return client
