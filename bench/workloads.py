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


def lenet_bn(L):
    """The main job's model (ember.apps.fashion_mnist.lenet): LeNet with 16 and 32 channels,
    BatchNorm after each convolution and dropout in the head."""
    n = L.nn
    return n.Sequential(n.Conv2d(1, 16, 5, padding=2), n.BatchNorm2d(16), n.ReLU(), n.MaxPool2d(2),
                        n.Conv2d(16, 32, 5), n.BatchNorm2d(32), n.ReLU(), n.MaxPool2d(2), n.Flatten(),
                        n.Linear(32 * 5 * 5, 120), n.ReLU(), n.Dropout(0.25), n.Linear(120, 84), n.ReLU(),
                        n.Linear(84, 10))


def one_conv(L):
    return L.nn.Sequential(L.nn.Conv2d(3, 64, 3, padding=1), L.nn.ReLU(), L.nn.MaxPool2d(2), L.nn.Flatten(),
                           L.nn.Linear(64 * 16 * 16, 10))


def vgg(L):
    n = L.nn
    return n.Sequential(n.Conv2d(3, 32, 3, padding=1), n.ReLU(), n.Conv2d(32, 32, 3, padding=1), n.ReLU(),
                        n.MaxPool2d(2), n.Conv2d(32, 64, 3, padding=1), n.ReLU(), n.Conv2d(64, 64, 3, padding=1),
                        n.ReLU(), n.MaxPool2d(2), n.Conv2d(64, 128, 3, padding=1), n.ReLU(), n.MaxPool2d(2),
                        n.Flatten(), n.Linear(2048, 256), n.ReLU(), n.Linear(256, 10))


def transformer(L):
    """The issue's 2-layer Transformer encoder (d 128, 4 heads, feed-forward 512, dropout 0.1; what
    torch.nn.TransformerEncoderLayer computes in training: post-norm, ReLU), written out from the
    building blocks so that both libraries run the same ops, then mean over the sequence and a
    Linear to 10 classes."""
    nn, F = L.nn, L.nn.functional

    class EncoderLayer(nn.Module):
        def __init__(self, d, heads, ff, p):
            super().__init__()
            self.heads = heads
            self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
            self.ff1, self.ff2 = nn.Linear(d, ff), nn.Linear(ff, d)
            self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.drop = nn.Dropout(p)

        def forward(self, x):
            b, s, d = x.shape
            qkv = self.qkv(x).view(b, s, 3, self.heads, d // self.heads)
            q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
            att = F.softmax((q @ k.transpose(-2, -1)) * (d // self.heads) ** -0.5, dim=-1)
            a = (self.drop(att) @ v).transpose(1, 2).reshape(b, s, d)
            x = self.norm1(x + self.drop(self.proj(a)))
            return self.norm2(x + self.drop(self.ff2(self.drop(F.relu(self.ff1(x))))))

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([EncoderLayer(128, 4, 512, 0.1) for _ in range(2)])
            self.head = nn.Linear(128, 10)

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return self.head(x.mean(1))

    return Encoder()


MODELS = {  # name: (builder, input shape, optimizer)
    "mlp": (mlp, (128, 784), "sgd"),
    "lenet": (lenet, (64, 1, 28, 28), "adam"),
    "lenet_bn": (lenet_bn, (64, 1, 28, 28), "adam"),
    "one_conv": (one_conv, (64, 3, 32, 32), "sgd"),
    "vgg": (vgg, (128, 3, 32, 32), "adam"),
    "transformer": (transformer, (32, 64, 128), "adamw"),
}


def train_step_for(L, name):
    """A closure running one training step of MODELS[name] with library L (ember or torch)."""
    build, shape, opt_name = MODELS[name]
    L.manual_seed(0)
    model = build(L)
    if opt_name == "sgd":
        opt = L.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    elif opt_name == "adam":
        opt = L.optim.Adam(model.parameters(), lr=1e-3)
    else:
        opt = L.optim.AdamW(model.parameters(), lr=1e-3)
    x = L.randn(*shape)
    y = L.randint(0, 10, (shape[0],))
    loss_fn = L.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    return step
