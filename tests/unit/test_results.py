"""Recorded results (genai_foundations.results): the schema, round trip, replace-by-name, validation errors."""

import json

import pytest
import torch

from genai_foundations import results
from genai_foundations.results import RESULTS_ENV_VAR, SCHEMA_VERSION, load_results, record_result, results_dir

ENTRY_KEYS = {"name", "value", "unit", "target", "target_kind", "baseline", "baseline_name", "mode", "machine",
              "recorded_at", "meets_target"}


def test_round_trip(tmp_path):
    entry = record_result("ddpm", "Frechet ratio, DDIM 50 steps", 1.42, "ratio", quick=False, target=2.0,
                          target_kind="at most", baseline=0.8, baseline_name="real vs real", folder=tmp_path)
    file = tmp_path / "ddpm.results.json"
    data = load_results(file)
    assert data["schema_version"] == SCHEMA_VERSION == 1 and data["chapter"] == "ddpm"
    assert data["results"] == [entry]
    assert set(entry) == ENTRY_KEYS
    assert entry["value"] == 1.42 and entry["unit"] == "ratio" and entry["mode"] == "full"
    assert entry["target"] == 2.0 and entry["target_kind"] == "at most" and entry["meets_target"] is True
    assert entry["baseline"] == 0.8 and entry["baseline_name"] == "real vs real"
    assert set(entry["machine"]) == {"cpu", "cores", "gpu", "torch", "device"} and entry["machine"]["gpu"] is None
    assert json.loads(file.read_text(encoding="utf-8")) == data  # plain JSON, nothing else in the file


def test_replace_by_name_keeps_other_entries(tmp_path):
    record_result("flows", "bits/dim", 3.0, "bits/dim", quick=True, folder=tmp_path)
    record_result("flows", "test NLL", 1.2, "nats", quick=True, folder=tmp_path)
    record_result("flows", "bits/dim", 2.5, "bits/dim", quick=True, folder=tmp_path)
    entries = load_results(tmp_path / "flows.results.json")["results"]
    assert [e["name"] for e in entries] == ["test NLL", "bits/dim"]
    assert entries[1]["value"] == 2.5 and entries[0]["value"] == 1.2


def test_a_full_run_drops_the_stale_quick_entries(tmp_path):
    """A name recorded only in QUICK mode must not survive into a full build's page (and vice versa)."""
    record_result("ddpm", "DDIM 10 steps", 70.0, "x", quick=True, folder=tmp_path)
    record_result("ddpm", "shared", 1.0, "x", quick=True, folder=tmp_path)
    record_result("ddpm", "DDIM 50 steps", 2.1, "x", quick=False, folder=tmp_path)
    record_result("ddpm", "shared", 0.5, "x", quick=False, folder=tmp_path)
    entries = load_results(tmp_path / "ddpm.results.json")["results"]
    assert [(e["name"], e["mode"]) for e in entries] == [("DDIM 50 steps", "full"), ("shared", "full")]
    record_result("ddpm", "DDIM 10 steps", 71.0, "x", quick=True, folder=tmp_path)
    entries = load_results(tmp_path / "ddpm.results.json")["results"]
    assert [(e["name"], e["mode"]) for e in entries] == [("DDIM 10 steps", "QUICK")]


def test_chapters_get_separate_files(tmp_path):
    record_result("ddpm", "a", 1, "x", quick=True, folder=tmp_path)
    record_result("unet", "a", 2, "x", quick=True, folder=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ddpm.results.json", "unet.results.json"]


@pytest.mark.parametrize("value, kind, target, meets", [
    (0.9, "at least", 0.8, True), (0.7, "at least", 0.8, False), (0.8, "at least", 0.8, True),
    (2.0, "at most", 2.0, True), (2.1, "at most", 2.0, False), (1.0, None, None, None),
])
def test_meets_target(tmp_path, value, kind, target, meets):
    entry = record_result("mlp", "accuracy", value, "fraction", quick=True, target=target, target_kind=kind,
                          folder=tmp_path)
    assert entry["meets_target"] is meets


def test_tensor_and_integer_values_become_floats(tmp_path):
    entry = record_result("losses", "loss", torch.tensor(0.25), "nats", quick=True, folder=tmp_path)
    assert entry["value"] == 0.25 and isinstance(entry["value"], float)
    assert record_result("losses", "count", 3, "images", quick=True, folder=tmp_path)["value"] == 3.0


@pytest.mark.parametrize("kwargs, error, message", [
    ({"chapter": ""}, ValueError, "slug"),
    ({"chapter": "book/ddpm"}, ValueError, "slug"),
    ({"chapter": ".hidden"}, ValueError, "slug"),
    ({"name": ""}, ValueError, "name"),
    ({"value": float("nan")}, ValueError, "NaN"),
    ({"value": "1.0"}, TypeError, "number"),
    ({"value": True}, TypeError, "number"),
    ({"value": torch.ones(2)}, ValueError, "single number"),
    ({"target": 1.0}, ValueError, "together"),
    ({"target_kind": "at most"}, ValueError, "together"),
    ({"target": 1.0, "target_kind": "below"}, ValueError, "target_kind"),
    ({"baseline": float("nan")}, ValueError, "baseline"),
])
def test_validation_errors(tmp_path, kwargs, error, message):
    args = {"chapter": "ddpm", "name": "x", "value": 1.0, "unit": "u"} | kwargs
    chapter, name, value, unit = args.pop("chapter"), args.pop("name"), args.pop("value"), args.pop("unit")
    with pytest.raises(error, match=message):
        record_result(chapter, name, value, unit, quick=True, folder=tmp_path, **args)
    assert not (tmp_path / "ddpm.results.json").exists()


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(schema_version=2), "schema_version"),
    (lambda d: d.pop("chapter"), "chapter"),
    (lambda d: d.pop("results"), "results"),
    (lambda d: d["results"][0].pop("unit"), "unit"),
])
def test_load_results_rejects_malformed_files(tmp_path, change, message):
    record_result("rnn", "loss", 1.0, "nats", quick=True, folder=tmp_path)
    file = tmp_path / "rnn.results.json"
    data = json.loads(file.read_text(encoding="utf-8"))
    change(data)
    file.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_results(file)
    with pytest.raises(ValueError):  # recording into a malformed file fails instead of overwriting it
        record_result("rnn", "other", 2.0, "nats", quick=True, folder=tmp_path)


def test_results_dir_env_var_then_repository_root(tmp_path, monkeypatch):
    monkeypatch.setenv(RESULTS_ENV_VAR, str(tmp_path / "chosen"))
    assert results_dir() == tmp_path / "chosen"
    record_result("cnn-pixelcnn", "bits/dim", 1.0, "bits/dim", quick=True)
    assert (tmp_path / "chosen" / "cnn-pixelcnn.results.json").exists()

    monkeypatch.delenv(RESULTS_ENV_VAR)
    repo = tmp_path / "repo"
    (repo / "book" / "algorithms").mkdir(parents=True)
    (repo / "_config.yml").write_text("title: x\n")
    monkeypatch.chdir(repo / "book" / "algorithms")  # where a notebook executes
    assert results_dir() == (repo / "_build" / "results").resolve()
    monkeypatch.chdir(tmp_path)
    assert results_dir() == (tmp_path / "_build" / "results").resolve()


def test_machine_describes_the_device():
    info = results.machine("cpu")
    assert info["device"] == "cpu" and info["gpu"] is None and info["torch"] == torch.__version__
    assert isinstance(info["cores"], int) and info["cpu"]


def test_infinite_values_are_rejected(tmp_path):
    with pytest.raises(ValueError):
        record_result("ddpm", "x", float("inf"), "u", quick=True, folder=tmp_path)
