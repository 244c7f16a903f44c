"""Fine-tuning: load a "pretrained" body, freeze it, replace the head, and train the head with a
larger learning rate than the (unfrozen) last body layer."""
import ember
from ember import nn

ember.manual_seed(0)
body = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU())
pretrained = nn.Sequential(body, nn.Linear(32, 5))
ember.save(pretrained.state_dict(), "pretrained.safetensors")

model = nn.Sequential(nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU()), nn.Linear(32, 5))
model.load_state_dict(ember.load("pretrained.safetensors"))
model[1] = nn.Linear(32, 2)  # a new head for a 2-class task
for p in model[0].parameters():
    p.requires_grad_(False)  # freeze the body ...
for p in model[0][2].parameters():
    p.requires_grad_(True)   # ... except its last layer, trained slowly

opt = ember.optim.Adam([
    {"params": model[0][2].parameters(), "lr": 1e-4},
    {"params": model[1].parameters(), "lr": 1e-2},
])
x, y = ember.randn(128, 8), ember.randint(0, 2, (128,))
frozen_before = model[0][0].weight.detach().clone()
for _ in range(50):
    opt.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
unchanged = bool((frozen_before == model[0][0].weight).all())
assert unchanged, "a frozen parameter changed"
print(f"loss {loss.item():.4f}; frozen layer unchanged: {unchanged}")
