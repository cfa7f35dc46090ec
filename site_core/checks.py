"""System checks of the kernel."""

from django.apps import apps
from django.conf import settings
from django.core import checks

from site_core.modules import ModuleConfig


@checks.register()
def modules_are_module_configs(app_configs=None, **kwargs):
    """Every app in CABINET_MODULES must load a ModuleConfig.

    Django picks the AppConfig of an apps.py only when exactly one class is
    found there; a module that imports ModuleConfig by name gets Django's
    plain AppConfig instead and silently loses its URLs and hooks. Import
    ``from site_core import modules`` and subclass ``modules.ModuleConfig``.
    """
    errors = []
    for name in getattr(settings, "CABINET_MODULES", []):
        config = next((c for c in apps.get_app_configs() if c.name == name), None)
        if config is None or not isinstance(config, ModuleConfig):
            errors.append(checks.Error(
                f"{name} is listed in CABINET_MODULES but its AppConfig is not a ModuleConfig.",
                hint="In its apps.py, `from site_core import modules` and subclass modules.ModuleConfig.",
                id="cabinet.E001",
            ))
    return errors
