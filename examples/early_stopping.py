"""Early stopping by hand: keep the best weights on a validation split, stop after `patience`
epochs without improvement, then restore them."""
import copy

import ember
from ember import nn
from ember.utils.data import DataLoader, TensorDataset, random_split

ember.manual_seed(0)
x = ember.randn(600, 10)
y = (x[:, :3].sum(1, keepdim=True) > 0).float()
train, val = random_split(TensorDataset(x, y), [0.8, 0.2], generator=ember.Generator().manual_seed(0))
train_dl, val_dl = DataLoader(train, batch_size=32, shuffle=True), DataLoader(val, batch_size=256)

model = nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Dropout(0.2), nn.Linear(64, 1))
opt = ember.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-2)
loss_fn = nn.BCEWithLogitsLoss()
best, best_state, patience, bad = float("inf"), None, 5, 0

for epoch in range(100):
    model.train()
    for xb, yb in train_dl:
        opt.zero_grad()
        loss_fn(model(xb), yb).backward()
        opt.step()
    model.eval()
    with ember.no_grad():
        val_loss = sum(loss_fn(model(xb), yb).item() * len(xb) for xb, yb in val_dl) / len(val)
    if val_loss < best - 1e-4:
        best, best_state, bad = val_loss, copy.deepcopy(model.state_dict()), 0
    else:
        bad += 1
        if bad >= patience:
            print(f"stopping at epoch {epoch}: no improvement for {patience} epochs")
            break
model.load_state_dict(best_state)
print(f"best validation loss {best:.4f}")
