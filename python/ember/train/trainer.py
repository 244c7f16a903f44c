"""Trainer: the fit / evaluate / predict loop around a model, an optimizer and a loss.

A convenience over the plain PyTorch-style loop, which keeps working unchanged. It assumes
torch's optimizer API (``zero_grad``, ``step``, ``state_dict``, ``load_state_dict``,
``param_groups``), loaders that are iterables of ``(input, target)`` batches (``len()`` optional),
and ``ember.save`` / ``ember.load`` for checkpoints.
"""
import contextlib
import copy
import math
import random

import numpy as np

from .callbacks import Callback, CallbackList, LRScheduler, ModelCheckpoint
from .history import History
from .metrics import Metric, get_metric
from .progress import ProgressBar

__all__ = ["Trainer", "clip_grad_norm_"]


def _local_clip_grad_norm_(parameters, max_norm):
    """Scale gradients in place so their global L2 norm is at most ``max_norm``; return the norm."""
    import ember

    grads = [p.grad for p in parameters if getattr(p, "grad", None) is not None]
    if not grads:
        return 0.0
    with ember.no_grad():
        total = math.sqrt(sum(float((g * g).sum().item()) for g in grads))
        coef = float(max_norm) / (total + 1e-6)
        if coef < 1.0:
            for g in grads:
                g.mul_(coef)
    return total


def clip_grad_norm_(parameters, max_norm):
    """``ember.nn.utils.clip_grad_norm_`` when it exists, else a local global-norm clip."""
    try:
        from ember.nn.utils import clip_grad_norm_ as clip
    except ImportError:
        clip = _local_clip_grad_norm_
    return clip(list(parameters), max_norm)


def _batch_size(t):
    shape = getattr(t, "shape", None)
    return len(t) if shape is None else (int(shape[0]) if len(shape) else 1)


def _loader_generators(loader):
    """Generators with get_state/set_state a loader shuffles with (torch DataLoader layout)."""
    found = []
    sampler = getattr(loader, "sampler", None)
    inner = getattr(getattr(loader, "batch_sampler", None), "sampler", None)
    for owner in (loader, sampler, inner):
        g = getattr(owner, "generator", None)
        if hasattr(g, "get_state") and hasattr(g, "set_state") and all(g is not f for f in found):
            found.append(g)
    return found


def _mark_last(loader, length):
    """Yield (batch, is_last); without a length, look one batch ahead to find the last."""
    if length is not None:
        for i, batch in enumerate(loader):
            yield batch, i + 1 == length
        return
    it = iter(loader)
    try:
        prev = next(it)
    except StopIteration:
        return
    for batch in it:
        yield prev, False
        prev = batch
    yield prev, True


def _plain(x):
    return x.tolist() if hasattr(x, "tolist") else x


class Trainer:
    """Fit a model with an optimizer and a loss; evaluate and predict.

    Args:
        model: an ``ember.nn.Module`` (or any callable with ``train()``/``eval()``/``state_dict``).
        optimizer: torch-API optimizer; only needed by :meth:`fit`.
        loss_fn: ``loss_fn(output, target) -> scalar tensor``.
        metrics: Metric instances, names (``'accuracy'``, ``'top5_accuracy'``, ``'f1'``, ``'mse'``)
            or callables ``fn(output, target) -> float``.
        callbacks: Callback instances used by every :meth:`fit`.
        scheduler: an LR scheduler stepped per ``scheduler_interval`` (``'epoch'`` | ``'batch'``);
            ``ReduceLROnPlateau`` is fed the ``monitor`` metric every epoch.
        monitor: the log key fed to ``ReduceLROnPlateau`` (default ``'val_loss'``).
        grad_clip_norm: clip the gradients' global L2 norm to this before each step.
        accumulation_steps: batches whose gradients are summed (losses scaled by 1/n) per step.
        device: where batches and the model go (``.to(device)``); None leaves them as they are.
        verbose: 0 silent, 1 progress bar (plain lines off a terminal), 2 one line per epoch.
    """

    def __init__(self, model, optimizer=None, loss_fn=None, metrics=(), callbacks=(),
                 scheduler=None, scheduler_interval="epoch", monitor="val_loss",
                 grad_clip_norm=None, accumulation_steps=1, device=None, verbose=1):
        if int(accumulation_steps) < 1:
            raise ValueError(f"accumulation_steps must be >= 1, got {accumulation_steps}")
        if grad_clip_norm is not None and not grad_clip_norm > 0:
            raise ValueError(f"grad_clip_norm must be positive, got {grad_clip_norm}")
        if isinstance(metrics, (str, Metric)) or callable(metrics):
            metrics = [metrics]
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.metrics = [get_metric(m) for m in metrics]
        self._val_metrics = [copy.deepcopy(m) for m in self.metrics]
        names = [m.name for m in self.metrics]
        if len(set(names)) != len(names) or "loss" in names:
            raise ValueError(f"metric names must be unique and not 'loss': {names}")
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be Callback instances, got {type(cb).__name__}")
        self.callbacks = list(callbacks)
        self.scheduler, self.scheduler_interval = scheduler, scheduler_interval
        self.monitor, self.grad_clip_norm = monitor, grad_clip_norm
        self.accumulation_steps, self.verbose = int(accumulation_steps), verbose
        self.device = device
        if device is not None:
            self.model.to(device)
        self._scheduler_cb = (LRScheduler(scheduler, scheduler_interval, monitor)
                              if scheduler is not None else None)
        self.history = History()
        self.stop_training, self.optimizer_stepped, self.global_step = False, False, 0
        self.epochs = self.steps_per_epoch = self.running_logs = None
        self._train_loader, self._active = None, None

    # --- the loop --------------------------------------------------------------------------------
    def fit(self, train_loader, val_loader=None, epochs=1, initial_epoch=0, resume_from=None,
            callbacks=()):
        """Train for ``epochs`` epochs in total (from ``initial_epoch``, or where a checkpoint
        ended with ``resume_from=path``) and return the :class:`History`.

        Per epoch the logs hold ``loss``, the metrics, ``lr`` (the rate used during the epoch),
        and ``val_``-prefixed versions with a ``val_loader``.
        """
        if self.optimizer is None or self.loss_fn is None:
            raise ValueError("fit needs an optimizer and a loss_fn")
        self.history, self.stop_training, self.epochs = History(), False, int(epochs)
        self._train_loader = train_loader
        self.steps_per_epoch = len(train_loader) if hasattr(train_loader, "__len__") else None
        cbs = CallbackList(self._all_callbacks(callbacks))
        cbs.set_trainer(self)
        self._active = cbs.callbacks
        try:
            self._fit(train_loader, val_loader, cbs, initial_epoch, resume_from)
        finally:
            self._train_loader, self._active = None, None
        return self.history

    def _fit(self, train_loader, val_loader, cbs, initial_epoch, resume_from):
        cbs.on_train_begin({})
        start = int(initial_epoch)
        if resume_from is not None:
            start = self.restore(resume_from, cbs)
        for epoch in range(start, self.epochs):
            lr = self._current_lr()
            cbs.on_epoch_begin(epoch, {})
            logs = self._train_epoch(train_loader, cbs)
            if lr is not None:
                logs["lr"] = lr
            if val_loader is not None:
                val = self.evaluate(val_loader, _metrics=self._val_metrics)
                logs.update({"val_" + k: v for k, v in val.items()})
            self.history.append(epoch, logs)
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        cbs.on_train_end(self.history.last())

    def _all_callbacks(self, extra):
        user = self.callbacks + list(extra)
        found = [cb for cb in user if isinstance(cb, LRScheduler)]
        if self.scheduler is None and found:
            self.scheduler = found[0].scheduler
        # Order: user callbacks (they may add to the logs), the scheduler (fed those logs), the
        # progress bar, then checkpoints, which so hold everyone's end-of-epoch state.
        out = [cb for cb in user if not isinstance(cb, ModelCheckpoint)]
        if self._scheduler_cb is not None:
            out.append(self._scheduler_cb)
        if self.verbose and not any(isinstance(cb, ProgressBar) for cb in user):
            out.append(ProgressBar(self.verbose))
        return out + [cb for cb in user if isinstance(cb, ModelCheckpoint)]

    def _train_epoch(self, loader, cbs):
        self.model.train()
        for m in self.metrics:
            m.reset()
        total, count, k = 0.0, 0, self.accumulation_steps
        self.optimizer.zero_grad()
        for i, (batch, last) in enumerate(_mark_last(loader, self.steps_per_epoch)):
            cbs.on_batch_begin(i, {})
            x, y = self._unpack(batch)
            output = self._forward(x)
            loss = self.loss_fn(output, y)
            (loss / k if k > 1 else loss).backward()
            self.optimizer_stepped = False
            if (i + 1) % k == 0 or last:
                self._optimizer_step()
            value, n = float(loss.item()), _batch_size(y)
            total, count = total + value * n, count + n
            detached = output.detach() if hasattr(output, "detach") else output
            for m in self.metrics:
                m.update(detached, y)
            self.running_logs = {"loss": total / count}
            cbs.on_batch_end(i, {"loss": value, "size": n})
        logs = {"loss": total / count if count else math.nan}
        logs.update({m.name: m.compute() for m in self.metrics})
        return logs

    def _optimizer_step(self):
        if self.grad_clip_norm is not None:
            params = [p for g in self.optimizer.param_groups for p in g["params"]]
            clip_grad_norm_(params, self.grad_clip_norm)
        self.optimizer.step()
        self.optimizer.zero_grad()
        self.optimizer_stepped = True
        self.global_step += 1

    def evaluate(self, loader, _metrics=None):
        """Mean loss (when a loss_fn is set) and metrics over ``loader``, without gradients."""
        metrics = self._val_metrics if _metrics is None else _metrics
        for m in metrics:
            m.reset()
        total, count = 0.0, 0
        with self._inference():
            for batch in loader:
                x, y = self._unpack(batch)
                output = self._forward(x)
                if self.loss_fn is not None:
                    n = _batch_size(y)
                    total += float(self.loss_fn(output, y).item()) * n
                    count += n
                for m in metrics:
                    m.update(output, y)
        logs = {"loss": total / count if count else math.nan} if self.loss_fn is not None else {}
        logs.update({m.name: m.compute() for m in metrics})
        return logs

    def predict(self, loader):
        """Model outputs over ``loader`` (batches ``(x, y)`` or bare ``x``), joined on dim 0."""
        import ember

        outputs = []
        with self._inference():
            for batch in loader:
                x = batch[0] if isinstance(batch, (tuple, list)) else batch
                outputs.append(self._forward(self._to_device(x)))
        if not outputs:
            raise ValueError("predict: the loader yielded no batches")
        return ember.cat(outputs, 0) if isinstance(outputs[0], ember.Tensor) else outputs

    # --- helpers ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _inference(self):
        """eval() mode and no_grad for the block; the previous mode comes back after it."""
        import ember

        was_training = getattr(self.model, "training", False)
        self.model.eval()
        try:
            with ember.no_grad():
                yield
        finally:
            self.model.train(was_training)

    def _to_device(self, x):
        if self.device is None:
            return x
        if isinstance(x, (tuple, list)):
            return type(x)(self._to_device(v) for v in x)
        if isinstance(x, dict):
            return {k: self._to_device(v) for k, v in x.items()}
        return x.to(self.device) if hasattr(x, "to") else x

    def _unpack(self, batch):
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise ValueError("training and evaluation batches must be (input, target) pairs")
        return self._to_device(batch[0]), self._to_device(batch[1])

    def _forward(self, x):
        if isinstance(x, (tuple, list)):
            return self.model(*x)
        if isinstance(x, dict):
            return self.model(**x)
        return self.model(x)

    def _current_lr(self):
        groups = getattr(self.optimizer, "param_groups", None)
        return float(groups[0]["lr"]) if groups and "lr" in groups[0] else None

    # --- checkpoints -----------------------------------------------------------------------------
    @staticmethod
    def _callback_keys(callbacks):
        seen = {}
        for cb in callbacks:
            name = type(cb).__name__
            seen[name] = seen.get(name, -1) + 1
            yield f"{name}_{seen[name]}", cb

    def checkpoint(self, epoch):
        """The full training state after ``epoch`` completed epochs, as nested dicts and lists.

        Keys: ``model``, ``optimizer``, ``scheduler``, ``epoch``, ``global_step``, ``rng_state``
        (ember's), ``numpy_rng_state`` / ``python_rng_state`` (plain lists),
        ``loader_rng_state`` (the train loader's own generators), ``history``, ``callbacks``.
        Tensors alias the live ones (as ``state_dict`` does): save the result, or clone it.
        """
        import ember

        np_state = np.random.get_state()
        py_state = random.getstate()
        cb_states = {}
        for key, cb in self._callback_keys(self._active_callbacks()):
            state = cb.state_dict()
            if state:
                cb_states[key] = state
        sched = self.scheduler
        return {
            "model": dict(self.model.state_dict()),
            "optimizer": self.optimizer.state_dict() if self.optimizer is not None else None,
            "scheduler": sched.state_dict() if hasattr(sched, "state_dict") else None,
            "epoch": int(epoch),
            "global_step": self.global_step,
            "rng_state": ember.get_rng_state(),
            "numpy_rng_state": [np_state[0], np_state[1].tolist(), int(np_state[2]),
                                int(np_state[3]), float(np_state[4])],
            "python_rng_state": [py_state[0], list(py_state[1]), py_state[2]],
            "loader_rng_state": [g.get_state() for g in _loader_generators(self._train_loader)],
            "history": self.history.state_dict(),
            "callbacks": cb_states,
        }

    def _active_callbacks(self):
        return self._active if self._active is not None else self.callbacks

    def restore(self, path_or_state, callbacks=None):
        """Load a checkpoint (a path or a dict from :meth:`checkpoint`) into the model, optimizer,
        scheduler, RNGs, history and callbacks; return the number of completed epochs."""
        import ember

        ckpt = path_or_state if isinstance(path_or_state, dict) else ember.load(path_or_state)
        if not isinstance(ckpt, dict) or "model" not in ckpt or "epoch" not in ckpt:
            raise ValueError("not a full training checkpoint (saved with save_weights_only?); "
                             "load weights with model.load_state_dict(ember.load(path))")
        self.model.load_state_dict(ckpt["model"])
        if self.optimizer is not None and ckpt.get("optimizer") is not None:
            self.optimizer.load_state_dict(ckpt["optimizer"])
        if self.scheduler is not None and ckpt.get("scheduler") is not None:
            self.scheduler.load_state_dict(ckpt["scheduler"])
        self.global_step = int(ckpt.get("global_step", 0))
        if ckpt.get("history") is not None:
            self.history.load_state_dict(ckpt["history"])
        states = ckpt.get("callbacks") or {}
        active = list(callbacks) if callbacks is not None else self._active_callbacks()
        for key, cb in self._callback_keys(active):
            if key in states:
                cb.load_state_dict(states[key])
        ember.set_rng_state(ckpt["rng_state"])
        if ckpt.get("numpy_rng_state") is not None:
            s = [_plain(v) for v in ckpt["numpy_rng_state"]]
            np.random.set_state((s[0], np.array(s[1], dtype=np.uint32), int(s[2]), int(s[3]),
                                 float(s[4])))
        if ckpt.get("python_rng_state") is not None:
            s = [_plain(v) for v in ckpt["python_rng_state"]]
            random.setstate((int(s[0]), tuple(int(v) for v in s[1]), s[2]))
        gens = _loader_generators(self._train_loader)
        for g, state in zip(gens, ckpt.get("loader_rng_state") or []):
            g.set_state(state)
        return int(ckpt["epoch"])

    def __repr__(self):
        return (f"Trainer(model={type(self.model).__name__}, optimizer="
                f"{type(self.optimizer).__name__}, metrics={[m.name for m in self.metrics]})")

