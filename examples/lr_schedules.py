"""Learning-rate schedules: OneCycleLR stepped per batch, then ReduceLROnPlateau fed a metric."""
import ember
from ember import nn
from ember.optim import lr_scheduler

ember.manual_seed(0)
x, y = ember.randn(256, 4), ember.randn(256, 1)
model = nn.Linear(4, 1)
opt = ember.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
sched = lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=40)
for step in range(40):
    opt.zero_grad()
    nn.functional.mse_loss(model(x), y).backward()
    opt.step()
    sched.step()
    if step % 10 == 0:
        print(f"step {step:2d}  lr {sched.get_last_lr()[0]:.4f}")

plateau = lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=2)
for epoch in range(10):
    val_loss = 1.0  # a metric that stopped improving
    plateau.step(val_loss)
    print(f"epoch {epoch}  lr {opt.param_groups[0]['lr']:.5f}")
