"""What a visitor meets on a practice's site, in both themes: accessible pages, a phone-sized
layout, keyboard access, the language switcher and the "page not found" page."""

import re
from urllib.parse import urlsplit

import pytest
from django.utils import translation

from tests.e2e.conftest import THEMES

pytestmark = pytest.mark.browser

# What the two themes' stylesheets give the page: proof that each one is applied.
THEME_LOOK = {
    "atelier": {"background": "rgb(250, 245, 236)", "heading_font": "serif"},
    "horizon": {"background": "rgb(244, 247, 251)", "heading_font": "sans-serif"},
}

FOCUS_STYLE = """() => {
    const el = document.activeElement;
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    return {tag: el.tagName, id: el.id, cls: el.className, href: el.getAttribute('href'),
            outline: style.outlineStyle, outlineWidth: parseFloat(style.outlineWidth),
            top: box.top, left: box.left, right: box.right, bottom: box.bottom,
            width: box.width, height: box.height};
}"""


def serious_axe_violations(tab, axe_script):
    tab.add_script_tag(path=axe_script)
    violations = tab.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ['violations']});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ')),
            }));
        }"""
    )
    return [v for v in violations if v["impact"] in ("serious", "critical")]


def html_lang(tab):
    return tab.locator("html").get_attribute("lang")


def assert_themed(tab, theme):
    assert tab.locator(f'link[rel="stylesheet"][href*="/{theme}/theme.css"]').count() == 1
    assert tab.locator(f"header.site-header--{theme}").count() == 1
    assert tab.locator(f"footer.site-footer--{theme}").count() == 1
    look = tab.evaluate(
        "() => ({background: getComputedStyle(document.body).backgroundColor,"
        " heading: getComputedStyle(document.querySelector('h1')).fontFamily})"
    )
    assert look["background"] == THEME_LOOK[theme]["background"]
    assert look["heading"].rstrip().endswith(THEME_LOOK[theme]["heading_font"])


@pytest.mark.parametrize("theme", THEMES)
def test_home_index_and_expert_pages_pass_axe_and_keep_their_landmarks(themed_site, page, axe_script, theme):
    site = themed_site(theme)
    expert_path = f"/{site.expert.slug}/"
    for path in ("/", "/experts/", expert_path):
        response = page.goto(site.url + path)
        assert response.status == 200, path
        assert_themed(page, theme)
        assert page.locator("h1").count() == 1, path
        for landmark in ("header", "main#main", "footer", 'nav[aria-label]'):
            assert page.locator(landmark).count() >= 1, (path, landmark)
        assert page.locator(".skip-link").get_attribute("href") == "#main"
        assert page.locator("img:not([alt])").count() == 0, path
        violations = serious_axe_violations(page, axe_script)
        assert violations == [], f"{theme} {path}: {violations}"

    # The menu marks where the visitor is: the index itself, then a page inside it.
    experts_link = page.locator('.site-nav a[href="/experts/"]')
    assert experts_link.get_attribute("aria-current") == "true"  # on the expert page, last visited
    page.goto(site.url + "/experts/")
    assert experts_link.get_attribute("aria-current") == "page"
    assert page.locator(".site-nav a[aria-current]").count() == 1
    # The expert page shows what a module adds: the contact form's section.
    page.goto(site.url + expert_path)
    assert page.locator("#section-contact a.button").count() == 1
    assert page.locator(".expert__photo").get_attribute("alt") == ""


@pytest.mark.parametrize("theme", THEMES)
def test_a_phone_375_px_wide_never_scrolls_sideways_and_can_use_the_menu(themed_site, phone, theme):
    site = themed_site(theme)
    for path in ("/", "/experts/", f"/{site.expert.slug}/", "/a-propos/", "/nope/"):
        phone.goto(site.url + path)
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"{theme} {path}: the page is {width} px wide"

    phone.goto(site.url + "/")
    links = phone.locator(".site-nav a")
    assert links.count() >= 3
    for index in range(links.count()):
        link = links.nth(index)
        assert link.is_visible()
        box = link.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 375, (link.text_content(), box)
        assert box["height"] >= 24, (link.text_content(), box)  # WCAG 2.2 target size
    assert phone.locator(".language-switcher a").first.is_visible()

    phone.locator('.site-nav a[href="/experts/"]').click()
    phone.wait_for_url(re.compile(r"/experts/$"))
    assert phone.locator("h1").text_content().strip() == "Nos experts"
    assert phone.locator(".expert-card").count() == 2


@pytest.mark.parametrize("theme", THEMES)
def test_tab_reaches_the_skip_link_first_and_focus_is_always_visible(themed_site, page, theme):
    site = themed_site(theme)
    page.goto(site.url + "/")
    page.keyboard.press("Tab")
    focused = page.evaluate(FOCUS_STYLE)
    assert "skip-link" in focused["cls"] and focused["href"] == "#main", focused
    assert focused["outline"] != "none" and focused["outlineWidth"] >= 2, focused
    assert focused["top"] >= 0 and focused["left"] >= 0 and focused["height"] > 0, focused  # on screen

    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    for _ in range(3):  # the hero's button, then the experts' cards
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUS_STYLE)
        assert focused["tag"] in ("A", "BUTTON", "SUMMARY", "INPUT"), focused
        assert focused["outline"] != "none" and focused["outlineWidth"] >= 2, focused

    page.goto(site.url + "/")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")  # past the skip link: the header's first link
    focused = page.evaluate(FOCUS_STYLE)
    assert focused["tag"] == "A" and focused["outline"] != "none", focused


def test_the_language_switcher_leads_to_the_same_page_in_english(themed_site, page):
    site = themed_site("atelier")
    page.goto(site.url + f"/{site.expert.slug}/")
    assert html_lang(page) == "fr"
    switcher = page.locator("nav.language-switcher")
    assert switcher.is_visible()
    english = switcher.locator('a[hreflang="en"]')
    assert english.get_attribute("lang") == "en"
    assert switcher.locator('a[hreflang="fr"]').get_attribute("aria-current") == "true"
    assert page.locator('head link[rel="alternate"][hreflang="en"]').count() == 1

    english.click()
    page.wait_for_url(re.compile(r"/en/"))
    assert urlsplit(page.url).path == f"/en/{site.expert.slug}/"
    assert html_lang(page) == "en"
    assert page.locator(".expert__specialty").text_content().strip() == "Test specialty"
    assert english.get_attribute("aria-current") == "true"
    assert switcher.locator('a[hreflang="fr"]').get_attribute("aria-current") is None
    assert page.locator('.site-nav a[href="/en/experts/"]').text_content().strip() == "Our experts"


@pytest.mark.parametrize("theme", THEMES)
def test_an_unknown_address_gives_the_themed_404_in_the_visitors_language(themed_site, page, theme):
    site = themed_site(theme)
    for path, language, home in (("/nope/", "fr", "/"), ("/en/nope/", "en", "/en/")):
        response = page.goto(site.url + path)
        assert response.status == 404, path
        assert html_lang(page) == language
        with translation.override(language):
            expected = translation.gettext("Page not found")
        assert page.locator("h1").text_content().strip() == expected
        assert page.title().startswith(expected)
        assert_themed(page, theme)
        assert page.locator(".error-page a.button").get_attribute("href") == home
        assert page.locator(f'nav.language-switcher a[hreflang="{language}"]').get_attribute("aria-current") == "true"
