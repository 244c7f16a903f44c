"""Callbacks of the fit loop: early stopping, checkpoints, LR scheduling, CSV and TensorBoard logs.

A callback overrides any of ``on_train_begin/end(logs)``, ``on_epoch_begin/end(epoch, logs)``,
``on_batch_begin/end(batch, logs)``; ``self.trainer`` is set before training starts, and setting
``trainer.stop_training = True`` ends the run after the current epoch. Epoch indices are 0-based;
``{epoch}`` in file names and the ``epoch`` field of checkpoints count completed epochs.
Callbacks with state to resume implement ``state_dict()`` / ``load_state_dict(state)``.
"""
import math
import os
import warnings

__all__ = [
    "CSVLogger", "Callback", "CallbackList", "EarlyStopping", "LRScheduler", "LambdaCallback",
    "ModelCheckpoint", "TensorBoardLogger",
]

_MAX_HINTS = ("acc", "f1", "precision", "recall", "r2", "auc")


class Callback:
    """Base class: every hook does nothing."""

    trainer = None

    def set_trainer(self, trainer):
        self.trainer = trainer

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_batch_begin(self, batch, logs=None):
        pass

    def on_batch_end(self, batch, logs=None):
        pass

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


class CallbackList(Callback):
    """Calls each hook on a list of callbacks, in order."""

    def __init__(self, callbacks=()):
        self.callbacks = list(callbacks)

    def __iter__(self):
        return iter(self.callbacks)

    def set_trainer(self, trainer):
        for cb in self.callbacks:
            cb.set_trainer(trainer)

    def _call(self, hook, *args):
        for cb in self.callbacks:
            getattr(cb, hook)(*args)

    def on_train_begin(self, logs=None):
        self._call("on_train_begin", logs)

    def on_train_end(self, logs=None):
        self._call("on_train_end", logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._call("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._call("on_epoch_end", epoch, logs)

    def on_batch_begin(self, batch, logs=None):
        self._call("on_batch_begin", batch, logs)

    def on_batch_end(self, batch, logs=None):
        self._call("on_batch_end", batch, logs)


class _Monitor:
    """Shared by callbacks that track the best value of a logged metric."""

    def _init_monitor(self, monitor, mode, min_delta=0.0):
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
        if mode == "auto":
            mode = "max" if any(h in monitor.lower() for h in _MAX_HINTS) else "min"
        self.monitor, self.mode, self.min_delta = monitor, mode, abs(float(min_delta))
        self.best = None

    def _current(self, logs):
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(f"{type(self).__name__}: metric {self.monitor!r} is not in the logs "
                          f"(available: {sorted(logs or {})})", RuntimeWarning, stacklevel=3)
            return None
        return float(value)

    def _is_improvement(self, value):
        if self.best is None:
            return not math.isnan(value)
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


def _clone_state(state_dict):
    return {k: v.detach().clone() for k, v in state_dict.items()}


class EarlyStopping(Callback, _Monitor):
    """Stop when a monitored metric has not improved for ``patience`` epochs.

    Args:
        monitor: key in the epoch logs (``'val_loss'``, ``'val_accuracy'``...).
        mode: ``'min'``, ``'max'`` or ``'auto'`` (max for accuracy-like names).
        patience: epochs without improvement tolerated before stopping.
        min_delta: smallest change that counts as an improvement.
        restore_best_weights: at the end of training, load the weights of the best epoch.
        baseline: a value the metric must beat; epochs not beating it count as no improvement.
    """

    def __init__(self, monitor="val_loss", mode="auto", patience=0, min_delta=0.0,
                 restore_best_weights=False, baseline=None, verbose=0):
        self._init_monitor(monitor, mode, min_delta)
        self.patience, self.baseline = int(patience), baseline
        self.restore_best_weights, self.verbose = restore_best_weights, verbose
        self._reset()

    def _reset(self):
        self.best = None if self.baseline is None else float(self.baseline)
        self.wait, self.best_epoch, self.stopped_epoch, self.best_weights = 0, -1, -1, None

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        value = self._current(logs)
        if value is None:
            return
        if self._is_improvement(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = _clone_state(self.trainer.model.state_dict())
            return
        self.wait += 1
        if self.wait > self.patience:
            self.stopped_epoch = epoch
            self.trainer.stop_training = True
            if self.verbose:
                print(f"Epoch {epoch + 1}: early stopping ({self.monitor} best {self.best:.6g} "
                      f"at epoch {self.best_epoch + 1})")

    def on_train_end(self, logs=None):
        last = self.trainer.history.epoch[-1] if len(self.trainer.history) else -1
        if self.restore_best_weights and self.best_weights is not None and last != self.best_epoch:
            self.trainer.model.load_state_dict(self.best_weights)

    def state_dict(self):
        state = {"best": self.best, "wait": self.wait, "best_epoch": self.best_epoch}
        if self.best_weights is not None:
            state["best_weights"] = dict(self.best_weights)
        return state

    def load_state_dict(self, state):
        self.best, self.wait = state["best"], int(state["wait"])
        self.best_epoch = int(state["best_epoch"])
        self.best_weights = state.get("best_weights")


class ModelCheckpoint(Callback, _Monitor):
    """Save checkpoints with ``ember.save`` (atomic) at the end of epochs.

    A full checkpoint is ``{'model', 'optimizer', 'scheduler', 'epoch', 'rng_state',
    'history', 'callbacks'}`` (see ``Trainer.checkpoint``) and resumes with
    ``Trainer.fit(..., resume_from=path)``; with ``save_weights_only`` it is the model's
    state_dict alone. The Trainer runs checkpoints after the other callbacks, so a checkpoint
    holds their end-of-epoch state (early stopping counters, stepped schedulers).

    Args:
        filepath: path, formatted with ``epoch`` (completed epochs) and the logs:
            ``'ckpt/{epoch:03d}-{val_loss:.4f}.ember'``.
        monitor, mode: the metric deciding which epoch is best (``mode='auto'`` as EarlyStopping).
        save_best_only: save only when the monitored metric improves.
        save_weights_only: save ``model.state_dict()`` instead of the full training state.
        every_n_epochs: save every n epochs (ignored with ``save_best_only``).
    """

    def __init__(self, filepath, monitor="val_loss", mode="auto", save_best_only=False,
                 save_weights_only=False, every_n_epochs=1, verbose=0):
        self._init_monitor(monitor, mode)
        self.filepath, self.save_best_only = os.fspath(filepath), save_best_only
        self.save_weights_only, self.every_n_epochs = save_weights_only, int(every_n_epochs)
        self.verbose, self.best_path, self.last_path = verbose, None, None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only:
            value = self._current(logs)
            if value is None or not self._is_improvement(value):
                return
            self.best = value
        elif (epoch + 1) % self.every_n_epochs:
            return
        path = self.filepath.format(epoch=epoch + 1, **logs)
        self._save(path, epoch)
        self.last_path = path
        if self.save_best_only:
            self.best_path = path

    def _save(self, path, epoch):
        import ember

        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        if self.save_weights_only:
            obj = dict(self.trainer.model.state_dict())
        else:
            obj = self.trainer.checkpoint(epoch + 1)
        ember.save(obj, path)
        if self.verbose:
            print(f"Epoch {epoch + 1}: saved checkpoint to {path}")

    def state_dict(self):
        return {"best": self.best, "best_path": self.best_path}

    def load_state_dict(self, state):
        self.best, self.best_path = state["best"], state["best_path"]


def _is_plateau(scheduler):
    return any(c.__name__ == "ReduceLROnPlateau" for c in type(scheduler).__mro__)


class LRScheduler(Callback):
    """Step an LR scheduler once per epoch or once per optimizer step.

    ``ReduceLROnPlateau`` (recognised by class name, ember's or torch's) is stepped each epoch
    with the monitored metric. ``Trainer(scheduler=...)`` adds this callback for you.

    Args:
        scheduler: an object with ``step()`` (``step(metric)`` for plateau schedulers).
        interval: ``'epoch'`` or ``'batch'``.
        monitor: the log key fed to ``ReduceLROnPlateau``.
    """

    def __init__(self, scheduler, interval="epoch", monitor="val_loss"):
        if interval not in ("epoch", "batch"):
            raise ValueError(f"interval must be 'epoch' or 'batch', got {interval!r}")
        self.plateau = _is_plateau(scheduler)
        if self.plateau and interval == "batch":
            raise ValueError("ReduceLROnPlateau steps on a monitored metric: use interval='epoch'")
        self.scheduler, self.interval, self.monitor = scheduler, interval, monitor

    def on_batch_end(self, batch, logs=None):
        if self.interval == "batch" and self.trainer.optimizer_stepped:
            self.scheduler.step()

    def on_epoch_end(self, epoch, logs=None):
        if self.interval != "epoch":
            return
        if not self.plateau:
            self.scheduler.step()
            return
        value = (logs or {}).get(self.monitor)
        if value is None:
            raise KeyError(f"ReduceLROnPlateau monitors {self.monitor!r}, which is not in the "
                           f"logs {sorted(logs or {})}; pass monitor= or a val_loader")
        self.scheduler.step(float(value))


class CSVLogger(Callback):
    """Write one row of scalar logs per epoch to a CSV file (opened per row: no dangling handle).

    Args:
        filename: the CSV path.
        separator: field separator.
        append: append to an existing file (for resumed runs) instead of overwriting it.
    """

    def __init__(self, filename, separator=",", append=False):
        self.filename, self.sep, self.append = os.fspath(filename), separator, append
        self.keys = None

    def on_train_begin(self, logs=None):
        self.keys = None
        if self.append and os.path.exists(self.filename) and os.path.getsize(self.filename):
            with open(self.filename) as f:
                self.keys = f.readline().rstrip("\n").split(self.sep)[1:]
        elif not self.append or not os.path.exists(self.filename):
            with open(self.filename, "w"):
                pass

    def on_epoch_end(self, epoch, logs=None):
        from .history import _is_scalar

        row = {k: v for k, v in (logs or {}).items() if _is_scalar(v)}
        lines = []
        if self.keys is None:
            self.keys = list(row)
            lines.append(self.sep.join(["epoch"] + self.keys))
        lines.append(self.sep.join([str(epoch)] + [repr(float(row[k])) if k in row else ""
                                                   for k in self.keys]))
        with open(self.filename, "a", newline="") as f:
            f.write("\n".join(lines) + "\n")


class TensorBoardLogger(Callback):
    """Log scalar epoch metrics (and optionally the batch loss) for TensorBoard.

    Uses ``torch.utils.tensorboard`` or ``tensorboardX``; raises ImportError at construction
    when neither is installed.

    Args:
        log_dir: event file directory.
        log_batches: also log the training loss at every batch (``batch/loss``).
    """

    def __init__(self, log_dir, log_batches=False):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            try:
                from tensorboardX import SummaryWriter
            except ImportError as e:
                raise ImportError("TensorBoardLogger needs tensorboard (pip install tensorboard) "
                                  "or tensorboardX (pip install tensorboardX)") from e
        self.writer = SummaryWriter(log_dir=os.fspath(log_dir))
        self.log_batches, self._step = log_batches, 0

    def on_batch_end(self, batch, logs=None):
        self._step += 1
        if self.log_batches and logs and "loss" in logs:
            self.writer.add_scalar("batch/loss", float(logs["loss"]), self._step)

    def on_epoch_end(self, epoch, logs=None):
        from .history import _is_scalar

        for key, value in (logs or {}).items():
            if _is_scalar(value):
                self.writer.add_scalar(key, float(value), epoch + 1)
        self.writer.flush()

    def on_train_end(self, logs=None):
        self.writer.close()


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=lambda e, logs: ...)``."""

    def __init__(self, **hooks):
        for name, fn in hooks.items():
            if not name.startswith("on_") or not hasattr(Callback, name):
                raise ValueError(f"unknown callback hook {name!r}")
            setattr(self, name, fn)
