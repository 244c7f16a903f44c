"""Regression with MSE: fit y = 3x1 - 2x2 + 0.5 + noise with a small MLP, plain PyTorch-style loop."""
import ember
from ember import nn

ember.manual_seed(0)
x = ember.randn(512, 2)
y = (3 * x[:, 0] - 2 * x[:, 1] + 0.5 + 0.1 * ember.randn(512)).unsqueeze(1)

model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 1))
loss_fn = nn.MSELoss()
opt = ember.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

for epoch in range(200):
    opt.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    opt.step()
    if epoch % 50 == 0:
        print(f"epoch {epoch:3d}  mse {loss.item():.4f}  rmse {loss.sqrt().item():.4f}")
print(f"final mse {loss.item():.4f}")
