"""The main job end to end on the embedded data: trains, reaches a real accuracy, writes files."""
import os

import ember
from ember.apps import fashion_mnist


def test_fashion_mnist_app_trains_on_embedded_subset(tmp_path):
    out = tmp_path / "run"
    test = fashion_mnist.main(["--subset", "--epochs", "3", "--quiet", "--out", str(out), "--seed", "0"])
    assert test["accuracy"] > 0.80, test
    for name in ("best.safetensors", "history.csv", "curves.png"):
        assert (out / name).exists(), name
    state = ember.load(out / "best.safetensors")
    model = fashion_mnist.lenet()
    model.load_state_dict(state["model"])
    assert os.path.getsize(out / "curves.png") > 1000


def test_fashion_mnist_app_arguments():
    args = fashion_mnist.parse_args(["--optimizer", "sgd", "--batch-size", "32", "--threads", "1"])
    assert args.optimizer == "sgd" and args.batch_size == 32 and args.threads == 1
