"""ember.train: the fit loop (Trainer), callbacks, metrics, history and progress reporting.

The plain PyTorch-style loop keeps working; the Trainer is a convenience over it::

    trainer = ember.train.Trainer(model, optimizer, loss_fn, metrics=["accuracy"],
                                  callbacks=[ember.train.EarlyStopping(patience=3)])
    history = trainer.fit(train_loader, val_loader, epochs=20)
    history.plot("curves.png")
"""
from . import metrics  # noqa: F401
from .callbacks import (  # noqa: F401
    Callback,
    CallbackList,
    CSVLogger,
    EarlyStopping,
    LambdaCallback,
    LRScheduler,
    ModelCheckpoint,
    TensorBoardLogger,
)
from .history import History  # noqa: F401
from .metrics import (  # noqa: F401
    Accuracy,
    ConfusionMatrix,
    F1Score,
    MeanAbsoluteError,
    MeanSquaredError,
    Metric,
    Precision,
    R2Score,
    Recall,
    RootMeanSquaredError,
    TopKAccuracy,
)
from .progress import ProgressBar  # noqa: F401
from .trainer import Trainer, clip_grad_norm_  # noqa: F401
