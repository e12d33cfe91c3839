"""The shape the package promises: every route's 200 body is described in OpenAPI (and its
errors as problem+json), and no module reaches into another module's private names."""

from __future__ import annotations

import ast
from pathlib import Path

import {{ cookiecutter.package_name }}

PACKAGE = Path({{ cookiecutter.package_name }}.__file__).parent


def test_every_route_describes_its_200_body_and_its_problems(app):
    paths = app.openapi()["paths"]
    routes = [(path, method, op) for path, ops in paths.items() if path.startswith("/v1")
              for method, op in ops.items()]  # fmt: skip
    assert len(routes) >= 5
    for path, method, operation in routes:
        content = operation["responses"]["200"]["content"]
        schemas = [media["schema"] for media in content.values()]
        assert schemas and all(schemas), (method, path, content)
        for status in ("400", "403", "422"):
            problem = operation["responses"][status]["content"]["application/problem+json"]
            assert problem["schema"] == {"$ref": "#/components/schemas/Problem"}, (path, status)


def test_no_module_imports_another_modules_private_names():
    offenders = []
    for file in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level > 0:
                private = [alias.name for alias in node.names if alias.name.startswith("_")]
                offenders += [f"{file.relative_to(PACKAGE)}: {name}" for name in private]
    assert offenders == []
