"""Builds strict JSON schemas for kubeconform, offline, from pinned sources:
the Kubernetes OpenAPI (api/openapi-spec/swagger.json in the k8s.io/kubernetes
module) and the upstream CRDs (Istio, Prometheus Operator, ShopMesh's own).

The CRD conversion is kubeconform's own scripts/openapi2jsonschema.py, loaded from
the pinned kubeconform module; the built-in kinds reuse its two transforms
(additionalProperties: false, int-or-string) on standalone per-kind documents.
Written by hand because kubeconform's usual source of built-in schemas is a
download, and this machine (like CI) must work offline.

Usage: build_schemas.py OUT_DIR SWAGGER_JSON OPENAPI2JSONSCHEMA_PY CRD_FILE...
Files are named <kind>-<group or version>-<version>.json, the template
validate.sh passes to kubeconform. Used by ci/validate/validate.sh.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml


def load_converter(path: str) -> Any:
    spec = importlib.util.spec_from_file_location("openapi2jsonschema", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_builtin(out: Path, swagger_path: str, converter: Any) -> int:
    swagger = json.loads(Path(swagger_path).read_text())
    definitions = swagger["definitions"]
    # A quantity is written as "100m" or as a bare number.
    quantity = "io.k8s.apimachinery.pkg.api.resource.Quantity"
    definitions[quantity] = {"oneOf": [{"type": "string"}, {"type": "number"}]}
    definitions = converter.replace_int_or_string(definitions)
    definitions = converter.additional_properties(definitions)
    count = 0
    for schema in definitions.values():
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            group = gvk["group"] or gvk["version"]
            doc = copy.deepcopy(schema)
            doc["definitions"] = definitions
            target = out / f"{gvk['kind'].lower()}-{group}-{gvk['version']}.json"
            target.write_text(json.dumps(doc))
            count += 1
    return count


def with_envelope(crd_file: str, out: Path) -> Path:
    """The CRD with apiVersion, kind and metadata in its schema, as the API server
    allows them on every custom resource even when the schema leaves them out."""
    docs = [d for d in yaml.safe_load_all(Path(crd_file).read_text()) if d]
    for doc in docs:
        for version in doc.get("spec", {}).get("versions", []):
            schema = version.get("schema", {}).get("openAPIV3Schema")
            if schema is None:
                continue
            props = schema.setdefault("properties", {})
            props.setdefault("apiVersion", {"type": "string"})
            props.setdefault("kind", {"type": "string"})
            props["metadata"] = {"type": "object"}  # the API server validates metadata
    target = out / f"_{Path(crd_file).name}"
    target.write_text(yaml.safe_dump_all(docs))
    return target


def build_crds(out: Path, converter_path: str, crd_files: list[str]) -> None:
    env = {
        **os.environ,
        "FILENAME_FORMAT": "{kind}-{fullgroup}-{version}",
        "DENY_ROOT_ADDITIONAL_PROPERTIES": "1",
    }
    patched = [with_envelope(f, out) for f in crd_files]
    subprocess.run(
        [sys.executable, converter_path, *[str(p) for p in patched]],
        cwd=out,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    for path in patched:
        path.unlink()


def main() -> int:
    out, swagger, converter_path, *crds = sys.argv[1:]
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    converter = load_converter(converter_path)
    count = build_builtin(out_dir, swagger, converter)
    build_crds(out_dir, converter_path, crds)
    print(
        f"{count} built-in and {len(list(out_dir.glob('*.json'))) - count} CRD schemas in {out_dir}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
