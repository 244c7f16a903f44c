"""Binary classification with BCEWithLogitsLoss: two Gaussian blobs, an MLP, Adam, accuracy."""
import ember
from ember import nn

ember.manual_seed(0)
n = 400
x = ember.cat([ember.randn(n, 2) + 1.5, ember.randn(n, 2) - 1.5])
y = ember.cat([ember.ones(n), ember.zeros(n)])

model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1))
loss_fn = nn.BCEWithLogitsLoss()
opt = ember.optim.Adam(model.parameters(), lr=0.01)
loader = ember.utils.data.DataLoader(ember.utils.data.TensorDataset(x, y), batch_size=64, shuffle=True)

for epoch in range(20):
    for xb, yb in loader:
        opt.zero_grad()
        loss = loss_fn(model(xb).squeeze(1), yb)
        loss.backward()
        opt.step()
with ember.no_grad():
    acc = ((model(x).squeeze(1) > 0).float() == y).float().mean().item()
print(f"loss {loss.item():.4f}  accuracy {acc:.3f}")
