"""Reading the spec files: every case of every `specs/*.yaml`, products named from the catalogue.

An error names the file, the case and the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from evals.cases.curated.builder.spec import CaseSpec, SpecError

CATALOG = "_catalog.yaml"


def load_catalog(folder: Path) -> dict[str, dict[str, Any]]:
    """The products every case may name by code alone (one listing, one id, in every case)."""
    path = folder / CATALOG
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {code: {"code": code, **values} for code, values in (data.get("products") or {}).items()}


def _resolve_products(raw: dict[str, Any], catalog: dict[str, dict[str, Any]], where: str) -> None:
    products = raw.get("products") or []
    for i, item in enumerate(products):
        if isinstance(item, str):
            if item not in catalog:
                raise SpecError(f"{where}: products[{i}]: {item!r} is not in {CATALOG}")
            products[i] = catalog[item]


def load_specs(folder: Path) -> list[CaseSpec]:
    """Every case of every ``*.yaml`` file in `folder` (but `_catalog.yaml`), validated; ids unique.

    A case may name a product of `_catalog.yaml` by its code alone."""
    specs: list[CaseSpec] = []
    seen: dict[str, str] = {}
    catalog = load_catalog(folder)
    for path in sorted(p for p in folder.glob("*.yaml") if not p.name.startswith("_")):
        try:
            documents = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        except yaml.YAMLError as exc:
            raise SpecError(f"{path}: not valid YAML: {exc}") from None
        if not isinstance(documents, list):
            raise SpecError(f"{path}: a spec file is a YAML list of cases")
        for index, raw in enumerate(documents):
            label = raw.get("id", f"#{index}") if isinstance(raw, dict) else f"#{index}"
            if isinstance(raw, dict):
                _resolve_products(raw, catalog, f"{path}: case {label}")
            try:
                spec = CaseSpec.model_validate(raw)
            except ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
                )
                raise SpecError(f"{path}: case {label}: {problems}") from None
            if spec.id in seen:
                raise SpecError(f"{path}: case id {spec.id} already used in {seen[spec.id]}")
            seen[spec.id] = str(path)
            specs.append(spec)
    return specs
