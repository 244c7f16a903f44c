"""Benchmark workloads shared by compare_torch.py and its RSS subprocesses. Imports neither
ember nor torch: every builder takes the library (ember or torch) as its argument."""


def mlp(L):
    return L.nn.Sequential(L.nn.Linear(784, 256), L.nn.ReLU(), L.nn.Linear(256, 128), L.nn.ReLU(),
                           L.nn.Linear(128, 10))


def lenet(L):
    return L.nn.Sequential(L.nn.Conv2d(1, 6, 5, padding=2), L.nn.ReLU(), L.nn.MaxPool2d(2),
                           L.nn.Conv2d(6, 16, 5), L.nn.ReLU(), L.nn.MaxPool2d(2), L.nn.Flatten(),
                           L.nn.Linear(400, 120), L.nn.ReLU(), L.nn.Linear(120, 84), L.nn.ReLU(),
                           L.nn.Linear(84, 10))


def one_conv(L):
    return L.nn.Sequential(L.nn.Conv2d(3, 64, 3, padding=1), L.nn.ReLU(), L.nn.MaxPool2d(2), L.nn.Flatten(),
                           L.nn.Linear(64 * 16 * 16, 10))


def vgg(L):
    n = L.nn
    return n.Sequential(n.Conv2d(3, 32, 3, padding=1), n.ReLU(), n.Conv2d(32, 32, 3, padding=1), n.ReLU(),
                        n.MaxPool2d(2), n.Conv2d(32, 64, 3, padding=1), n.ReLU(), n.Conv2d(64, 64, 3, padding=1),
                        n.ReLU(), n.MaxPool2d(2), n.Conv2d(64, 128, 3, padding=1), n.ReLU(), n.MaxPool2d(2),
                        n.Flatten(), n.Linear(2048, 256), n.ReLU(), n.Linear(256, 10))


MODELS = {  # name: (builder, input shape, optimizer)
    "mlp": (mlp, (128, 784), "sgd"),
    "lenet": (lenet, (64, 1, 28, 28), "adam"),
    "one_conv": (one_conv, (64, 3, 32, 32), "sgd"),
    "vgg": (vgg, (128, 3, 32, 32), "adam"),
}


def train_step_for(L, name):
    """A closure running one training step of MODELS[name] with library L (ember or torch)."""
    build, shape, opt_name = MODELS[name]
    L.manual_seed(0)
    model = build(L)
    opt = L.optim.SGD(model.parameters(), lr=0.01, momentum=0.9) if opt_name == "sgd" \
        else L.optim.Adam(model.parameters(), lr=1e-3)
    x = L.randn(*shape)
    y = L.randint(0, 10, (shape[0],))
    loss_fn = L.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    return step
