"""ember.datasets: image datasets read from their original files, and simple transforms."""
from .mnist import MNIST, FashionMNIST, read_idx, embedded_fashion_mnist_dir  # noqa: F401
from .cifar import CIFAR10  # noqa: F401
from . import transforms  # noqa: F401
