"""The module registry.

A module is a Django app under ``modules/`` whose AppConfig subclasses
:class:`ModuleConfig`. It says who it is (``label``, ``verbose_name``,
``description``) and which other modules it needs (``depends_on``). A
practice turns modules on or off per Wagtail Site in Practice settings; when
a module is off for a site, its URLs answer 404 there, its hook
implementations are not called (:func:`site_core.modules.hooks.get_hooks`), and so
its page sections and admin menu items disappear. A module also declares which
of its models public pages show (``shown_on_pages``), so that the anonymous page
cache never serves them stale.
"""

from __future__ import annotations

from django.apps import AppConfig, apps


class ModuleConfig(AppConfig):
    """Base AppConfig of every Cabinet module."""

    #: One line shown to the practice in Practice settings.
    description = ""
    #: Labels of the modules this one imports and builds on.
    depends_on: tuple[str, ...] = ()
    #: A required module cannot be turned off (accounts: everything logs in).
    required = False
    #: URL prefix of the module's ``urls.py`` (None: the module has no URLs).
    url_prefix: str | None = None
    #: The module's models whose rows public pages show, and which pages: a tuple of
    #: :class:`site_core.pages.cache.ShownOnPages`. The kernel makes the cached copies of
    #: those pages stale when such a row is saved or deleted (after commit), and keeps
    #: them no longer than the next moment a declared ``changes_at`` field comes to pass.
    shown_on_pages: tuple = ()
    #: True for a module that ends live sessions itself (the timer sends ``session_ended``).
    #: Where none such is on, the booking ends confirmed appointments after their end.
    ends_sessions = False

    @property
    def urls_module(self):
        return f"{self.name}.urls"


def all_modules() -> list[ModuleConfig]:
    """Every installed module, in INSTALLED_APPS order."""
    return [config for config in apps.get_app_configs() if isinstance(config, ModuleConfig)]


def get_module(label: str) -> ModuleConfig | None:
    try:
        config = apps.get_app_config(label)
    except LookupError:
        return None
    return config if isinstance(config, ModuleConfig) else None


def module_for_object(obj) -> ModuleConfig | None:
    """The module a function or class was defined in, or None for the kernel."""
    module_name = getattr(obj, "__module__", None) or ""
    config = apps.get_containing_app_config(module_name)
    return config if isinstance(config, ModuleConfig) else None


def default_enabled_labels() -> list[str]:
    return [module.label for module in all_modules()]


def dependency_closure(labels) -> set[str]:
    """The labels plus every module they depend on, transitively."""
    wanted = set(labels)
    stack = list(wanted)
    while stack:
        module = get_module(stack.pop())
        if module is None:
            continue
        for dep in module.depends_on:
            if dep not in wanted:
                wanted.add(dep)
                stack.append(dep)
    return wanted


def enabled_labels(site) -> frozenset[str]:
    """Labels of the modules switched on for ``site`` (all of them without a site).

    Required modules are always on; a module whose dependency is off is off.
    """
    installed = {module.label: module for module in all_modules()}
    if site is None:
        return frozenset(installed)
    from site_core.base.context import practice_settings

    practice = practice_settings(site)
    chosen = default_enabled_labels() if practice.enabled_modules is None else practice.enabled_modules
    on = {label for label in chosen if label in installed}
    on |= {label for label, module in installed.items() if module.required}
    changed = True
    while changed:
        changed = False
        for label in list(on):
            if any(dep not in on for dep in installed[label].depends_on):
                on.discard(label)
                changed = True
    return frozenset(on)


def is_enabled(label: str, site) -> bool:
    return label in enabled_labels(site)


def sessions_ended_by_a_module(site) -> bool:
    """Whether a module that ends sessions itself (``ends_sessions``) is on for ``site``."""
    on = enabled_labels(site)
    return any(module.ends_sessions and module.label in on for module in all_modules())
