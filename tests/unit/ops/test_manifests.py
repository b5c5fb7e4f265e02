"""The kustomize overlays render, and every manifest is valid: core kinds against the
Kubernetes OpenAPI schemas, custom resources against the CRDs kept in k8s/crds."""
import copy

import kubernetes_validate
import pytest
import yaml

from tests.unit.ops.manifests import (K8S, KUBERNETES_VERSION, OVERLAYS, ManifestError,
                                      describe, is_core, render, validate_manifest)

CUSTOM_KINDS = {"Kafka", "KafkaNodePool", "KafkaTopic", "MariaDB", "PodMonitor",
                "PrometheusRule", "ScaledObject"}


def find(docs, kind, name=None):
    """The one document of ``kind`` (and ``name``) in ``docs``."""
    found = [d for d in docs if d["kind"] == kind
             and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, (kind, name, len(found))
    return copy.deepcopy(found[0])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_manifest_is_valid(overlay, rendered, crd_schemas):
    docs = rendered[overlay]
    assert {d["kind"] for d in docs} >= CUSTOM_KINDS | {"Deployment", "StatefulSet",
                                                        "Service", "Ingress", "ConfigMap",
                                                        "Job", "Namespace"}
    for doc in docs:
        validate_manifest(doc, crd_schemas)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_everything_lands_in_the_overlay_namespace(overlay, rendered):
    docs = rendered[overlay]
    namespace = find(docs, "Namespace")["metadata"]["name"]
    for doc in docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == namespace, describe(doc)
    assert len({describe(d) for d in docs}) == len(docs)


def test_crd_files_are_valid_custom_resource_definitions(crd_schemas):
    for path in sorted((K8S / "crds").glob("*.yaml")):
        kubernetes_validate.validate(yaml.safe_load(path.read_text()), KUBERNETES_VERSION,
                                     strict=True)
    assert {kind for _, kind in crd_schemas} == CUSTOM_KINDS


def test_core_validator_catches_a_broken_deployment(rendered, crd_schemas):
    deployment = find(rendered["dev"], "Deployment", "solas-ingest")
    validate_manifest(deployment, crd_schemas)
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(ManifestError, match=r"Deployment/solas-ingest: spec/replicas"):
        validate_manifest(deployment, crd_schemas)
    misspelt = find(rendered["dev"], "Deployment", "solas-ingest")
    misspelt["spec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = "Always"
    with pytest.raises(ManifestError, match="imagePullPolcy"):
        validate_manifest(misspelt, crd_schemas)


@pytest.mark.parametrize("kind, name, breakage, message", [
    ("KafkaNodePool", "brokers", lambda d: d["spec"].pop("roles"), "'roles' is a required"),
    ("KafkaNodePool", "brokers", lambda d: d["spec"].update(roles=["leader"]), "'leader'"),
    ("Kafka", "solas", lambda d: d["spec"]["kafka"]["listeners"][0].pop("tls"), "'tls'"),
    ("KafkaTopic", "ingested", lambda d: d["spec"].update(partitions=0), "minimum"),
    ("ScaledObject", "solas-ingest",
     lambda d: d["spec"]["triggers"][0]["metadata"].update(lagThreshold=5000), "string"),
    ("ScaledObject", "solas-ingest", lambda d: d["spec"].pop("scaleTargetRef"),
     "'scaleTargetRef' is a required"),
    ("PodMonitor", "solas-workers",
     lambda d: d["spec"].update(podMetricEndpoints=d["spec"].pop("podMetricsEndpoints")),
     "podMetricEndpoints"),
    ("MariaDB", "solas-mariadb", lambda d: d["spec"]["galera"].update(sst="xtrabackup"),
     "xtrabackup"),
    ("PrometheusRule", "solas", lambda d: d["spec"]["groups"][0]["rules"][0].pop("expr"),
     "'expr' is a required"),
    ("MariaDB", "solas-mariadb", lambda d: d["metadata"]["labels"].update(tier=1),
     "metadata/labels/tier"),
])
def test_crd_validator_catches_broken_custom_resources(kind, name, breakage, message,
                                                       rendered, crd_schemas):
    doc = find(rendered["production"], kind, name)
    validate_manifest(doc, crd_schemas)
    breakage(doc)
    with pytest.raises(ManifestError, match=message):
        validate_manifest(doc, crd_schemas)


def test_unknown_custom_resource_is_refused(crd_schemas):
    doc = {"apiVersion": "example.org/v1", "kind": "Widget", "metadata": {"name": "w"}}
    assert not is_core(doc["apiVersion"])
    with pytest.raises(ManifestError, match="no CRD schema"):
        validate_manifest(doc, crd_schemas)


def test_broken_kustomization_does_not_render(tmp_path, kustomize):
    (tmp_path / "kustomization.yaml").write_text("resources:\n  - missing.yaml\n")
    with pytest.raises(ManifestError, match="kustomize build"):
        render(tmp_path, kustomize)
