import pytest

from tests.site_core.payments.drivers.stripe import StripeDriver


@pytest.fixture
def client_user(make_user):
    return make_user(email="camille@example.test", first_name="Camille", last_name="Martin")


@pytest.fixture
def make_order(practice, client_user):
    from site_core.payments import services

    def make(total=5000, capture_mode="automatic", currency="EUR", client=None, lines=None):
        return services.create_order(
            site=practice.site, client=client or client_user, expert=None, purpose="other", currency=currency,
            lines=lines or [("Consultation 30 min", total, 1)], capture_mode=capture_mode,
        )

    return make


@pytest.fixture
def stripe_gateway(settings, monkeypatch):
    """Stripe configured with test keys, its API faked in memory at the SDK's HTTP client."""
    driver = StripeDriver()
    driver.install(settings, monkeypatch)
    return driver


@pytest.fixture
def fake(stripe_gateway):
    return stripe_gateway.fake


@pytest.fixture
def buyer(client, client_user):
    client.force_login(client_user)
    return client
