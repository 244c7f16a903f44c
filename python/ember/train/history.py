"""History: the per-epoch logs of a fit run, as Keras keeps them (``history.history['val_loss']``).

Plotting needs matplotlib (the ``plot`` extra); it is imported only by :meth:`History.plot`.
"""
import numbers

__all__ = ["History"]


def _is_scalar(v):
    return isinstance(v, numbers.Number) or (hasattr(v, "ndim") and v.ndim == 0)


class History:
    """Per-epoch metrics of a fit run.

    Attributes:
        history: dict of lists, one entry per completed epoch for each key (``loss``,
            ``val_loss``, ``accuracy``, ``val_accuracy``, ``lr``...). A key missing at some epoch
            (validation every other epoch) holds ``None`` there, so all lists stay aligned.
        epoch: list of the 0-based epoch indices recorded.
    """

    def __init__(self):
        self.history = {}
        self.epoch = []

    def append(self, epoch, logs):
        """Record the logs of one finished epoch (non-scalar values are kept as they are)."""
        n = len(self.epoch)
        for key in logs:
            if key not in self.history:
                self.history[key] = [None] * n
        for key, values in self.history.items():
            v = logs.get(key)
            values.append(float(v) if _is_scalar(v) else v)
        self.epoch.append(int(epoch))

    def __getitem__(self, key):
        return self.history[key]

    def __contains__(self, key):
        return key in self.history

    def __len__(self):
        return len(self.epoch)

    def keys(self):
        return self.history.keys()

    def last(self):
        """The logs of the last epoch as a dict (empty before the first epoch)."""
        return {k: v[-1] for k, v in self.history.items()} if self.epoch else {}

    def state_dict(self):
        """Plain lists and dicts (scalar entries only), suitable for ``ember.save``."""
        scalars = {k: v for k, v in self.history.items()
                   if all(x is None or isinstance(x, float) for x in v)}
        return {"history": {k: list(v) for k, v in scalars.items()}, "epoch": list(self.epoch)}

    def load_state_dict(self, state):
        self.history = {k: [None if x is None else float(x) for x in v]
                        for k, v in state["history"].items()}
        self.epoch = [int(e) for e in state["epoch"]]

    def plot(self, path, metrics=None, dpi=100):
        """Draw train and validation curves of each metric, one panel per metric, to a PNG.

        Args:
            path: output file (the format follows its extension; ``.png`` recommended).
            metrics: base names to draw (``['loss', 'accuracy']``); default: every scalar key
                without its ``val_`` prefix, except ``lr``.
            dpi: resolution of the image.
        """
        try:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure
            from matplotlib.ticker import MaxNLocator
        except ImportError as e:
            raise ImportError("History.plot needs matplotlib: install the plot extra "
                              "(pip install 'ember[plot]') or pip install matplotlib") from e
        if metrics is None:
            metrics = []
            for key, values in self.history.items():
                base = key.removeprefix("val_")
                if base != "lr" and base not in metrics and all(
                        x is None or isinstance(x, float) for x in values):
                    metrics.append(base)
        if not metrics:
            raise ValueError("nothing to plot: the history has no scalar metrics")
        epochs = [e + 1 for e in self.epoch]
        fig = Figure(figsize=(5 * len(metrics), 4), dpi=dpi)
        FigureCanvasAgg(fig)
        for i, name in enumerate(metrics):
            ax = fig.add_subplot(1, len(metrics), i + 1)
            for key, label in ((name, "train"), ("val_" + name, "validation")):
                if key in self.history:
                    pts = [(e, v) for e, v in zip(epochs, self.history[key]) if v is not None]
                    if pts:
                        ax.plot(*zip(*pts), marker="o", label=label)
            ax.set_title(name)
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(True, alpha=0.3)
            ax.legend()
        fig.tight_layout()
        fig.savefig(path)
        return path

    def __repr__(self):
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"
