"""Fixtures of the offline operations tests: the rendered overlays and CRD schemas."""
import pytest

from tests.unit.ops.manifests import K8S, OVERLAYS, kustomize_binary, load_crd_schemas, render


@pytest.fixture(scope="session")
def kustomize():
    """The kustomize binary (built into $SOLAS_HOME/bin on first use)."""
    return kustomize_binary()


@pytest.fixture(scope="session")
def rendered(kustomize):
    """``kustomize build`` of every overlay: {overlay name: [documents]}."""
    return {name: render(K8S / "overlays" / name, kustomize) for name in OVERLAYS}


@pytest.fixture(scope="session")
def crd_schemas():
    """JSON Schemas of the custom resources, from k8s/crds."""
    return load_crd_schemas()
