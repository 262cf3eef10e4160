"""The package's shape: one import name of its own, layers that import only downwards, and
the entry points a user types."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import dmabuf_mc

REPO = Path(dmabuf_mc.__file__).parent.parent
LAYERS = {"checker": 0, "model": 1, "properties": 1, "app": 2}
ROOTS = {"checker": REPO / "checker", "model": REPO / "model", "properties": REPO / "properties",
         "app": REPO / "dmabuf_mc" / "app"}
"""Where each layer's modules live in the repository: pyproject.toml maps the design's
top-level folders under the one import package."""
"""A module may import from its own layer and the layers below: the generic checker knows
nothing of DMA-buf, the model nothing of the application."""


def _imports(path: Path) -> set[str]:
    """The dmabuf_mc modules `path` imports, at any depth of the file (functions included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.split(".")[0] in ("dmabuf_mc", "model", "checker", "properties")}


def test_every_module_imports_only_its_own_layer_and_below():
    violations = []
    paths = [(root, path) for root in ROOTS for path in sorted(ROOTS[root].rglob("*.py"))]
    assert len(paths) > 40, "the layer roots moved: update ROOTS"
    for root, path in paths:
        where = path.relative_to(REPO)
        for name in _imports(path):
            top = name.split(".")
            if top[0] != "dmabuf_mc":
                violations.append(f"{where} imports top-level {name!r}")
            elif len(top) > 1 and top[1] in LAYERS and LAYERS[top[1]] > LAYERS[root]:
                violations.append(f"{where} ({root}) imports {name}")
    assert not violations, "\n".join(violations)


def test_the_design_layout_is_the_repository_layout():
    """The design fixes the top level (model/, properties/, checker/); installed, they are
    dmabuf_mc.model, dmabuf_mc.properties and dmabuf_mc.checker."""
    import dmabuf_mc.checker
    import dmabuf_mc.model
    import dmabuf_mc.properties

    for name, module in (("checker", dmabuf_mc.checker), ("model", dmabuf_mc.model),
                         ("properties", dmabuf_mc.properties)):
        assert Path(module.__file__).parent == REPO / name


def test_a_layer_violation_is_caught(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from dmabuf_mc.model.state import DmabufState\n")
    assert _imports(bad) == {"dmabuf_mc.model.state"}


def test_a_project_with_its_own_model_package_keeps_it(tmp_path):
    """The distribution claims only `dmabuf_mc`: a user's own `model` package still wins."""
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "__init__.py").write_text("OWNER = 'the user'\n")
    script = ("import dmabuf_mc.app.cli, dmabuf_mc.model.state, model\n"
              "print(model.OWNER, dmabuf_mc.model.state.__name__)\n")
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["the", "user", "dmabuf_mc.model.state"]


def test_version_and_python_dash_m():
    out = subprocess.run([sys.executable, "-m", "dmabuf_mc", "--version"], capture_output=True, text=True, check=True)
    from dmabuf_mc.checker.artefact import tool_version

    assert out.stdout.strip() == f"dmabuf-mc {tool_version()}"
