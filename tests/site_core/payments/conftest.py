import pytest


@pytest.fixture
def client_user(make_user):
    return make_user(email="camille@example.test", first_name="Camille", last_name="Martin")


@pytest.fixture
def make_order(practice, client_user):
    from site_core.payments import services

    def make(total=5000, capture_mode="automatic", client=None, expert=None, promo_code="", lines=None):
        return services.create_order(
            site=practice.site, client=client or client_user, expert=expert, purpose="other", currency="EUR",
            lines=lines or [("Consultation 30 min", total, 1)], capture_mode=capture_mode,
            promo_code=promo_code,
        )

    return make
