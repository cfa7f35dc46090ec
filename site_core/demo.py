"""The demo practices that `manage.py seed_demo` creates.

Two practices on one install, to show that Cabinet is multi-site and
themed: "Cabinet Lumière" on http://127.0.0.1:8000 (theme Atelier) and
"Studio Horizon" on http://localhost:8000 (theme Horizon). Everything is
looked up before it is created, so running it again changes nothing.
"""

import colorsys
import hashlib
import io
from dataclasses import dataclass, field

from allauth.account.models import EmailAddress
from django.core.files.images import ImageFile
from django.db import transaction
from PIL import Image as PILImage
from PIL import ImageDraw, ImageFont
from wagtail.images.models import Image
from wagtail.models import Locale, Page, Site

from site_core.access.services import (
    add_client_membership,
    add_practice_admin,
    create_expert,
    link_expert_user,
    practice_collection,
)
from site_core.pages.models import ContentPage, ExpertIndexPage, ExpertPage, HomePage
from site_core.practice.models import Expert, PracticeSettings, User

DEMO_PASSWORD = "demo-cabinet-2026"
# The owner of the install: a superuser, who sees every practice.
OWNER = ("owner@cabinet.test", "Olivia", "Owner")


@dataclass
class DemoPractice:
    site: Site
    home: HomePage
    admin: User
    client: User
    experts: list = field(default_factory=list)  # [(Expert, ExpertPage fr, ExpertPage en)]
    stdout: object = None


def paragraph(text):
    return {"type": "paragraph", "value": text}


def heading(text):
    return {"type": "heading", "value": text}


def question(q, a):
    return {"type": "question", "value": {"question": q, "answer": a}}


def portrait(name, seed):
    """A 600×600 portrait placeholder made here: initials on a soft gradient."""
    digest = hashlib.sha256(seed.encode()).digest()
    hue = digest[0] / 255
    top = tuple(int(c * 255) for c in colorsys.hls_to_rgb(hue, 0.42, 0.45))
    bottom = tuple(int(c * 255) for c in colorsys.hls_to_rgb((hue + 0.08) % 1, 0.25, 0.5))
    size = 600
    image = PILImage.new("RGB", (size, size), top)
    draw = ImageDraw.Draw(image)
    for y in range(size):
        t = y / size
        draw.line([(0, y), (size, y)], fill=tuple(int(top[i] * (1 - t) + bottom[i] * t) for i in range(3)))
    draw.ellipse([170, 110, 430, 370], fill=(255, 255, 255, 60), outline=(255, 255, 255), width=6)
    draw.pieslice([90, 380, 510, 800], 180, 360, fill=(255, 255, 255), outline=(255, 255, 255))
    initials = "".join(part[0] for part in name.split()[:2]).upper()
    try:
        font = ImageFont.load_default(size=110)
    except TypeError:
        font = ImageFont.load_default()
    draw.text((size / 2, 240), initials, fill=bottom, font=font, anchor="mm")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    buffer.seek(0)
    return buffer


def get_or_create_image(title, seed, collection=None):
    """The demo photo ``title``, in ``collection`` (its practice's: a demo seeded before
    practices had collections had them in the root; None: the root, the install owner's)."""
    image = Image.objects.filter(title=title).first()
    if image is None:
        image = Image(title=title, **({"collection": collection} if collection else {}))
        image.file = ImageFile(portrait(title, seed), name=f"{seed}.jpg")
        image.save()
    elif collection is not None and image.collection_id != collection.pk:
        image.collection = collection
        image.save(update_fields=["collection"])
    return image


def get_or_create_user(email, first_name, last_name, *, password=DEMO_PASSWORD, superuser=False,
                       language="fr"):
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = User(username=email.split("@")[0] + "-" + hashlib.md5(email.encode()).hexdigest()[:6],
                    email=email, first_name=first_name, last_name=last_name, language=language,
                    is_staff=superuser, is_superuser=superuser)
        user.set_password(password)
        user.save()
    EmailAddress.objects.get_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user


def publish(page, user=None):
    page.save_revision(user=user).publish(user=user)
    return page


def add_child(parent, page):
    existing = parent.get_children().filter(slug=page.slug).first()
    if existing is not None:
        return existing.specific, False
    parent.add_child(instance=page)
    publish(page)
    return page, True


def translate(page, locale, **fields):
    """The English twin of a French page, created once."""
    existing = page.get_translation_or_none(locale)
    if existing is not None:
        return existing.specific
    twin = page.copy_for_translation(locale, copy_parents=True, alias=False)
    for name, value in fields.items():
        setattr(twin, name, value)
    twin.save()
    publish(twin)
    return twin


PRACTICES = [
    {
        "hostname": "127.0.0.1",
        "port": 8000,
        "default": True,
        "name": "Cabinet Lumière",
        "theme": "atelier",
        "tagline_fr": "Des experts à votre écoute, par chat, vidéo ou téléphone",
        "tagline_en": "Experts who listen, by chat, video or phone",
        "home_slug": "cabinet-lumiere",
        "admin": ("admin@cabinet.test", "Claire", "Administratrice"),
        "client": ("client@cabinet.test", "Camille", "Martin"),
        "email": "contact@cabinet.test",
        "phone": "+33 1 80 85 55 30",
        "experts": [
            {
                "email": "sophie@cabinet.test", "first": "Sophie", "last": "Laurent",
                "slug": "sophie-laurent", "languages": ["fr", "en"],
                "fr": ("Avocate en droit de la famille",
                       "Divorce, garde des enfants, successions : je vous explique vos droits simplement et vous aide à décider.",
                       ["Inscrite au barreau de Lyon depuis 2009, j'accompagne les familles dans les moments où le droit devient très concret.",
                        "Une première consultation permet de faire le point sur votre situation, vos options et leur coût."]),
                "en": ("Family lawyer",
                       "Divorce, custody, inheritance: I explain your rights in plain words and help you decide.",
                       ["A member of the Lyon bar since 2009, I help families at the moments when the law becomes very concrete.",
                        "A first consultation takes stock of your situation, your options and what they cost."]),
            },
            {
                "email": "marc@cabinet.test", "first": "Marc", "last": "Dubois",
                "slug": "marc-dubois", "languages": ["fr", "es"],
                "fr": ("Coach de carrière",
                       "Reconversion, prise de poste, négociation : des séances courtes et concrètes pour avancer.",
                       ["Ancien DRH, j'ai accompagné plus de 400 personnes dans leur évolution professionnelle.",
                        "Chaque séance se termine par un plan d'action clair."]),
                "en": ("Career coach",
                       "Career change, new role, negotiation: short, practical sessions to move forward.",
                       ["A former HR director, I have coached more than 400 people through their career moves.",
                        "Every session ends with a clear action plan."]),
            },
            {
                "email": "amina@cabinet.test", "first": "Amina", "last": "Benali",
                "slug": "amina-benali", "languages": ["fr", "en", "ar"],
                "fr": ("Psychologue clinicienne",
                       "Anxiété, deuil, épuisement : un espace d'écoute confidentiel, en vidéo ou par téléphone.",
                       ["Psychologue diplômée de l'université Paris Cité, je reçois adultes et adolescents.",
                        "Les séances se déroulent en toute confidentialité, à votre rythme."]),
                "en": ("Clinical psychologist",
                       "Anxiety, grief, burnout: a confidential space to be heard, by video or phone.",
                       ["A psychologist trained at Université Paris Cité, I see adults and teenagers.",
                        "Sessions are fully confidential and go at your own pace."]),
            },
            {
                "email": "luc@cabinet.test", "first": "Luc", "last": "Moreau",
                "slug": "luc-moreau", "languages": ["fr"],
                "fr": ("Voyant et tarologue",
                       "Tarot de Marseille et intuition : des réponses claires à vos questions, par chat ou téléphone.",
                       ["Je pratique le tarot depuis vingt ans, avec bienveillance et sans jugement.",
                        "Préparez une ou deux questions précises : la consultation n'en sera que plus riche."]),
                "en": ("Psychic and tarot reader",
                       "Marseille tarot and intuition: clear answers to your questions, by chat or phone.",
                       ["I have read tarot for twenty years, kindly and without judgement.",
                        "Come with one or two precise questions: the reading will be all the richer."]),
            },
        ],
    },
    {
        "hostname": "localhost",
        "port": 8000,
        "default": False,
        "name": "Studio Horizon",
        "theme": "horizon",
        "tagline_fr": "Coiffure et image de soi, conseils en visio",
        "tagline_en": "Hair and personal style, advice by video",
        "home_slug": "studio-horizon",
        "admin": ("admin@horizon.test", "Hugo", "Admin"),
        "client": ("client@horizon.test", "Léa", "Petit"),
        "email": "bonjour@horizon.test",
        "phone": "+33 4 72 00 00 00",
        "experts": [
            {
                "email": "ines@horizon.test", "first": "Inès", "last": "Garcia",
                "slug": "ines-garcia", "languages": ["fr", "es", "en"],
                "fr": ("Coiffeuse-visagiste",
                       "Quelle coupe pour votre visage ? Un conseil personnalisé en vidéo avant votre passage en salon.",
                       ["Quinze ans de salon à Lyon et à Madrid.", "Envoyez-moi deux photos avant la séance."]),
                "en": ("Hairdresser and face-shape stylist",
                       "Which cut suits your face? Personal advice by video before you visit a salon.",
                       ["Fifteen years in salons in Lyon and Madrid.", "Send me two photos before the session."]),
            },
            {
                "email": "tom@horizon.test", "first": "Tom", "last": "Nguyen",
                "slug": "tom-nguyen", "languages": ["fr", "en"],
                "fr": ("Conseiller en image",
                       "Garde-robe, couleurs, allure : retrouvez un style qui vous ressemble.",
                       ["Ancien styliste pour la mode masculine.", "Séances courtes, conseils concrets."]),
                "en": ("Personal image consultant",
                       "Wardrobe, colours, presence: find a style that is truly yours.",
                       ["A former menswear stylist.", "Short sessions, practical advice."]),
            },
            {
                "email": "julie@horizon.test", "first": "Julie", "last": "Roux",
                "slug": "julie-roux", "languages": ["fr"],
                "fr": ("Coloriste",
                       "Balayage, blond, gris assumé : on choisit ensemble la couleur juste.",
                       ["Coloriste depuis 2012.", "Je vous aide à préparer votre rendez-vous en salon."]),
                "en": ("Hair colourist",
                       "Balayage, blonde, embracing grey: we choose the right colour together.",
                       ["A colourist since 2012.", "I help you prepare your salon appointment."]),
            },
        ],
    },
]


def content_pages(home_fr, en, practice):
    name = practice["name"]
    about_fr, _ = add_child(home_fr, ContentPage(
        title="À propos", slug="a-propos", show_in_menus=True,
        intro=f"{name} réunit des experts indépendants qui consultent à distance.",
        body=[paragraph(f"<p>{name} est un cabinet indépendant. Chaque expert fixe ses horaires et ses tarifs ; "
                        "vous réservez et payez en ligne, puis vous retrouvez l'expert par chat, vidéo ou téléphone.</p>")],
    ))
    translate(about_fr, en, title="About", intro=f"{name} brings together independent experts who consult remotely.",
              body=[paragraph(f"<p>{name} is an independent practice. Each expert sets their own hours and prices; "
                              "you book and pay online, then meet the expert by chat, video or phone.</p>")])
    faq_fr, _ = add_child(home_fr, ContentPage(
        title="Questions fréquentes", slug="faq", show_in_menus=True,
        intro="Tout ce qu'il faut savoir avant votre première consultation.",
        body=[
            question("Comment réserver une consultation ?", "<p>Ouvrez la page de l'expert, choisissez le mode (chat, vidéo ou téléphone), le produit, puis payez. Vous recevez un code de réservation par email.</p>"),
            question("Que se passe-t-il si la communication est interrompue ?", "<p>Le décompte s'arrête et reprend là où il s'était arrêté quand vous revenez.</p>"),
            question("Comment suis-je remboursé ?", "<p>Une consultation annulée à temps est remboursée intégralement sur votre moyen de paiement.</p>"),
        ],
    ))
    translate(faq_fr, en, title="Frequently asked questions", intro="All you need to know before your first consultation.",
              body=[
                  question("How do I book a consultation?", "<p>Open the expert's page, choose the mode (chat, video or phone), the product, then pay. You receive a reservation code by email.</p>"),
                  question("What if the connection drops?", "<p>The countdown stops and resumes where it stopped when you come back.</p>"),
                  question("How am I refunded?", "<p>A consultation cancelled in time is refunded in full to your payment method.</p>"),
              ])
    legal_fr, _ = add_child(home_fr, ContentPage(
        title="Mentions légales", slug="mentions-legales", show_in_menus=False,
        body=[paragraph(f"<p>Éditeur : {name}. Hébergement : sur les serveurs du cabinet. "
                        "Vos données ne servent qu'à vos consultations ; écrivez-nous pour les consulter ou les effacer.</p>")],
    ))
    translate(legal_fr, en, title="Legal notice",
              body=[paragraph(f"<p>Publisher: {name}. Hosting: on the practice's own servers. "
                              "Your data is used only for your consultations; write to us to see or erase it.</p>")])


@transaction.atomic
def seed_practice(practice, stdout):
    fr, _ = Locale.objects.get_or_create(language_code="fr")
    en, _ = Locale.objects.get_or_create(language_code="en")
    root = Page.get_first_root_node()

    site = Site.objects.filter(hostname=practice["hostname"], port=practice["port"]).first()
    home = HomePage.objects.filter(slug=practice["home_slug"], locale=fr).first()
    if home is None:
        home = HomePage(title=practice["name"], slug=practice["home_slug"], locale=fr,
                        intro=practice["tagline_fr"],
                        body=[paragraph("<p>Choisissez un expert, réservez un créneau et retrouvez-le en ligne. "
                                        "Paiement sécurisé, code de réservation envoyé par email.</p>")])
        root.add_child(instance=home)
        publish(home)
    translate(home, en, title=practice["name"], intro=practice["tagline_en"],
              body=[paragraph("<p>Choose an expert, book a slot and meet them online. "
                              "Secure payment, reservation code sent by email.</p>")])
    if site is None:
        if practice["default"]:
            site = Site.objects.filter(is_default_site=True).first()
        if site is None:
            site = Site(hostname=practice["hostname"], port=practice["port"])
    site.hostname, site.port = practice["hostname"], practice["port"]
    site.root_page = home
    site.site_name = practice["name"]
    site.is_default_site = practice["default"]
    site.save()
    # Wagtail's placeholder page, now unused.
    Page.objects.filter(depth=2, slug="home", content_type__model="page").delete()

    settings = PracticeSettings.for_site(site)
    settings.practice_name = practice["name"]
    settings.tagline = practice["tagline_fr"]
    settings.theme = practice["theme"]
    settings.contact_email = practice["email"]
    settings.contact_phone = practice["phone"]
    settings.save()

    # The practice's administrator manages this practice only; the install's owner is
    # OWNER (a superuser), made once by seed().
    admin = get_or_create_user(*practice["admin"])
    if admin.is_superuser or admin.is_staff:  # a demo seeded before practices were kept apart
        admin.is_superuser = admin.is_staff = False
        admin.save(update_fields=["is_superuser", "is_staff"])
    add_practice_admin(site, admin)
    client = get_or_create_user(*practice["client"])
    add_client_membership(client, site, source="signup")

    index_fr, _ = add_child(home, ExpertIndexPage(
        title="Nos experts", slug="experts", show_in_menus=True,
        intro="<p>Des professionnels indépendants, disponibles par chat, vidéo ou téléphone.</p>"))
    translate(index_fr, en, title="Our experts",
              intro="<p>Independent professionals, available by chat, video or phone.</p>")

    demo = DemoPractice(site=site, home=home, admin=admin, client=client, stdout=stdout)
    for spec in practice["experts"]:
        name = f"{spec['first']} {spec['last']}"
        user = get_or_create_user(spec["email"], spec["first"], spec["last"])
        expert = Expert.objects.filter(user=user).first() or create_expert(name=name, site=site)
        if expert.user_id != user.pk:
            link_expert_user(expert, user)
        photo = get_or_create_image(name, spec["slug"], practice_collection(site))
        specialty, summary, bio = spec["fr"]
        page_fr, _ = add_child(index_fr, ExpertPage(
            title=name, slug=spec["slug"], expert=expert, display_name=name, specialty=specialty,
            summary=summary, photo=photo, languages_spoken=spec["languages"],
            biography=[paragraph(f"<p>{text}</p>") for text in bio]))
        specialty_en, summary_en, bio_en = spec["en"]
        page_en = translate(page_fr, en, specialty=specialty_en, summary=summary_en,
                            biography=[paragraph(f"<p>{text}</p>") for text in bio_en])
        demo.experts.append((expert, page_fr, page_en))
    content_pages(home, en, practice)
    return demo


def seed(stdout):
    from site_core.modules.hooks import REGISTER_DEMO_DATA, get_hooks

    with transaction.atomic():
        get_or_create_user(*OWNER, superuser=True)
    demos = []
    for practice in PRACTICES:
        demo = seed_practice(practice, stdout)
        for fn in get_hooks(REGISTER_DEMO_DATA, demo.site):
            with transaction.atomic():
                fn(demo)
        demos.append((practice, demo))
    return demos
