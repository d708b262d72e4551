import pytest
import torch

from genai_foundations.data import (
    load_digits,
    load_mnist,
    load_mnist_subset,
    make_checkerboard,
    make_gaussian_ring,
    make_moons,
    make_spirals,
    make_toy2d,
)


@pytest.mark.parametrize("maker", [make_moons, make_spirals, make_checkerboard, make_gaussian_ring])
def test_toy2d_shapes_and_repeatability(maker):
    a, b = maker(500, seed=1), maker(500, seed=1)
    assert a.shape == (500, 2) and a.dtype == torch.float32
    assert torch.equal(a, b)
    assert not torch.equal(a, maker(500, seed=2))
    assert a.abs().max() < 5


def test_toy2d_by_name_and_errors():
    assert make_toy2d("moons", 10).shape == (10, 2)
    with pytest.raises(ValueError, match="unknown 2-D data set"):
        make_toy2d("swissroll", 10)
    with pytest.raises(ValueError, match="positive int"):
        make_moons(0)


def test_checkerboard_points_lie_on_dark_squares():
    x = make_checkerboard(2000, squares=4)
    i, j = ((x + 2) // 1).long().unbind(1)
    assert ((i + j) % 2 == 0).all()


def test_gaussian_ring_has_all_modes():
    x = make_gaussian_ring(4000, modes=8, radius=2.0, std=0.02)
    angles = torch.atan2(x[:, 1], x[:, 0])
    mode = torch.round(angles / (2 * torch.pi / 8)) % 8
    assert set(mode.long().tolist()) == set(range(8))
    assert torch.allclose(x.norm(dim=1).mean(), torch.tensor(2.0), atol=0.01)


def test_digits_splits():
    train, test, full = load_digits("train"), load_digits("test"), load_digits("all")
    assert len(full) == 1797 and len(train) + len(test) == 1797
    assert train.images.shape[1:] == (1, 8, 8)
    assert train.images.min() == -1 and train.images.max() == 1
    assert load_digits("test", value_range="raw").images.max() == 16
    assert set(test.labels.tolist()) == set(range(10))
    with pytest.raises(ValueError, match="split"):
        load_digits("validation")


def test_mnist_subset_and_missing_full_mnist(tmp_path, monkeypatch):
    images, labels = load_mnist_subset()
    assert images.shape == (5000, 1, 28, 28) and labels.shape == (5000,)
    assert 0 <= images.min() and images.max() <= 1
    monkeypatch.setenv("GENAI_DATA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        load_mnist()


def _write_idx(path, array):
    """Write an array in the IDX format MNIST uses (unsigned bytes)."""
    import struct

    import numpy as np

    array = np.asarray(array, dtype=np.uint8)
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.tobytes())


def test_full_mnist_loads_through_torchvision_when_files_are_present(tmp_path, monkeypatch):
    import numpy as np

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images = np.arange(3 * 28 * 28).reshape(3, 28, 28) % 256
    for split in ("train", "t10k"):
        _write_idx(raw / f"{split}-images-idx3-ubyte", images)
        _write_idx(raw / f"{split}-labels-idx1-ubyte", [7, 2, 1])
    monkeypatch.setenv("GENAI_DATA_DIR", str(tmp_path))
    dataset = load_mnist(train=True)
    image, label = dataset[1]
    assert len(dataset) == 3 and label == 2
    assert image.shape == (1, 28, 28)
    assert torch.allclose(image[0], torch.from_numpy(images[1].astype("float32") / 255))
    assert len(load_mnist(train=False, root=tmp_path)) == 3


def test_mnist_split_is_fixed_stratified_and_disjoint():
    from genai_foundations.data.mnist import load_mnist_split

    train_x, train_y = load_mnist_split("train")
    test_x, test_y = load_mnist_split("test", value_range="[0,1]")
    assert train_x.shape == (4000, 1, 28, 28) and test_x.shape == (1000, 1, 28, 28)
    assert train_x.dtype == torch.float32 and train_y.dtype == torch.int64
    assert torch.equal(train_y.bincount(), torch.full((10,), 400)) and torch.equal(test_y.bincount(), torch.full((10,), 100))
    assert -1 <= train_x.min() < 0 and train_x.max() <= 1 and 0 <= test_x.min() and test_x.max() <= 1
    all_x, _ = load_mnist_subset()
    flat_all = {tuple(row) for row in (all_x.reshape(5000, -1) * 255).round().to(torch.uint8).tolist()}
    flat_test = {tuple(row) for row in (test_x.reshape(1000, -1) * 255).round().to(torch.uint8).tolist()}
    flat_train = {tuple(row) for row in ((train_x.reshape(4000, -1) + 1) / 2 * 255).round().to(torch.uint8).tolist()}
    assert flat_test <= flat_all and flat_train <= flat_all and not (flat_test & flat_train)
    again, _ = load_mnist_split("test", value_range="[0,1]")
    assert torch.equal(again, test_x)                                     # the same images on every call
    with pytest.raises(ValueError, match="split"):
        load_mnist_split("validation")
