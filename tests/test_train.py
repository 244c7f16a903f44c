"""ember.train: Trainer, callbacks, checkpoints and resume, history, progress.

Optimizers, schedulers and loaders are tiny local stand-ins with torch's API, so these tests do
not depend on ember.optim / ember.utils.data; ember.save/load get a pickle fallback if missing.
"""
import gzip
import io
import os
import pickle
import sys

import ember
import ember.nn.functional as F
import numpy as np
import pytest
from ember import nn
from ember.train import (
    CSVLogger,
    EarlyStopping,
    History,
    LambdaCallback,
    ModelCheckpoint,
    ProgressBar,
    TensorBoardLogger,
    Trainer,
    clip_grad_norm_,
)

_SUBDIR = ("datasets", "data", "fashion_mnist")
DATA = next((d for d in (os.path.join(os.path.dirname(ember.__file__), *_SUBDIR),
                         os.path.join(os.path.dirname(__file__), "..", "python", "ember", *_SUBDIR))
             if os.path.isdir(d)), None)


# --- stand-ins with torch's APIs ------------------------------------------------------------------
class TinySGD:
    """SGD with momentum: zero_grad / step / state_dict / load_state_dict / param_groups."""

    def __init__(self, params, lr=0.1, momentum=0.0):
        self.param_groups = [{"params": list(params), "lr": lr, "momentum": momentum}]
        self.state = {}

    def zero_grad(self):
        for p in self.param_groups[0]["params"]:
            p.grad = None

    def step(self):
        g = self.param_groups[0]
        with ember.no_grad():
            for i, p in enumerate(g["params"]):
                if p.grad is None:
                    continue
                d = p.grad
                if g["momentum"]:
                    buf = self.state.get(i)
                    d = d.clone() if buf is None else buf * g["momentum"] + d
                    self.state[i] = d
                p.copy_(p - d * g["lr"])

    def state_dict(self):
        g = self.param_groups[0]
        return {"state": {i: {"momentum_buffer": b.clone()} for i, b in self.state.items()},
                "param_groups": [{"lr": g["lr"], "momentum": g["momentum"],
                                  "params": list(range(len(g["params"])))}]}

    def load_state_dict(self, sd):
        self.param_groups[0]["lr"] = sd["param_groups"][0]["lr"]
        self.param_groups[0]["momentum"] = sd["param_groups"][0]["momentum"]
        self.state = {int(i): s["momentum_buffer"].clone() for i, s in sd["state"].items()}


class TinyStepLR:
    def __init__(self, optimizer, step_size, gamma=0.5):
        self.optimizer, self.step_size, self.gamma = optimizer, step_size, gamma
        self.last_epoch, self.base_lr = 0, optimizer.param_groups[0]["lr"]

    def step(self):
        self.last_epoch += 1
        k = self.last_epoch // self.step_size
        self.optimizer.param_groups[0]["lr"] = self.base_lr * self.gamma ** k

    def state_dict(self):
        return {"last_epoch": self.last_epoch, "base_lr": self.base_lr}

    def load_state_dict(self, sd):
        self.last_epoch, self.base_lr = sd["last_epoch"], sd["base_lr"]


class ReduceLROnPlateau:
    """Recognised by class name, as ember's and torch's are."""

    def __init__(self, optimizer, mode="min", factor=0.5, patience=0):
        self.optimizer, self.factor, self.patience = optimizer, factor, patience
        self.best, self.bad, self.seen = None, 0, []

    def step(self, metric):
        self.seen.append(metric)
        if self.best is None or metric < self.best:
            self.best, self.bad = metric, 0
            return
        self.bad += 1
        if self.bad > self.patience:
            self.optimizer.param_groups[0]["lr"] *= self.factor
            self.bad = 0


class ShuffleLoader:
    """Batches of (x, y), reshuffled each epoch from ``generator`` or the global one."""

    def __init__(self, x, y, batch_size, shuffle=True, generator=None):
        self.x, self.y, self.bs, self.shuffle = x, y, batch_size, shuffle
        self.generator = generator

    def __len__(self):
        return (self.x.shape[0] + self.bs - 1) // self.bs

    def __iter__(self):
        n = self.x.shape[0]
        idx = ember.randperm(n, generator=self.generator) if self.shuffle else ember.arange(n)
        for lo in range(0, n, self.bs):
            j = idx[lo:lo + self.bs]
            yield self.x[j], self.y[j]


def cross_entropy(logits, y):
    return -(F.log_softmax(logits, 1)[ember.arange(logits.shape[0]), y]).mean()


def mse(p, t):
    return ((p - t) ** 2).mean()


def _to_np(obj):
    if isinstance(obj, ember.Tensor):
        return ("__tensor__", obj.detach().numpy().copy())
    if isinstance(obj, dict):
        return {k: _to_np(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_np(v) for v in obj)
    return obj


def _from_np(obj):
    if isinstance(obj, tuple) and len(obj) == 2 and obj[0] == "__tensor__":
        return ember.from_numpy(obj[1])
    if isinstance(obj, dict):
        return {k: _from_np(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_from_np(v) for v in obj)
    return obj


@pytest.fixture(autouse=True)
def ckpt_io(monkeypatch):
    """ember.save / ember.load, or a pickle fallback (atomic) until serialization is merged."""
    if hasattr(ember, "save") and hasattr(ember, "load"):
        return

    def save(obj, path):
        tmp = f"{path}.tmp"
        with open(tmp, "wb") as f:
            pickle.dump(_to_np(obj), f)
        os.replace(tmp, path)

    def load(path):
        with open(path, "rb") as f:
            return _from_np(pickle.load(f))

    monkeypatch.setattr(ember, "save", save, raising=False)
    monkeypatch.setattr(ember, "load", load, raising=False)


def blobs(n=256, seed=0, classes=3):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((classes, 4)) * 3
    y = rng.integers(0, classes, n)
    x = centers[y] + rng.standard_normal((n, 4))
    return ember.from_numpy(x.astype(np.float32)), ember.from_numpy(y.astype(np.int64))


def mlp(seed=0, dropout=0.0):
    ember.manual_seed(seed)
    layers = [nn.Linear(4, 16), nn.ReLU()] + ([nn.Dropout(dropout)] if dropout else [])
    return nn.Sequential(*layers, nn.Linear(16, 3))


def trainer_for(model, **kw):
    kw.setdefault("verbose", 0)
    opt = kw.pop("optimizer", None) or TinySGD(model.parameters(), lr=0.1, momentum=0.9)
    return Trainer(model, opt, cross_entropy, **kw)


def params_np(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def scripted(key, values):
    """A callback that writes ``values[epoch]`` into the logs under ``key`` (runs first)."""
    def put(epoch, logs):
        logs[key] = values[epoch]
    return LambdaCallback(on_epoch_end=put)


# --- end to end -----------------------------------------------------------------------------------
def _idx(name, offset):
    with gzip.open(os.path.join(DATA, name)) as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def test_fashion_mnist_end_to_end_reaches_real_accuracy(tmp_path):
    x = _idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 784)[:3000].astype(np.float32) / 255
    y = _idx("train-labels-idx1-ubyte.gz", 8)[:3000].astype(np.int64)
    xt = _idx("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 784)[:1000].astype(np.float32) / 255
    yt = _idx("t10k-labels-idx1-ubyte.gz", 8)[:1000].astype(np.int64)
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    train = ShuffleLoader(ember.from_numpy(x), ember.from_numpy(y), 50)
    val = ShuffleLoader(ember.from_numpy(xt), ember.from_numpy(yt), 250, shuffle=False)
    trainer = Trainer(model, TinySGD(model.parameters(), lr=0.05, momentum=0.9), cross_entropy,
                      metrics=["accuracy", "top3_accuracy", "f1", "confusion_matrix"], verbose=0,
                      grad_clip_norm=5.0)
    hist = trainer.fit(train, val, epochs=4)
    assert len(hist) == 4 and hist.epoch == [0, 1, 2, 3]
    assert hist["loss"][-1] < hist["loss"][0]
    assert hist["val_accuracy"][-1] > 0.75, hist.history
    assert hist["val_top3_accuracy"][-1] > hist["val_accuracy"][-1]
    assert 0.6 < hist["val_f1"][-1] <= 1.0
    assert hist["lr"] == [0.05] * 4
    cm = hist["val_confusion_matrix"][-1]  # non-scalar logs are kept, not plotted or printed
    assert cm.shape == (10, 10) and cm.sum() == 1000
    assert np.trace(cm) / 1000 == pytest.approx(hist["val_accuracy"][-1])
    assert "val_confusion_matrix" not in hist.state_dict()["history"]
    final = trainer.evaluate(val)
    assert final["accuracy"] == pytest.approx(hist["val_accuracy"][-1])
    preds = trainer.predict(val)
    assert tuple(preds.shape) == (1000, 10) and not preds.requires_grad
    acc = float((preds.numpy().argmax(1) == yt).mean())
    assert acc == pytest.approx(final["accuracy"])
    assert model.training  # evaluate/predict restore the mode
    path = hist.plot(str(tmp_path / "curves.png"))
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_regression_fit_with_metrics_and_callable():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 4)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5], [3.0]], np.float32)).astype(np.float32)
    loader = ShuffleLoader(ember.from_numpy(x), ember.from_numpy(y), 16)
    ember.manual_seed(0)
    model = nn.Linear(4, 1)

    def max_error(p, t):
        return float(np.abs(p.numpy() - t.numpy()).max())

    trainer = Trainer(model, TinySGD(model.parameters(), lr=0.05), mse,
                      metrics=["mse", "rmse", "mae", "r2", max_error], verbose=0)
    hist = trainer.fit(loader, loader, epochs=15)
    assert hist["val_r2"][-1] > 0.99
    assert hist["val_rmse"][-1] == pytest.approx(hist["val_mse"][-1] ** 0.5)
    assert hist["val_mse"][-1] == pytest.approx(hist["val_loss"][-1], rel=1e-5)
    assert "max_error" in hist and "val_max_error" in hist


def test_trainer_matches_the_plain_loop():
    x, y = blobs(96)
    a, b = mlp(seed=4, dropout=0.3), mlp(seed=4, dropout=0.3)
    opt = TinySGD(a.parameters(), lr=0.1, momentum=0.9)
    ember.manual_seed(11)
    losses = []
    for _ in range(2):  # the plain PyTorch-style loop keeps working
        a.train()
        for xb, yb in ShuffleLoader(x, y, 32):
            opt.zero_grad()
            loss = cross_entropy(a(xb), yb)
            loss.backward()
            opt.step()
            losses.append(loss.item())
    trainer = trainer_for(b, device="cpu")
    batch_losses = []
    log = LambdaCallback(on_batch_end=lambda i, logs: batch_losses.append(logs["loss"]))
    ember.manual_seed(11)
    trainer.fit(ShuffleLoader(x, y, 32), epochs=2, callbacks=[log])
    assert batch_losses == losses
    for k, v in params_np(a).items():
        np.testing.assert_array_equal(v, params_np(b)[k])


# --- callbacks ------------------------------------------------------------------------------------
def test_early_stopping_patience_and_restore_best_weights():
    x, y = blobs()
    model = mlp()
    snapshots = {}
    keep = LambdaCallback(on_epoch_end=lambda e, logs: snapshots.__setitem__(e, params_np(model)))
    stop = EarlyStopping(monitor="score", patience=2, restore_best_weights=True)
    trainer = trainer_for(model, callbacks=[scripted("score", [1.0, 0.8, 0.9, 0.85, 0.95, 0.1]),
                                            keep, stop])
    hist = trainer.fit(ShuffleLoader(x, y, 32), epochs=6)
    assert len(hist) == 5 and stop.stopped_epoch == 4 and stop.best_epoch == 1
    assert stop.best == 0.8
    for k, v in params_np(model).items():
        np.testing.assert_array_equal(v, snapshots[1][k])
        assert not np.array_equal(v, snapshots[4][k])


def test_early_stopping_min_delta_mode_max_and_baseline():
    x, y = blobs()
    stop = EarlyStopping(monitor="val_accuracy", patience=0, min_delta=0.05)
    assert stop.mode == "max"
    trainer = trainer_for(mlp(), callbacks=[scripted("val_accuracy", [0.5, 0.53, 0.9]), stop])
    assert len(trainer.fit(ShuffleLoader(x, y, 64), epochs=3)) == 2  # +0.03 < min_delta
    stop = EarlyStopping(monitor="val_loss", patience=1, baseline=0.5)
    trainer = trainer_for(mlp(), callbacks=[scripted("val_loss", [0.6, 0.55, 0.4, 0.3]), stop])
    assert len(trainer.fit(ShuffleLoader(x, y, 64), epochs=4)) == 2
    with pytest.raises(ValueError):
        EarlyStopping(mode="up")


def test_missing_monitor_warns():
    x, y = blobs(64)
    trainer = trainer_for(mlp(), callbacks=[EarlyStopping(monitor="val_loss")])
    with pytest.warns(RuntimeWarning, match="val_loss"):
        trainer.fit(ShuffleLoader(x, y, 32), epochs=1)


def test_stop_training_from_a_callback():
    x, y = blobs(64)
    trainer = trainer_for(mlp())
    def stop(batch, logs):
        if batch == 1:
            trainer.stop_training = True

    cb = LambdaCallback(on_batch_end=stop)
    assert len(trainer.fit(ShuffleLoader(x, y, 16), epochs=5, callbacks=[cb])) == 1
    with pytest.raises(ValueError):
        LambdaCallback(on_step=print)


def test_model_checkpoint_best_only_formats_and_contents(tmp_path):
    x, y = blobs()
    pattern = str(tmp_path / "ck" / "e{epoch:02d}-{val_loss:.4f}.ckpt")
    ckpt = ModelCheckpoint(pattern, monitor="val_loss", save_best_only=True)
    trainer = trainer_for(mlp(), callbacks=[scripted("val_loss", [0.9, 0.5, 0.7, 0.4]), ckpt])
    trainer.fit(ShuffleLoader(x, y, 32), epochs=4)
    names = sorted(os.listdir(tmp_path / "ck"))
    assert names == ["e01-0.9000.ckpt", "e02-0.5000.ckpt", "e04-0.4000.ckpt"]
    assert ckpt.best == 0.4 and ckpt.best_path.endswith("e04-0.4000.ckpt")
    state = ember.load(ckpt.best_path)
    assert {"model", "optimizer", "scheduler", "epoch", "rng_state", "history"} <= set(state)
    assert state["epoch"] == 4 and len(state["history"]["epoch"]) == 4
    np.testing.assert_array_equal(state["model"]["0.weight"].numpy(),
                                  trainer.model.state_dict()["0.weight"].numpy())
    assert 0 in state["optimizer"]["state"] or "0" in state["optimizer"]["state"]


def test_model_checkpoint_every_epoch_and_weights_only(tmp_path):
    x, y = blobs()
    every = ModelCheckpoint(str(tmp_path / "all-{epoch}.ckpt"), every_n_epochs=2)
    weights = ModelCheckpoint(str(tmp_path / "w.ckpt"), save_weights_only=True)
    model = mlp()
    trainer = trainer_for(model, callbacks=[every, weights])
    trainer.fit(ShuffleLoader(x, y, 32), epochs=4)
    assert sorted(p for p in os.listdir(tmp_path) if p.startswith("all")) == [
        "all-2.ckpt", "all-4.ckpt"]
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
    other = mlp(seed=5)
    other.load_state_dict(ember.load(str(tmp_path / "w.ckpt")))
    for k, v in params_np(other).items():
        np.testing.assert_array_equal(v, params_np(model)[k])
    with pytest.raises(ValueError, match="full training checkpoint"):
        trainer_for(mlp()).fit(ShuffleLoader(x, y, 32), epochs=5,
                               resume_from=str(tmp_path / "w.ckpt"))


def _resume_run(tmp_path, epochs, resume_from=None, seed=0, own_generator=False):
    x, y = blobs(200, seed=1)
    xv, yv = blobs(60, seed=2)
    model = mlp(seed=seed, dropout=0.2)
    opt = TinySGD(model.parameters(), lr=0.1, momentum=0.9)
    stop = EarlyStopping(monitor="val_loss", patience=100)
    trainer = Trainer(model, opt, cross_entropy, metrics=["accuracy"], verbose=0,
                      scheduler=TinyStepLR(opt, step_size=2), grad_clip_norm=1.0,
                      callbacks=[ModelCheckpoint(str(tmp_path / "ep{epoch}.ckpt")), stop])
    np.random.seed(seed)  # the numpy and python RNG states are restored too
    gen = ember.Generator().manual_seed(seed) if own_generator else None
    hist = trainer.fit(ShuffleLoader(x, y, 32, generator=gen),
                       ShuffleLoader(xv, yv, 30, shuffle=False),
                       epochs=epochs, resume_from=resume_from)
    return hist, model, opt, stop


@pytest.mark.parametrize("own_generator", [False, True])
def test_resume_equals_uninterrupted_run(tmp_path, own_generator):
    full, model_a, opt_a, stop_a = _resume_run(tmp_path / "a", 6, own_generator=own_generator)
    first, _, _, _ = _resume_run(tmp_path / "b", 3, own_generator=own_generator)
    assert first["loss"] == full["loss"][:3]
    resumed, model_b, opt_b, stop_b = _resume_run(tmp_path / "c", 6, seed=7,
                                                  resume_from=str(tmp_path / "b" / "ep3.ckpt"),
                                                  own_generator=own_generator)
    assert resumed.epoch == list(range(6))
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr"):
        assert resumed[key] == full[key], key
    assert full["lr"] == [0.1, 0.1, 0.05, 0.05, 0.025, 0.025]
    for k, v in params_np(model_a).items():
        np.testing.assert_array_equal(v, params_np(model_b)[k])
    assert opt_b.param_groups[0]["lr"] == opt_a.param_groups[0]["lr"]
    assert (stop_b.best, stop_b.best_epoch) == (stop_a.best, stop_a.best_epoch)


# --- schedulers, clipping, accumulation -----------------------------------------------------------
def test_reduce_lr_on_plateau_is_fed_the_monitored_metric():
    x, y = blobs(64)
    model = mlp()
    opt = TinySGD(model.parameters(), lr=0.2)
    plateau = ReduceLROnPlateau(opt, patience=0, factor=0.5)
    trainer = Trainer(model, opt, cross_entropy, scheduler=plateau, monitor="score", verbose=0,
                      callbacks=[scripted("score", [1.0, 2.0, 3.0, 0.5])])
    hist = trainer.fit(ShuffleLoader(x, y, 32), epochs=4)
    assert plateau.seen == [1.0, 2.0, 3.0, 0.5]
    assert hist["lr"] == [0.2, 0.2, 0.1, 0.05]
    trainer = Trainer(model, opt, cross_entropy, scheduler=plateau, verbose=0)
    with pytest.raises(KeyError, match="val_loss"):
        trainer.fit(ShuffleLoader(x, y, 32), epochs=1)
    with pytest.raises(ValueError):
        Trainer(model, opt, cross_entropy, scheduler=plateau, scheduler_interval="batch")


def test_batch_scheduler_steps_per_optimizer_step():
    x, y = blobs(96)
    model = mlp()
    opt = TinySGD(model.parameters(), lr=0.1)
    sched = TinyStepLR(opt, step_size=1000)
    trainer = Trainer(model, opt, cross_entropy, scheduler=sched, scheduler_interval="batch",
                      accumulation_steps=2, verbose=0)
    trainer.fit(ShuffleLoader(x, y, 16), epochs=2)  # 6 batches -> 3 steps per epoch
    assert sched.last_epoch == 6 == trainer.global_step


def test_gradient_accumulation_equals_the_large_batch():
    x, y = blobs(64)
    a, b = mlp(seed=3), mlp(seed=3)
    trainer_for(a, optimizer=TinySGD(a.parameters(), lr=0.1)).fit(
        ShuffleLoader(x, y, 32, shuffle=False), epochs=1)
    trainer_for(b, optimizer=TinySGD(b.parameters(), lr=0.1), accumulation_steps=2).fit(
        ShuffleLoader(x, y, 16, shuffle=False), epochs=1)
    for k, v in params_np(a).items():
        np.testing.assert_allclose(v, params_np(b)[k], rtol=1e-5, atol=1e-6)


def test_accumulation_steps_on_the_last_short_group_without_len():
    x, y = blobs(80)
    model = mlp()
    sched = TinyStepLR(TinySGD(model.parameters()), step_size=1000)
    trainer = Trainer(model, sched.optimizer, cross_entropy, scheduler=sched, verbose=0,
                      scheduler_interval="batch", accumulation_steps=2)
    batches = list(ShuffleLoader(x, y, 16))
    trainer.fit(IterOnly(batches), epochs=1)  # 5 batches, no len(): steps after 2, 4, 5
    assert trainer.global_step == 3 == sched.last_epoch and trainer.steps_per_epoch is None


class IterOnly:
    def __init__(self, items):
        self.items = items

    def __iter__(self):
        return iter(self.items)


def test_gradient_clipping_bounds_the_global_norm():
    norms = []

    class Recording(TinySGD):
        def step(self):
            gs = [p.grad.numpy() for p in self.param_groups[0]["params"] if p.grad is not None]
            norms.append(float(np.sqrt(sum((g.astype(np.float64) ** 2).sum() for g in gs))))
            super().step()

    x, y = blobs(64)
    model = mlp()
    Trainer(model, Recording(model.parameters(), lr=0.01), lambda o, t: cross_entropy(o, t) * 100,
            grad_clip_norm=0.5, verbose=0).fit(ShuffleLoader(x, y, 32), epochs=2)
    assert len(norms) == 4 and max(norms) <= 0.5 + 1e-4
    w = nn.Parameter(ember.ones(3))
    (w * ember.tensor([3.0, 4.0, 0.0])).sum().backward()
    assert clip_grad_norm_([w], 1.0) == pytest.approx(5.0)
    np.testing.assert_allclose(w.grad.numpy(), [0.6, 0.8, 0.0], rtol=1e-5)


# --- logging and progress -------------------------------------------------------------------------
def _read_lines(path):
    with open(path) as f:
        return f.read().splitlines()


def test_csv_logger_rows_and_append(tmp_path):
    x, y = blobs(64)
    path = str(tmp_path / "log.csv")
    trainer = trainer_for(mlp(), metrics=["accuracy"], callbacks=[CSVLogger(path)])
    trainer.fit(ShuffleLoader(x, y, 32), ShuffleLoader(x, y, 32), epochs=2)
    lines = _read_lines(path)
    assert lines[0] == "epoch,loss,accuracy,lr,val_loss,val_accuracy"
    assert [ln.split(",")[0] for ln in lines[1:]] == ["0", "1"]
    assert float(lines[2].split(",")[1]) == pytest.approx(trainer.history["loss"][1])
    trainer = trainer_for(mlp(), metrics=["accuracy"], callbacks=[CSVLogger(path, append=True)])
    trainer.fit(ShuffleLoader(x, y, 32), epochs=1)
    lines = _read_lines(path)
    assert len(lines) == 4 and lines[3].split(",")[4:] == ["", ""]


def test_progress_plain_lines_and_quiet(capsys):
    x, y = blobs(64)
    buf = io.StringIO()
    trainer_for(mlp(), metrics=["accuracy"], callbacks=[ProgressBar(1, file=buf)]).fit(
        ShuffleLoader(x, y, 32), epochs=2)
    lines = buf.getvalue().splitlines()  # a StringIO is not a terminal: one line per epoch
    assert len(lines) == 2 and lines[0].startswith("Epoch 1/2 - loss ")
    assert "accuracy" in lines[1] and " lr " not in lines[1]
    trainer_for(mlp(), verbose=0).fit(ShuffleLoader(x, y, 32), epochs=1)
    trainer_for(mlp(), verbose=2).fit(ShuffleLoader(x, y, 32), epochs=1)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].startswith("Epoch 1/1 - loss")
    with pytest.raises(ValueError):
        ProgressBar(verbose=3)


def test_progress_tqdm_bar(monkeypatch):
    x, y = blobs(64)
    buf = io.StringIO()
    bar = ProgressBar(1, file=buf, use_tqdm=True)
    trainer = trainer_for(mlp(), callbacks=[bar])
    try:
        import tqdm  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="tqdm"):
            trainer.fit(ShuffleLoader(x, y, 32), epochs=1)
        return
    trainer.fit(ShuffleLoader(x, y, 32), epochs=2)
    text = buf.getvalue()
    assert "Epoch 1/2" in text and "Epoch 2/2" in text and "2/2" in text and "loss" in text
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # tqdm missing: plain lines
    buf2 = io.StringIO()
    trainer_for(mlp(), callbacks=[ProgressBar(1, file=buf2)]).fit(ShuffleLoader(x, y, 32))
    assert buf2.getvalue().startswith("Epoch 1/1 - loss")


def test_history_plot_and_missing_matplotlib(tmp_path, monkeypatch):
    h = History()
    h.append(0, {"loss": 1.0, "val_loss": 1.2, "accuracy": 0.5, "lr": 0.1})
    h.append(1, {"loss": 0.5, "accuracy": 0.7, "lr": 0.1})
    assert h["val_loss"] == [1.2, None] and h.last()["loss"] == 0.5 and len(h) == 2
    state = h.state_dict()
    h2 = History()
    h2.load_state_dict(state)
    assert h2.history == h.history and h2.epoch == [0, 1]
    try:
        import matplotlib  # noqa: F401
        out = h.plot(str(tmp_path / "h.png"))
        assert os.path.getsize(out) > 0
    except ImportError:
        pass
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match="plot"):
        h.plot(str(tmp_path / "never.png"))


def test_tensorboard_logger(tmp_path, monkeypatch):
    x, y = blobs(64)
    try:
        tb = TensorBoardLogger(str(tmp_path / "tb"), log_batches=True)
    except ImportError as e:
        assert "tensorboard" in str(e).lower()
    else:
        trainer_for(mlp(), callbacks=[tb]).fit(ShuffleLoader(x, y, 32), epochs=2)
        assert os.listdir(tmp_path / "tb")
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(ImportError, match="tensorboard"):
        TensorBoardLogger(str(tmp_path / "tb2"))


# --- modes and errors -----------------------------------------------------------------------------
def test_evaluate_uses_eval_mode_and_no_grad():
    x, y = blobs(64)
    model = mlp(dropout=0.9)
    trainer = trainer_for(model, metrics=["accuracy"])
    a, b = trainer.evaluate(ShuffleLoader(x, y, 32)), trainer.evaluate(ShuffleLoader(x, y, 32))
    assert a == b  # dropout is off in eval mode
    model.eval()
    trainer.predict([x, x])
    assert not model.training
    out = trainer.predict([(x, y)])
    assert tuple(out.shape) == (64, 3) and not out.requires_grad


def test_trainer_argument_errors():
    model = mlp()
    with pytest.raises(ValueError):
        Trainer(model, TinySGD(model.parameters()), cross_entropy, accumulation_steps=0)
    with pytest.raises(ValueError):
        Trainer(model, TinySGD(model.parameters()), cross_entropy, grad_clip_norm=-1)
    with pytest.raises(ValueError):
        Trainer(model, TinySGD(model.parameters()), cross_entropy, metrics=["acc", "accuracy"])
    with pytest.raises(TypeError):
        Trainer(model, TinySGD(model.parameters()), cross_entropy, callbacks=[print])
    with pytest.raises(ValueError, match="optimizer"):
        Trainer(model, loss_fn=cross_entropy).fit([])
    x, _ = blobs(8)
    with pytest.raises(ValueError, match="pairs"):
        trainer_for(model).fit([x])
    assert "Trainer(model=Sequential" in repr(trainer_for(model))
