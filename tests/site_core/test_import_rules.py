"""Modules talk sideways only through hooks and events (DESIGN.md, example 3).

A module may import site_core, Django, Wagtail, libraries, itself, and the
modules it names in ``depends_on``; the kernel imports no module at all. The
checker reads the source (``ast``), so an import inside a function counts too.
"""

import ast
from pathlib import Path

import pytest
from django.conf import settings

from site_core.modules import all_modules

BASE_DIR = Path(settings.BASE_DIR)


def imported_names(source, filename, package):
    """Every absolute module name ``source`` imports (relative imports resolved)."""
    tree = ast.parse(source, filename=filename)
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.append((module, node.lineno))
            # `from modules import contact` imports the module modules.contact.
            if module == "modules":
                names.extend((f"modules.{alias.name}", node.lineno) for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.append((node.args[0].value, node.lineno))
    return names


def module_label_of(name):
    """``modules.contact.views`` → ``contact``; None for anything outside modules/."""
    parts = name.split(".")
    if parts[0] != "modules" or len(parts) < 2:
        return None
    return parts[1]


def forbidden_imports(root, label, allowed):
    """[(file, line, imported name)] of imports of other modules not in ``allowed``.

    ``root`` is the project directory; the module's code is ``root/modules/<label>/``.
    """
    errors = []
    folder = Path(root) / "modules" / label
    for path in sorted(folder.rglob("*.py")):
        relative = path.relative_to(root)
        # The package a relative import starts from (the folder, for __init__.py too).
        package = ".".join(relative.with_suffix("").parts[:-1])
        for name, line in imported_names(path.read_text(encoding="utf-8"), str(path), package):
            other = module_label_of(name)
            if other is not None and other != label and other not in allowed:
                errors.append((str(relative), line, name))
    return errors


def kernel_imports_of_modules(root):
    errors = []
    for path in sorted((Path(root) / "site_core").rglob("*.py")):
        relative = path.relative_to(root)
        if relative.parts[:2] == ("site_core", "settings"):
            continue  # settings name the modules to install, as strings
        package = ".".join(relative.with_suffix("").parts[:-1])
        for name, line in imported_names(path.read_text(encoding="utf-8"), str(path), package):
            if module_label_of(name) is not None or name == "modules":
                errors.append((str(relative), line, name))
    return errors


@pytest.mark.parametrize("module", all_modules(), ids=lambda m: m.label)
def test_module_imports_only_what_it_depends_on(module):
    assert module.name == f"modules.{module.label}", "a module's package is modules/<label>/"
    errors = forbidden_imports(BASE_DIR, module.label, set(module.depends_on))
    assert errors == [], (
        f"{module.label} imports modules it does not name in depends_on {module.depends_on}: {errors}. "
        "Talk to them through site_core hooks and events, or add them to depends_on."
    )


# --- The kernel reads bottom-up (README, "Architecture") ------------------------------

#: site_core's layers, bottom-up. A file imports from its own layer or one below, never from one
#: above, and no file imports the composition root: everything else in site_core/ (apps, urls,
#: asgi, api, views, middleware, checks, demo, receivers, wagtail_hooks, models, templatetags,
#: management), which wires the layers together.
KERNEL_LAYERS = ("base", "modules", "events", "practice", "access", "pages", "payments")
TOP = len(KERNEL_LAYERS)


def kernel_files(root):
    """{dotted module name: path} of site_core's code (settings and migrations left out)."""
    files = {}
    for path in sorted((Path(root) / "site_core").rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[1] == "settings" or "migrations" in parts:
            continue
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return files


def kernel_graph(root):
    """{module: {(kernel module it imports, line)}}, lazy imports included."""
    files = kernel_files(root)
    graph = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = set()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    parts = package.split(".")
                    base = parts[: len(parts) - node.level + 1]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                # `from site_core.access import services` imports site_core.access.services.
                found = [f"{module}.{alias.name}" for alias in node.names if f"{module}.{alias.name}" in files]
                candidates = found or [module]
            elif isinstance(node, ast.Import):
                candidates = [alias.name for alias in node.names]
            else:
                continue
            edges.update((c, node.lineno) for c in candidates if c in files and c != name)
        graph[name] = edges
    return graph


def layer_rank(name):
    parts = name.split(".")
    return KERNEL_LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in KERNEL_LAYERS else TOP


def upward_imports(root):
    """[(module, line, imported)] where a layer imports a layer above it or the root."""
    errors = []
    for name, edges in kernel_graph(root).items():
        for imported, line in sorted(edges):
            if layer_rank(imported) > layer_rank(name) or (layer_rank(imported) == TOP and layer_rank(name) < TOP):
                errors.append((name, line, imported))
    return sorted(errors)


def import_cycles(root):
    """Groups of kernel modules that import each other, directly or not (Tarjan)."""
    graph = {name: {imported for imported, _ in edges} for name, edges in kernel_graph(root).items()}
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(cycles)


def test_kernel_layers_import_only_downwards():
    assert upward_imports(BASE_DIR) == [], (
        f"a layer imports one above it (bottom-up: {KERNEL_LAYERS}, then the root)"
    )


def test_kernel_has_no_import_cycle():
    assert import_cycles(BASE_DIR) == []


def test_every_kernel_folder_is_a_layer():
    folders = {path.parent.name for path in (BASE_DIR / "site_core").glob("*/__init__.py")}
    assert folders - {"settings", "migrations", "templatetags", "management"} == set(KERNEL_LAYERS)


class TestTheLayerChecker:
    @pytest.fixture
    def kernel(self, tmp_path):
        for folder in ("site_core", "site_core/base", "site_core/pages"):
            (tmp_path / folder).mkdir(parents=True, exist_ok=True)
            (tmp_path / folder / "__init__.py").write_text("")
        (tmp_path / "site_core" / "base" / "money.py").write_text("import decimal\n")
        (tmp_path / "site_core" / "pages" / "models.py").write_text("from site_core.base.money import Money\n")
        (tmp_path / "site_core" / "urls.py").write_text("from site_core.pages import models\n")
        return tmp_path

    def test_downward_imports_pass(self, kernel):
        assert upward_imports(kernel) == []
        assert import_cycles(kernel) == []

    @pytest.mark.parametrize("source", [
        "from site_core.pages.models import Page\n",
        "def f():\n    from site_core.pages import models\n",
        "from ..pages import models\n",
    ])
    def test_an_upward_import_is_reported(self, kernel, source):
        (kernel / "site_core" / "base" / "money.py").write_text(source)
        assert [(name, found) for name, _line, found in upward_imports(kernel)] == [
            ("site_core.base.money", "site_core.pages.models")]
        assert import_cycles(kernel) == [["site_core.base.money", "site_core.pages.models"]]

    def test_importing_the_root_is_reported(self, kernel):
        (kernel / "site_core" / "base" / "money.py").write_text("def f():\n    import site_core.urls\n")
        assert upward_imports(kernel) == [("site_core.base.money", 2, "site_core.urls")]

    def test_a_cycle_inside_a_layer_is_reported(self, kernel):
        (kernel / "site_core" / "base" / "fields.py").write_text("from site_core.base import money\n")
        (kernel / "site_core" / "base" / "money.py").write_text("def f():\n    from site_core.base.fields import X\n")
        assert upward_imports(kernel) == []
        assert import_cycles(kernel) == [["site_core.base.fields", "site_core.base.money"]]


def test_kernel_imports_no_module():
    assert kernel_imports_of_modules(BASE_DIR) == []


def test_every_module_is_checked():
    checked = {module.label for module in all_modules()}
    on_disk = {path.parent.name for path in (BASE_DIR / "modules").glob("*/apps.py")}
    assert on_disk <= checked, f"modules on disk without a ModuleConfig: {on_disk - checked}"


class TestTheChecker:
    """The checker itself catches a bad import (a rule that cannot fail protects nothing)."""

    @pytest.fixture
    def project(self, tmp_path):
        for label in ("alpha", "beta", "gamma"):
            (tmp_path / "modules" / label / "sub").mkdir(parents=True)
            (tmp_path / "modules" / label / "__init__.py").write_text("")
        (tmp_path / "site_core").mkdir()
        (tmp_path / "site_core" / "views.py").write_text("from django.http import HttpResponse\n")
        return tmp_path

    def write(self, project, relative, source):
        path = project / relative
        path.write_text(source)
        return path

    def test_allowed_imports_pass(self, project):
        self.write(project, "modules/alpha/views.py", (
            "import django\nfrom django.db import models\nfrom wagtail import hooks\n"
            "import stripe\nfrom site_core.models import Expert\nimport site_core.modules.hooks\n"
            "from modules.alpha import services\nfrom . import services\nfrom .sub import x\n"
            "from modules.beta.models import Thing\n"
        ))
        assert forbidden_imports(project, "alpha", {"beta"}) == []

    @pytest.mark.parametrize("source, name", [
        ("from modules.gamma.models import Thing\n", "modules.gamma.models"),
        ("import modules.gamma.services\n", "modules.gamma.services"),
        ("from modules import gamma\n", "modules.gamma"),
        ("def f():\n    from modules.gamma import tasks\n", "modules.gamma"),
        ("from ..gamma import models\n", "modules.gamma"),
        ("from importlib import import_module\nimport_module('modules.gamma.api')\n", "modules.gamma.api"),
    ])
    def test_an_import_outside_depends_on_is_reported(self, project, source, name):
        self.write(project, "modules/alpha/views.py", source)
        errors = forbidden_imports(project, "alpha", {"beta"})
        assert [(file, found) for file, _line, found in errors] == [("modules/alpha/views.py", name)]

    def test_relative_import_from_a_subpackage(self, project):
        self.write(project, "modules/alpha/sub/deep.py", "from ...gamma.models import Thing\n")
        errors = forbidden_imports(project, "alpha", set())
        assert [found for _file, _line, found in errors] == ["modules.gamma.models"]

    def test_line_numbers_point_at_the_import(self, project):
        self.write(project, "modules/alpha/views.py", "import os\n\n\nfrom modules.gamma import x\n")
        assert forbidden_imports(project, "alpha", set()) == [("modules/alpha/views.py", 4, "modules.gamma")]

    def test_kernel_importing_a_module_is_reported(self, project):
        assert kernel_imports_of_modules(project) == []
        self.write(project, "site_core/views.py", "from modules.alpha.models import Thing\n")
        assert kernel_imports_of_modules(project) == [("site_core/views.py", 1, "modules.alpha.models")]


# --- One way to call hooks (site_core/modules/hooks.py) --------------------------------

def direct_wagtail_get_hooks(root, folders=("site_core", "modules", "tests", "bench")):
    """[(file, line)] where code calls Wagtail's ``get_hooks`` itself instead of
    ``site_core.modules.hooks.get_hooks(name, site)`` / ``all_hooks(name)``.

    Caught: ``from wagtail.hooks import get_hooks``, ``wagtail.hooks.get_hooks``, and
    ``X.get_hooks`` where ``X`` names the ``wagtail.hooks`` module (``from wagtail import hooks as X``).
    """
    errors = []
    allowed = Path(root) / "site_core" / "modules" / "hooks.py"
    for folder in folders:
        for path in sorted((Path(root) / folder).rglob("*.py")):
            if path == allowed:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            aliases = set()
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module == "wagtail":
                    aliases.update(a.asname or a.name for a in node.names if a.name == "hooks")
                elif isinstance(node, ast.ImportFrom) and node.module == "wagtail.hooks":
                    if any(a.name == "get_hooks" for a in node.names):
                        errors.append((str(path.relative_to(root)), node.lineno))
                elif isinstance(node, ast.Import):
                    aliases.update(a.asname for a in node.names if a.name == "wagtail.hooks" and a.asname)
            for node in ast.walk(tree):
                if not (isinstance(node, ast.Attribute) and node.attr == "get_hooks"):
                    continue
                owner = node.value
                if isinstance(owner, ast.Name) and owner.id in aliases:
                    errors.append((str(path.relative_to(root)), node.lineno))
                elif (isinstance(owner, ast.Attribute) and owner.attr == "hooks"
                      and isinstance(owner.value, ast.Name) and owner.value.id == "wagtail"):
                    errors.append((str(path.relative_to(root)), node.lineno))
    return sorted(set(errors))


def test_nothing_calls_wagtails_get_hooks_directly():
    assert direct_wagtail_get_hooks(BASE_DIR) == [], (
        "call site_core.modules.hooks.get_hooks(name, site) (run time) or all_hooks(name) (build time)"
    )


class TestTheHooksChecker:
    @pytest.mark.parametrize("source", [
        "from wagtail import hooks as wagtail_hooks\nwagtail_hooks.get_hooks('x')\n",
        "from wagtail import hooks\nfor fn in hooks.get_hooks('x'):\n    pass\n",
        "from wagtail.hooks import get_hooks\n",
        "import wagtail.hooks\nwagtail.hooks.get_hooks('x')\n",
        "import wagtail.hooks as wh\nwh.get_hooks('x')\n",
    ])
    def test_a_direct_call_is_reported(self, tmp_path, source):
        (tmp_path / "site_core").mkdir()
        (tmp_path / "site_core" / "views.py").write_text(source)
        assert [file for file, _ in direct_wagtail_get_hooks(tmp_path, ("site_core",))] == ["site_core/views.py"]

    def test_registering_and_the_kernels_helpers_pass(self, tmp_path):
        (tmp_path / "site_core").mkdir()
        (tmp_path / "site_core" / "views.py").write_text(
            "from wagtail import hooks as wagtail_hooks\nfrom site_core import hooks\n"
            "@wagtail_hooks.register('x')\ndef f():\n    pass\n"
            "hooks.get_hooks('x', site=None)\nhooks.all_hooks('x')\n"
        )
        assert direct_wagtail_get_hooks(tmp_path, ("site_core",)) == []
