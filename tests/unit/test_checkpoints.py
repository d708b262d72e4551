"""Shared checkpoints: every committed one reproduces its recorded metric; save/load round trip; clear errors."""

import json

import pytest
import torch

import genai_foundations
from genai_foundations import checkpoints
from genai_foundations.architectures.classifiers import DigitsClassifier
from genai_foundations.checkpoints import (
    CHECKPOINT_DIR, MAX_FILE_BYTES, REGISTRY, CheckpointError, checkpoint_info, known_checkpoints, load_checkpoint,
    measure, save_checkpoint,
)


def test_registry_and_committed_files_agree():
    """Every registered checkpoint is committed, and every committed file is registered."""
    committed = {p.stem for p in CHECKPOINT_DIR.glob("*.json")}
    weights = {p.name.removesuffix(".safetensors") for p in CHECKPOINT_DIR.glob("*.safetensors")}
    assert committed == set(REGISTRY), "run `make checkpoints` (registry and committed files differ)"
    assert weights == set(REGISTRY)
    assert "digits-classifier" in REGISTRY


def test_committed_checkpoints_are_small():
    sizes = {p.name: p.stat().st_size for p in CHECKPOINT_DIR.glob("*.safetensors")}
    assert all(size <= MAX_FILE_BYTES for size in sizes.values()), sizes
    assert sum(sizes.values()) <= 50 * 2**20, "shared checkpoints stay within tens of MB in all"


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_committed_checkpoint_reproduces_its_recorded_metric(name):
    info = checkpoint_info(name)
    assert info["seed"] is not None and info["command"] and info["package_version"]
    assert set(info["metric"]) == set(REGISTRY[name].tolerance)
    for key, (recorded, measured, tolerance) in measure(name).items():
        assert abs(recorded - measured) <= tolerance, f"{name}: {key} recorded {recorded}, measured {measured}"


def test_digits_classifier_is_the_one_the_chapters_need():
    model = load_checkpoint("digits-classifier")
    assert isinstance(model, DigitsClassifier) and not model.training
    assert checkpoint_info("digits-classifier")["metric"]["test_accuracy"] >= 0.95
    assert model.features(torch.zeros(2, 1, 8, 8)).shape == (2, 64)


def _small_model(seed: int = 0) -> DigitsClassifier:
    torch.manual_seed(seed)
    return DigitsClassifier(num_classes=3, feature_dim=8)


def test_save_load_round_trip(tmp_path):
    model = _small_model()
    config = {"model_kwargs": {"num_classes": 3, "feature_dim": 8}, "seed": 7,
              "training": {"function": "none", "kwargs": {"steps": 0}}}
    info = save_checkpoint("tiny", model, {"accuracy": 0.5}, config, folder=tmp_path, description="a test")
    assert (tmp_path / "tiny.safetensors").exists() and (tmp_path / "tiny.json").exists()
    stored = json.loads((tmp_path / "tiny.json").read_text())
    assert stored == info
    assert stored["seed"] == 7 and stored["metric"] == {"accuracy": 0.5}
    assert stored["package_version"] == genai_foundations.__version__ and stored["command"] == "make checkpoints"
    assert stored["model_class"] == "genai_foundations.architectures.classifiers.DigitsClassifier"
    assert stored["parameters"] == sum(p.numel() for p in model.state_dict().values())

    loaded = load_checkpoint("tiny", folder=tmp_path)
    assert type(loaded) is DigitsClassifier and not loaded.training
    for (k1, v1), (k2, v2) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k1 == k2 and torch.equal(v1, v2)
    x = torch.randn(4, 1, 8, 8)
    model.eval()
    torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)
    assert known_checkpoints(tmp_path) == ["tiny"]


def test_loading_never_unpickles(tmp_path, monkeypatch):
    save_checkpoint("tiny", _small_model(), {"accuracy": 0.5}, {"model_kwargs": {"num_classes": 3, "feature_dim": 8},
                                                                  "seed": 0}, folder=tmp_path)

    def no_pickle(*args, **kwargs):
        raise AssertionError("torch.load (pickle) must not be used")

    monkeypatch.setattr(torch, "load", no_pickle)
    load_checkpoint("tiny", folder=tmp_path)
    with open(tmp_path / "tiny.safetensors", "rb") as f:
        header_length = int.from_bytes(f.read(8), "little")
        assert json.loads(f.read(header_length))["__metadata__"]["name"] == "tiny"


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown checkpoint 'no-such-model'.*digits-classifier"):
        load_checkpoint("no-such-model")
    first = sorted(checkpoints.REGISTRY)[0]
    with pytest.raises(ValueError, match=f"registered checkpoints: {first}, .*digits-classifier"):
        checkpoints.spec("no-such-model")


@pytest.mark.parametrize("name", ["../etc/passwd", "Digits", "", "a b"])
def test_bad_names_are_refused(name):
    with pytest.raises(ValueError, match="checkpoint name"):
        load_checkpoint(name)


def test_registered_but_missing_files_say_how_to_regenerate(monkeypatch, tmp_path):
    monkeypatch.setattr(checkpoints, "CHECKPOINT_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="make checkpoints"):
        load_checkpoint("digits-classifier")


def test_changed_weights_file_is_detected(tmp_path):
    config = {"model_kwargs": {"num_classes": 3, "feature_dim": 8}, "seed": 0}
    save_checkpoint("tiny", _small_model(0), {"accuracy": 0.5}, config, folder=tmp_path)
    record = (tmp_path / "tiny.json").read_text()
    save_checkpoint("tiny", _small_model(1), {"accuracy": 0.5}, config, folder=tmp_path)  # other weights ...
    (tmp_path / "tiny.json").write_text(record)                                             # ... under the old record
    with pytest.raises(CheckpointError, match="other weights.*sha256"):
        load_checkpoint("tiny", folder=tmp_path)
    (tmp_path / "tiny.safetensors").write_text("version https://git-lfs.github.com/spec/v1\noid sha256:0\n")
    with pytest.raises(CheckpointError, match="Git LFS pointer"):
        load_checkpoint("tiny", folder=tmp_path)


def test_fingerprint_ignores_header_order_and_sees_every_bit():
    a = {"w": torch.arange(6.0).reshape(2, 3), "b": torch.zeros(3, dtype=torch.bfloat16)}
    b = {"b": a["b"].clone(), "w": a["w"].clone()}
    assert checkpoints.tensors_sha256(a) == checkpoints.tensors_sha256(b)
    b["w"][1, 2] = torch.nextafter(b["w"][1, 2], torch.tensor(10.0))
    assert checkpoints.tensors_sha256(a) != checkpoints.tensors_sha256(b)
    assert checkpoints.tensors_sha256({"w": a["w"]}) != checkpoints.tensors_sha256({"w": a["w"].reshape(3, 2)})


def test_a_record_that_does_not_fit_the_weights_is_an_error(tmp_path):
    save_checkpoint("tiny", _small_model(), {"accuracy": 0.5},
                    {"model_kwargs": {"num_classes": 3, "feature_dim": 8}, "seed": 0}, folder=tmp_path)
    record = json.loads((tmp_path / "tiny.json").read_text())
    record["model_kwargs"]["feature_dim"] = 16
    (tmp_path / "tiny.json").write_text(json.dumps(record))
    with pytest.raises(CheckpointError, match="does not fit"):
        load_checkpoint("tiny", folder=tmp_path)


def test_only_package_classes_are_imported(tmp_path):
    save_checkpoint("tiny", _small_model(), {"accuracy": 0.5},
                    {"model_kwargs": {"num_classes": 3, "feature_dim": 8}, "seed": 0}, folder=tmp_path)
    record = json.loads((tmp_path / "tiny.json").read_text())
    record["model_class"] = "os.system"
    (tmp_path / "tiny.json").write_text(json.dumps(record))
    with pytest.raises(CheckpointError, match="not in the genai_foundations package"):
        load_checkpoint("tiny", folder=tmp_path)
    with pytest.raises(ValueError, match="only models defined in the genai_foundations package"):
        save_checkpoint("plain", torch.nn.Linear(2, 2), {"a": 1.0}, {"model_kwargs": {}, "seed": 0}, folder=tmp_path)


@pytest.mark.parametrize("metric, config, message", [
    ({}, {"model_kwargs": {}, "seed": 0}, "non-empty"),
    ({"acc": float("nan")}, {"model_kwargs": {}, "seed": 0}, "finite"),
    ({"acc": 0.5}, {"seed": 0}, "model_kwargs"),
    ({"acc": 0.5}, {"model_kwargs": {"f": object()}, "seed": 0}, "JSON"),
])
def test_save_validates_its_arguments(tmp_path, metric, config, message):
    with pytest.raises(ValueError, match=message):
        save_checkpoint("tiny", _small_model(), metric, config, folder=tmp_path)


def test_load_to_a_device_argument():
    model = load_checkpoint("digits-classifier", device=torch.device("cpu"))
    assert all(p.device.type == "cpu" for p in model.parameters())


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_checkpoint_on_gpu_reproduces_its_accuracy():
    recorded, measured, _ = measure("digits-classifier", "cuda")["test_accuracy"]
    assert abs(recorded - measured) <= 1 / 360 + 1e-9  # at most one borderline image may flip on another device
