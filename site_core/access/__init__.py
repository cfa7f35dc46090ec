"""Who may see what, practice by practice: the one definition of "administrator of this
practice" and "expert of this practice".

One install serves several practices (Wagtail Sites). Three kinds of staff:

- the **install owner**: a Django superuser; sees and does everything, on every practice;
- a **practice administrator**: a member of the practice's administrators group
  (``PracticeGroup`` role ``admins``, made by ``site_core.access.services.setup_practice_groups``);
  sees and manages that practice only;
- an **expert**: a member of the practice's experts group (kept by
  ``site_core.access.services.sync_expert_access``); sees only their own rows.

Clients are members of practices (``ClientMembership``); an account is install-wide.

Every admin view, chooser, filter and API answer that shows practice data asks this module,
never ``is_superuser`` or a model permission alone: a model permission says *what kind* of
row a user may touch, this module says *which practice's* rows.
"""

from django.db.models import Q

ADMINS = "admins"
EXPERTS = "experts"

# Wagtail admin views that show every practice's records at once (the site history report
# lists every logged change of every model the user has a permission for, whichever practice
# it belongs to; page types usage names the last edited page of each type, whatever its
# tree): the install owner's only (refused by site_core.middleware.ModuleGateMiddleware,
# and left out of the reports menu).
OWNER_ONLY_ADMIN_VIEWS = {
    "wagtailadmin_reports:site_history", "wagtailadmin_reports:site_history_results",
    "wagtailadmin_reports:page_types_usage", "wagtailadmin_reports:page_types_usage_results",
}
OWNER_ONLY_REPORTS = {"site-history", "page-types-usage"}


def _active(user):
    return user is not None and user.is_authenticated and user.is_active


def is_install_owner(user):
    """The owner of the install (a superuser): every practice is theirs."""
    return _active(user) and user.is_superuser


def _site_ids(user, role):
    """Ids of the sites where ``user`` holds ``role``, cached on the user object for the
    request (``forget(user)`` after changing their groups)."""
    if not _active(user):
        return frozenset()
    cache_name = f"_cabinet_{role}_site_ids"
    cached = getattr(user, cache_name, None)
    if cached is None:
        from site_core.practice.models import PracticeGroup

        cached = frozenset(
            PracticeGroup.objects.filter(role=role, group__user=user).values_list("site_id", flat=True)
        )
        setattr(user, cache_name, cached)
    return cached


def forget(user):
    """Drop what this module cached on ``user`` (their groups changed)."""
    for role in (ADMINS, EXPERTS):
        user.__dict__.pop(f"_cabinet_{role}_site_ids", None)


def administered_site_ids(user):
    """Ids of the practices ``user`` administers (None: every practice, for the install owner)."""
    if is_install_owner(user):
        return None
    return _site_ids(user, ADMINS)


def practices_administered(user):
    """The practices (Sites) ``user`` administers: all of them for the install owner, none
    for anyone who is not in a practice's administrators group."""
    from wagtail.models import Site

    ids = administered_site_ids(user)
    return Site.objects.all() if ids is None else Site.objects.filter(pk__in=ids)


administered_sites = practices_administered


def is_practice_admin(user, site):
    """Is ``user`` an administrator of the practice ``site`` (or the install owner)?"""
    if site is None:
        return False
    ids = administered_site_ids(user)
    return ids is None or site.pk in ids


def is_practice_expert(user, site):
    """Is ``user`` an expert of the practice ``site``?"""
    return site is not None and site.pk in _site_ids(user, EXPERTS)


def expert_sites(user):
    from wagtail.models import Site

    return Site.objects.filter(pk__in=_site_ids(user, EXPERTS))


def is_practice_staff(user, site):
    """An administrator or an expert of ``site``."""
    return is_practice_admin(user, site) or is_practice_expert(user, site)


def administers_any(user):
    """Does ``user`` administer at least one practice (or own the install)?"""
    ids = administered_site_ids(user)
    return ids is None or bool(ids)


def own_expert(user):
    """The Expert whose login ``user`` is, or None."""
    if not _active(user):
        return None
    return getattr(user, "expert", None)


def scope(queryset, user, *, site_path, expert_path=None):
    """The rows of ``queryset`` that ``user`` may see in the admin.

    Everything for the install owner; the rows of the practices they administer for a
    practice administrator (``site_path`` leads from the model to its Site: ``"site"``,
    ``"order__site"``, ``"expert__site"``); and, with ``expert_path`` (leading to
    site_core.Expert), an expert's own rows. Nothing for anyone else.
    """
    ids = administered_site_ids(user)
    if ids is None:
        return queryset
    condition = Q(**{f"{site_path}__in": ids}) if ids else Q(pk__in=[])
    expert = own_expert(user) if expert_path else None
    if expert is not None:
        condition |= Q(**{expert_path: expert.pk})
    return queryset.filter(condition)


def visible_experts(user):
    """The experts ``user`` may see and choose: their practices' experts, or themselves."""
    from site_core.practice.models import Expert

    return scope(Expert.objects.all(), user, site_path="site", expert_path="pk")


def visible_clients(user):
    """The accounts ``user`` may see as clients: the members of the practices they
    administer (every account for the install owner; nobody for anyone else)."""
    from site_core.practice.models import User

    ids = administered_site_ids(user)
    if ids is None:
        return User.objects.all()
    return User.objects.filter(client_memberships__site_id__in=ids).distinct()


def practice_group(site, role):
    """The Wagtail group holding ``role`` in ``site`` (None before the practice is set up)."""
    from site_core.practice.models import PracticeGroup

    row = PracticeGroup.objects.filter(site=site, role=role).select_related("group").first()
    return row.group if row else None


def practice_admin_group(site):
    return practice_group(site, ADMINS)


def practice_experts_group(site):
    return practice_group(site, EXPERTS)


def site_root_paths(site):
    """Tree paths of the site's root page in every language (the English tree hangs from the
    translation of the root, not from the root itself)."""
    from wagtail.models import Page

    return list(Page.objects.filter(translation_key=site.root_page.translation_key)
                .values_list("path", flat=True))


def pages_of_sites(queryset, sites):
    """The pages of ``queryset`` that sit in one of ``sites``' trees, in any language."""
    condition = Q(pk__in=[])
    for site in sites:
        for path in site_root_paths(site):
            condition |= Q(path__startswith=path)
    return queryset.filter(condition)


# Admin URL arguments that name a page (the explorer, the editor, the chooser, moves).
PAGE_KWARGS = ("page_id", "parent_page_id", "page_to_move_id", "destination_id")
# Admin URL namespaces whose ``pk`` is a page.
PAGE_PK_NAMESPACES = ("wagtailadmin_api:pages",)


def practice_tree_paths(user):
    """Tree paths of the root pages (every language) of the practices ``user`` administers or
    consults for; None for the install owner (every tree)."""
    if is_install_owner(user):
        return None
    from wagtail.models import Site

    ids = set(administered_site_ids(user)) | set(_site_ids(user, EXPERTS))
    paths = []
    for site in Site.objects.filter(pk__in=ids).select_related("root_page"):
        paths.extend(site_root_paths(site))
    return paths


def admin_page_refused(user, match):
    """Does this admin URL (a ResolverMatch) name a page outside ``user``'s practices?

    Wagtail's own checks go by page permissions, but several views (the explorer, the page
    chooser, a move's confirmation) show a page that one merely may not edit; a practice's
    staff are kept to their practices' trees whatever the view. The root (depth 1) is the
    explorer's starting point: always allowed."""
    if not match.route.startswith("admin/") or not _active(user):
        return False
    ids = [match.kwargs[name] for name in PAGE_KWARGS if name in match.kwargs]
    if "pk" in match.kwargs and ":".join(match.namespaces) in PAGE_PK_NAMESPACES:
        ids.append(match.kwargs["pk"])
    if not ids:
        return False
    paths = practice_tree_paths(user)
    if paths is None:
        return False
    from wagtail.models import Page

    for page in Page.objects.filter(pk__in=ids).only("path", "depth"):
        if page.depth > 1 and not any(page.path.startswith(path) for path in paths):
            return True
    return False
