"""Render the kustomize overlays of ``k8s/`` and validate every manifest offline.

* ``kustomize`` is the real binary, built once with the Go toolchain into
  ``$SOLAS_HOME/bin`` (the command is :data:`KUSTOMIZE_INSTALL`).
* Core kinds are validated with ``kubernetes-validate`` against its bundled OpenAPI
  schemas of Kubernetes :data:`KUBERNETES_VERSION`, in strict mode (unknown fields fail).
* Custom resources are validated with ``jsonschema`` against the ``openAPIV3Schema`` of
  the CRDs kept in ``k8s/crds``, read the way the API server reads them with strict field
  validation: an object schema with ``properties`` accepts no other field unless it says
  ``x-kubernetes-preserve-unknown-fields`` or gives ``additionalProperties``.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Iterable

import jsonschema
import kubernetes_validate
import yaml

from solas.settings import get_settings

REPO = Path(__file__).resolve().parents[3]
K8S = REPO / "k8s"
OVERLAYS = ("dev", "production")
KUSTOMIZE_MODULE = "sigs.k8s.io/kustomize/kustomize/v5@v5.5.0"
#: How the Makefile installs kustomize (GOBIN is an absolute path).
KUSTOMIZE_INSTALL = f"GOBIN=$SOLAS_HOME/bin go install {KUSTOMIZE_MODULE}"
KUBERNETES_VERSION = "1.32"
#: DNS-1123 subdomain, the rule for the names of most objects.
NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
METADATA_SCHEMA = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "maxLength": 253, "pattern": NAME_PATTERN},
        "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "additionalProperties": False,
}
#: OpenAPI keys that are not JSON Schema validation keywords.
OPENAPI_ONLY = ("description", "default", "format", "nullable", "example")


class ManifestError(ValueError):
    """A manifest is invalid, or an overlay does not render."""


def kustomize_binary(bin_dir: Path | None = None) -> Path:
    """The kustomize binary in ``bin_dir`` (default ``$SOLAS_HOME/bin``), built with
    ``go install`` the first time (a minute or two; later builds hit Go's cache)."""
    bin_dir = (bin_dir or get_settings().home / "bin").resolve()
    exe = bin_dir / "kustomize"
    if exe.is_file():
        return exe
    go = shutil.which("go")
    if go is None:
        raise ManifestError(f"kustomize is not in {bin_dir} and Go is not installed to "
                            f"build it: {KUSTOMIZE_INSTALL}")
    bin_dir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([go, "install", KUSTOMIZE_MODULE], capture_output=True, text=True,
                          env={**os.environ, "GOBIN": str(bin_dir)})
    if done.returncode != 0 or not exe.is_file():
        raise ManifestError(f"{KUSTOMIZE_INSTALL} failed:\n{done.stderr}")
    return exe


def render(kustomization: Path, kustomize: Path | None = None) -> list[dict]:
    """The documents ``kustomize build`` makes of the folder ``kustomization``."""
    exe = kustomize or kustomize_binary()
    done = subprocess.run([str(exe), "build", str(kustomization)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise ManifestError(f"kustomize build {kustomization} failed:\n{done.stderr}")
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def describe(doc: dict) -> str:
    """``Kind/name`` of a manifest, for messages."""
    return f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"


def is_core(api_version: str) -> bool:
    """True for the built-in API groups of Kubernetes (core, apps, *.k8s.io...)."""
    group = api_version.rpartition("/")[0]
    return "." not in group or group.endswith(".k8s.io")


def to_json_schema(node: dict) -> dict:
    """A JSON Schema of an ``openAPIV3Schema`` node, closed to unknown fields."""
    schema = {key: value for key, value in node.items()
              if key not in OPENAPI_ONLY and not key.startswith("x-kubernetes-")}
    if node.get("x-kubernetes-int-or-string") and "anyOf" not in node:
        schema["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") and "type" in node:
        schema["type"] = [node["type"], "null"]
    if "properties" in node:
        schema["properties"] = {k: to_json_schema(v) for k, v in node["properties"].items()}
        if "additionalProperties" not in node \
                and not node.get("x-kubernetes-preserve-unknown-fields"):
            schema["additionalProperties"] = False
    if isinstance(node.get("additionalProperties"), dict):
        schema["additionalProperties"] = to_json_schema(node["additionalProperties"])
    if isinstance(node.get("items"), dict):
        schema["items"] = to_json_schema(node["items"])
    for key in ("anyOf", "allOf", "oneOf"):
        if key in node:
            schema[key] = [to_json_schema(item) for item in node[key]]
    return schema


def load_crd_schemas(folder: Path = K8S / "crds") -> dict[tuple[str, str], dict]:
    """JSON Schema of every served version of every CRD in ``folder``, keyed by
    (apiVersion, kind)."""
    schemas = {}
    for path in sorted(folder.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        if crd.get("kind") != "CustomResourceDefinition":
            raise ManifestError(f"{path}: not a CustomResourceDefinition")
        spec = crd["spec"]
        for version in spec["versions"]:
            if not version.get("served"):
                continue
            schema = to_json_schema(version["schema"]["openAPIV3Schema"])
            schema["properties"]["metadata"] = METADATA_SCHEMA
            key = (f"{spec['group']}/{version['name']}", spec["names"]["kind"])
            schemas[key] = schema
    return schemas


def _where(path: Iterable) -> str:
    return "/".join(str(part) for part in path) or "(top level)"


def validate_manifest(doc: dict, crd_schemas: dict[tuple[str, str], dict]) -> None:
    """Raise ManifestError naming the manifest and the field if ``doc`` is invalid."""
    api_version, kind = doc.get("apiVersion", ""), doc.get("kind", "")
    if is_core(api_version):
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            raise ManifestError(f"{describe(doc)}: {_where(exc.path)}: {exc.message}") from exc
        except kubernetes_validate.SchemaNotFoundError as exc:
            raise ManifestError(f"{describe(doc)}: {exc.message}") from exc
        return
    schema = crd_schemas.get((api_version, kind))
    if schema is None:
        raise ManifestError(f"{describe(doc)}: no CRD schema for {api_version} {kind} "
                            f"in k8s/crds")
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(schema).iter_errors(doc))
    if error is not None:
        raise ManifestError(f"{describe(doc)}: {_where(error.absolute_path)}: "
                            f"{error.message}")
