"""Progress reporting: a tqdm bar per epoch on terminals, one plain line per epoch elsewhere.

tqdm is optional: without it, or when the output is not a terminal (CI logs, files), the
callback prints ``Epoch 3/10 - loss 0.4123 - accuracy 0.8511 - val_loss ...`` once per epoch.
"""
import sys

from .callbacks import Callback
from .history import _is_scalar

__all__ = ["ProgressBar", "format_logs"]


def format_logs(logs, skip=("lr",)):
    """``'loss 0.4123 - accuracy 0.8511'`` from the scalar entries of a logs dict."""
    parts = []
    for key, value in (logs or {}).items():
        if key in skip or not _is_scalar(value):
            continue
        parts.append(f"{key} {float(value):.4g}")
    return " - ".join(parts)


def _tqdm():
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm


class ProgressBar(Callback):
    """Report training progress.

    Args:
        verbose: 0 silent, 1 a bar per epoch (or one line per epoch when not on a terminal),
            2 one line per epoch always.
        file: the stream to write to (default ``sys.stdout``, looked up at train start).
        use_tqdm: force (True) or forbid (False) tqdm; default: tqdm when installed and ``file``
            is a terminal.
    """

    def __init__(self, verbose=1, file=None, use_tqdm=None):
        if verbose not in (0, 1, 2):
            raise ValueError(f"verbose must be 0, 1 or 2, got {verbose!r}")
        self.verbose, self.file, self.use_tqdm = verbose, file, use_tqdm
        self._bar, self._epochs, self._stream = None, None, None

    def _bar_enabled(self, stream):
        if self.verbose != 1 or self.use_tqdm is False:
            return False
        if self.use_tqdm:
            if _tqdm() is None:
                raise ImportError("ProgressBar(use_tqdm=True) needs tqdm: pip install tqdm")
            return True
        isatty = getattr(stream, "isatty", None)
        return _tqdm() is not None and bool(isatty and isatty())

    def on_train_begin(self, logs=None):
        self._stream = self.file if self.file is not None else sys.stdout
        self._epochs = getattr(self.trainer, "epochs", None)

    def on_epoch_begin(self, epoch, logs=None):
        if not self.verbose or not self._bar_enabled(self._stream):
            return
        total = getattr(self.trainer, "steps_per_epoch", None)
        desc = f"Epoch {epoch + 1}" + (f"/{self._epochs}" if self._epochs else "")
        self._bar = _tqdm()(total=total, desc=desc, file=self._stream, leave=True,
                            dynamic_ncols=True, unit="batch")

    def on_batch_end(self, batch, logs=None):
        if self._bar is not None:
            self._bar.update(1)
            running = getattr(self.trainer, "running_logs", None) or logs or {}
            self._bar.set_postfix_str(format_logs(running), refresh=False)

    def on_epoch_end(self, epoch, logs=None):
        if not self.verbose:
            return
        text = format_logs(logs)
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=False)
            self._bar.close()
            self._bar = None
            return
        desc = f"Epoch {epoch + 1}" + (f"/{self._epochs}" if self._epochs else "")
        print(f"{desc} - {text}" if text else desc, file=self._stream, flush=True)

    def on_train_end(self, logs=None):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
