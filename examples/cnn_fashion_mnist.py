"""Multi-class CNN with cross-entropy and Adam on Fashion-MNIST (embedded subset, or the full set
when installed), written as a plain PyTorch-style loop."""
import ember
from ember import nn
from ember.datasets import FashionMNIST
from ember.utils.data import DataLoader, TensorDataset

ember.manual_seed(0)
train_x, train_y = FashionMNIST(train=True).as_tensors()
test_x, test_y = FashionMNIST(train=False).as_tensors()
train = DataLoader(TensorDataset(train_x, train_y), batch_size=64, shuffle=True)
test = DataLoader(TensorDataset(test_x, test_y), batch_size=512)

model = nn.Sequential(
    nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, 10),
)
opt = ember.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()

for epoch in range(2):
    model.train()
    for xb, yb in train:
        opt.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
    model.eval()
    correct = 0
    with ember.no_grad():
        for xb, yb in test:
            correct += (model(xb).argmax(1) == yb).sum().item()
    print(f"epoch {epoch + 1}: loss {loss.item():.4f}, test accuracy {correct / len(test_y):.4f}")
