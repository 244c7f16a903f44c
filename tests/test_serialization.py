"""ember.save / ember.load: round trips, safetensors compatibility, atomicity, corrupt files."""
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

import ember
from ember import nn


def test_state_dict_round_trip(tmp_path):
    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    path = tmp_path / "model.safetensors"
    ember.save(m.state_dict(), path)
    m2 = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    m2.load_state_dict(ember.load(path))
    x = ember.randn(5, 3)
    np.testing.assert_array_equal(m(x).detach().numpy(), m2(x).detach().numpy())


def test_nested_structures_round_trip(tmp_path):
    obj = {
        "epoch": 3, "lr": 0.1, "best": float("inf"), "name": "run", "flag": True, "none": None,
        "state": {0: {"momentum_buffer": ember.ones(2, 2), "step": ember.tensor(5.0)}, 1: {}},
        "groups": [{"lr": 0.01, "params": [0, 1]}], "pair": (1, "a"),
        "ints": ember.arange(6, dtype=ember.int32).reshape(2, 3), "mask": ember.tensor([True, False]),
        "u8": ember.zeros(3, dtype=ember.uint8), "f64": ember.tensor([1.5], dtype=ember.float64),
        "np": np.arange(3.0),
    }
    p = tmp_path / "ckpt.safetensors"
    ember.save(obj, p)
    back = ember.load(p)
    assert back["epoch"] == 3 and back["lr"] == 0.1 and back["best"] == float("inf")
    assert tuple(back["state"][0]["step"].shape) == ()
    assert back["name"] == "run" and back["flag"] is True and back["none"] is None
    assert set(back["state"].keys()) == {0, 1}
    np.testing.assert_array_equal(back["state"][0]["momentum_buffer"].numpy(), np.ones((2, 2)))
    assert back["state"][0]["step"].item() == 5.0
    assert back["groups"] == [{"lr": 0.01, "params": [0, 1]}]
    assert back["pair"] == (1, "a")
    for k in ("ints", "mask", "u8", "f64"):
        assert back[k].dtype == obj[k].dtype
        np.testing.assert_array_equal(back[k].numpy(), obj[k].numpy())
    np.testing.assert_array_equal(back["np"], np.arange(3.0))


def test_single_tensor_and_views(tmp_path):
    t = ember.arange(12.0).reshape(3, 4).t()  # non-contiguous
    ember.save(t, tmp_path / "t.st")
    np.testing.assert_array_equal(ember.load(tmp_path / "t.st").numpy(), t.numpy())


def test_files_interoperate_with_safetensors(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    sd = {"w": ember.randn(3, 2), "b": ember.arange(4)}
    ember.save(sd, tmp_path / "a.safetensors")
    got = st.load_file(str(tmp_path / "a.safetensors"))
    assert set(got) == {"w", "b"}
    np.testing.assert_array_equal(got["w"], sd["w"].numpy())
    st.save_file({"x": np.arange(5, dtype=np.float32), "y": np.ones((2, 2), dtype=np.int64)},
                 str(tmp_path / "b.safetensors"))
    back = ember.load(tmp_path / "b.safetensors")
    assert back["x"].dtype == ember.float32 and back["y"].dtype == ember.int64
    np.testing.assert_array_equal(back["x"].numpy(), np.arange(5))


def test_unsupported_objects_raise(tmp_path):
    with pytest.raises(TypeError, match="cannot save an object of type"):
        ember.save({"f": lambda: 0}, tmp_path / "x")
    with pytest.raises(TypeError, match="file path"):
        ember.save({}, 3)


def _corrupt_variants(good):
    (n,) = struct.unpack("<Q", good[:8])
    yield "empty", b""
    yield "short", good[:5]
    yield "huge header length", struct.pack("<Q", 1 << 40) + good[8:]
    yield "truncated data", good[:-10]
    yield "garbage header", good[:8] + b"{" * n + good[8 + n:]
    yield "not json object", struct.pack("<Q", 8) + b"[1,2,3] " + good[8 + n:]
    yield "random bytes", os.urandom(200)


def test_corrupt_files_raise_clear_errors(tmp_path):
    good_path = tmp_path / "good.st"
    ember.save({"a": ember.randn(4, 4), "meta": {"x": 1}}, good_path)
    good = good_path.read_bytes()
    for name, data in _corrupt_variants(good):
        p = tmp_path / f"bad-{name.replace(' ', '_')}.st"
        p.write_bytes(data)
        with pytest.raises(ValueError, match="ember.load"):
            ember.load(p)
    with pytest.raises(FileNotFoundError):
        ember.load(tmp_path / "missing.st")


def test_save_is_atomic_when_interrupted(tmp_path):
    """A process killed in the middle of writing leaves the previous checkpoint intact."""
    path = tmp_path / "ckpt.st"
    ember.save({"v": ember.ones(3)}, path)
    code = f"""
import os, ember, ember.serialization as s
real = s._atomic_write
def dying(path, chunks):
    def gen():
        for i, c in enumerate(chunks):
            if i == 2:
                os._exit(17)  # simulated crash mid-write
            yield c
    return real(path, gen())
s._atomic_write = dying
ember.save({{"v": ember.zeros(1000)}}, {str(path)!r})
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 17, r.stderr
    np.testing.assert_array_equal(ember.load(path)["v"].numpy(), np.ones(3))
    leftovers = [f for f in os.listdir(tmp_path) if f.startswith(".tmp-")]
    # a crash may leave a temporary file behind, but never a damaged checkpoint
    assert all(os.path.getsize(tmp_path / f) >= 0 for f in leftovers)


def test_tensor_pickle_and_deepcopy():
    import copy
    import pickle
    t = ember.randn(3, requires_grad=True)
    u = pickle.loads(pickle.dumps(t))
    assert u.requires_grad and np.array_equal(u.detach().numpy(), t.detach().numpy())
    m = nn.Linear(2, 2)
    m2 = copy.deepcopy(m)
    assert isinstance(m2.weight, nn.Parameter) and m2.weight is not m.weight
    np.testing.assert_array_equal(m2.weight.detach().numpy(), m.weight.detach().numpy())
