import pytest


@pytest.mark.django_db
def test_expert_page_answers_at_its_consultation_link(client, practice, make_expert):
    _, page, _ = make_expert(practice, "Alice Martin")
    response = client.get("/alice-martin/")
    assert response.status_code == 200
    assert "Alice Martin" in response.content.decode()
    response = client.get("/en/alice-martin/")
    assert response.status_code == 200
    assert "Test specialty" in response.content.decode()


def test_favicon_ico_leads_to_the_site_icon(client, practice):
    response = client.get("/favicon.ico", follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0].endswith("favicon.svg")
