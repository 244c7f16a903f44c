"""Train a LeNet-style CNN on Fashion-MNIST: Ember's main job.

    python -m ember.apps.fashion_mnist [--epochs 5] [--batch-size 64] [--optimizer adam]
                                       [--lr 1e-3] [--data-dir DIR] [--threads N] [--out runs/...]

Data: ``--data-dir`` if given, else the full set from Debian's dataset-fashion-mnist
(/usr/share/datasets/fashion-mnist) when installed, else the 8,000 / 2,000-image subset shipped
inside Ember. 10% of the training images are held out for validation. The run shows a progress
bar per epoch, validates every epoch, stops early when validation loss stops improving (restoring
the best weights), reports the test accuracy, and writes a checkpoint, a CSV log and a PNG of the
training curves (when matplotlib is installed).
"""
import argparse
import os
import sys
import time

import ember
from ember import nn
from ember.datasets import FashionMNIST
from ember.train import CSVLogger, EarlyStopping, ModelCheckpoint, Trainer
from ember.utils.data import DataLoader, TensorDataset, random_split

OPTIMIZERS = {
    "adam": lambda p, lr: ember.optim.Adam(p, lr=lr),
    "adamw": lambda p, lr: ember.optim.AdamW(p, lr=lr, weight_decay=1e-2),
    "sgd": lambda p, lr: ember.optim.SGD(p, lr=lr, momentum=0.9, nesterov=True),
    "rmsprop": lambda p, lr: ember.optim.RMSprop(p, lr=lr),
}


def lenet(num_classes=10):
    """LeNet-5 with ReLU and max pooling, BatchNorm after the convolutions, dropout in the head."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 5, padding=2), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 5), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 5 * 5, 120), nn.ReLU(), nn.Dropout(0.25),
        nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, num_classes),
    )


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m ember.apps.fashion_mnist", description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=5, help="maximum number of epochs (default 5)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adam")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default 1e-3, 0.05 for sgd)")
    p.add_argument("--data-dir", default=None, help="directory with the Fashion-MNIST IDX files")
    p.add_argument("--subset", action="store_true", help="use the embedded subset even if the full set exists")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    p.add_argument("--patience", type=int, default=2, help="early-stopping patience in epochs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=os.path.join("runs", "fashion_mnist"), help="output directory")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        ember.set_num_threads(args.threads)
    ember.manual_seed(args.seed)
    root = ember.datasets.embedded_fashion_mnist_dir() if args.subset else args.data_dir
    train_set, test_set = FashionMNIST(root, train=True), FashionMNIST(root, train=False)
    source = "embedded subset" if train_set.is_embedded_subset else train_set.root
    x, y = train_set.as_tensors()
    tx, ty = test_set.as_tensors()
    mean, std = float(x.mean()), float(x.std())
    x, tx = (x - mean) / std, (tx - mean) / std
    train_part, val_part = random_split(TensorDataset(x, y), [0.9, 0.1],
                                        generator=ember.Generator().manual_seed(args.seed))
    gen = ember.Generator().manual_seed(args.seed + 1)
    train_loader = DataLoader(train_part, batch_size=args.batch_size, shuffle=True, generator=gen)
    val_loader = DataLoader(val_part, batch_size=512)
    test_loader = DataLoader(TensorDataset(tx, ty), batch_size=512)

    model = lenet()
    lr = args.lr if args.lr is not None else (0.05 if args.optimizer == "sgd" else 1e-3)
    optimizer = OPTIMIZERS[args.optimizer](model.parameters(), lr)
    scheduler = ember.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.5, patience=1)
    os.makedirs(args.out, exist_ok=True)
    ckpt = os.path.join(args.out, "best.safetensors")
    callbacks = [
        EarlyStopping(monitor="val_loss", patience=args.patience, restore_best_weights=True),
        ModelCheckpoint(ckpt, monitor="val_loss", save_best_only=True),
        CSVLogger(os.path.join(args.out, "history.csv")),
    ]
    trainer = Trainer(model, optimizer, nn.CrossEntropyLoss(), metrics=["accuracy"], callbacks=callbacks,
                      scheduler=scheduler, verbose=0 if args.quiet else 1)
    say = (lambda *a: None) if args.quiet else print
    say(f"Fashion-MNIST ({source}): {len(train_part)} train / {len(val_part)} validation / {len(tx)} test "
        f"images; {sum(p.numel() for p in model.parameters())} parameters; optimizer {args.optimizer} "
        f"lr {lr}; {ember.get_num_threads()} threads")
    start = time.perf_counter()
    history = trainer.fit(train_loader, val_loader, epochs=args.epochs)
    elapsed = time.perf_counter() - start
    test = trainer.evaluate(test_loader)
    plot = os.path.join(args.out, "curves.png")
    try:
        history.plot(plot)
    except ImportError as e:
        plot = f"(not drawn: {e})"
    say(f"test accuracy {test['accuracy']:.4f}, test loss {test['loss']:.4f} "
        f"after {len(history.history['loss'])} epochs in {elapsed:.1f} s")
    say(f"checkpoint: {ckpt}\nlog: {os.path.join(args.out, 'history.csv')}\ncurves: {plot}")
    return test


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
