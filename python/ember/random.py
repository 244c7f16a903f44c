"""ember.random: the global generator's seeding and state (as torch.random)."""
import contextlib

from ._C import (  # noqa: F401  (re-exports)
    default_generator,
    get_rng_state,
    initial_seed,
    manual_seed,
    seed,
    set_rng_state,
)


@contextlib.contextmanager
def fork_rng(devices=None, enabled=True):
    """Run a block with the global generator's state saved on entry and restored on exit.

    Args:
        devices: ignored (CPU only; accepted for torch compatibility).
        enabled: when False, the block runs without saving or restoring anything.
    """
    if not enabled:
        yield
        return
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(state)
