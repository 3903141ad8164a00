"""Rules with one home: the expected field strength is one setting, the file store one per app, and a
study registered for another patient is the same conflict through JSON registration and upload."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from types import ModuleType

import pytest
from fastapi.testclient import TestClient

import grading
import registry
from api.app import create_app
from grading.errors import GradingError
from grading.field_strength import DEFAULT_FIELD_STRENGTH_T
from registry.errors import AlreadyExists, RegistryError, StudyOfAnotherPatient
from registry.imaging.store import FileStore, StoreError
from registry.settings import Settings
from tests.api.helpers import study_body
from tests.conftest import TokenFactory
from tests.imaging_support import SAMPLE_STUDIES, ground_truth


def sample_parts(index: int) -> list[tuple[str, tuple[str, bytes, str]]]:
    files = sorted(SAMPLE_STUDIES[index].rglob("*.dcm"))
    return [("files", (f.name, f.read_bytes(), "application/dicom")) for f in files]


def test_the_expected_field_strength_is_one_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODIC_EXPECTED_FIELD_STRENGTH_T", raising=False)
    assert Settings().expected_field_strength_t == DEFAULT_FIELD_STRENGTH_T == 0.2
    monkeypatch.setenv("MODIC_EXPECTED_FIELD_STRENGTH_T", "1.5")
    assert Settings().expected_field_strength_t == 1.5


def test_an_upload_is_checked_against_the_setting(settings: Settings, auth: TokenFactory) -> None:
    """The 0.2 T sample study, uploaded to a site that expects 1.5 T, is warned about; its files are in
    the app's one file store, under the configured data directory."""
    headers = auth("admin")  # a user of the same database
    app = create_app(settings.model_copy(update={"expected_field_strength_t": 1.5}))
    with TestClient(app) as client:
        response = client.post("/api/v1/studies", files=sample_parts(0), headers=headers)
    assert response.status_code == 201, response.text
    assert any("differs from the expected 1.5 T" in w for w in response.json()["warnings"])
    store = app.state.store
    assert isinstance(store, FileStore) and store.root == settings.data_dir
    assert any(store.root.rglob("*.dcm"))


def test_a_study_of_another_patient_is_409_through_registration_and_upload(
    client: TestClient, auth: TokenFactory
) -> None:
    headers = auth("admin")
    uid = ground_truth(SAMPLE_STUDIES[3])["study_instance_uid"]
    registered = client.post("/api/v1/studies", json=study_body(uid=uid, patient_id="OTHER"), headers=headers)
    assert registered.status_code == 201
    again = client.post("/api/v1/studies", json=study_body(uid=uid, patient_id="ANOTHER"), headers=headers)
    uploaded = client.post("/api/v1/studies", files=sample_parts(3), headers=headers)
    for response in (again, uploaded):
        assert response.status_code == 409, response.text
        assert "already registered for another patient" in response.json()["detail"]
        assert response.json()["existing_id"] == registered.json()["id"]


@pytest.mark.parametrize(("package", "family"), [(grading, GradingError), (registry, RegistryError)])
def test_one_exception_family_per_layer(package: ModuleType, family: type[Exception]) -> None:
    """Every public exception a layer defines belongs to the layer's family (docs/architecture.md#errors)."""
    outside = []
    for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
        if ".migrations" in info.name:
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            public_error = isinstance(value, type) and issubclass(value, BaseException) and not name.startswith("_")
            if public_error and value.__module__ == module.__name__ and not issubclass(value, family):
                outside.append(f"{module.__name__}.{name}")
    assert not outside, f"not part of {family.__name__}: {outside}"


def test_store_error_is_a_registry_error(tmp_path: Path) -> None:
    assert issubclass(StudyOfAnotherPatient, AlreadyExists)
    with pytest.raises(StoreError, match=r"'\.\./x' is not a valid UID"):
        FileStore(tmp_path).path_for("../x")
