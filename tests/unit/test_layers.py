"""The layer table of docs/ARCHITECTURE.md is the law: a module imports only from its own layer
or the layers above it in the table (issue 12 §9). Every ``import cardkit…`` of every module —
at the top or inside a function — is checked against the table as written in the docs."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "cardkit"


def _layers() -> list[str]:
    """The table's first column, in order: ``cardkit/errors.py`` → ``cardkit.errors`` …"""
    text = (REPO / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    section = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(cardkit/[\w/]+?)(?:\.py|/)` \|", section, flags=re.MULTILINE)
    assert rows, "no layer table found in docs/ARCHITECTURE.md"
    return [row.replace("/", ".") for row in rows]


LAYERS = _layers()


def _layer_of(module: str) -> int | None:
    best: int | None = None
    for index, prefix in enumerate(LAYERS):
        if module == prefix or module.startswith(prefix + "."):
            best = index
    return best


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("cardkit.")]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.startswith("cardkit."):
                found.append((node.lineno, node.module))
            elif node.module == "cardkit":
                found += [(node.lineno, f"cardkit.{a.name}") for a in node.names]
    return found


def test_the_table_covers_every_module() -> None:
    unplaced = [
        _module_name(p)
        for p in sorted(PACKAGE.rglob("*.py"))
        if p != PACKAGE / "__init__.py" and _layer_of(_module_name(p)) is None
    ]
    assert not unplaced, f"modules in no layer of docs/ARCHITECTURE.md: {unplaced}"


def test_no_module_imports_a_layer_below_its_own() -> None:
    violations = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "__init__.py":  # the public API re-exports every layer, lazily
            continue
        module = _module_name(path)
        own = _layer_of(module)
        assert own is not None
        for line, target in _imports(path):
            layer = _layer_of(target)
            if layer is not None and layer > own:
                violations.append(f"{module}:{line} imports {target} ({LAYERS[layer]})")
    assert not violations, "imports against the layer table:\n" + "\n".join(violations)
