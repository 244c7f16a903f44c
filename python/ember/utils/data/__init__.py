"""ember.utils.data: datasets, samplers and the DataLoader (torch.utils.data's API)."""
from .dataset import (  # noqa: F401
    Dataset, IterableDataset, TensorDataset, Subset, ConcatDataset, random_split,
)
from .sampler import (  # noqa: F401
    Sampler, SequentialSampler, RandomSampler, SubsetRandomSampler, WeightedRandomSampler,
    BatchSampler,
)
from ._collate import default_collate, default_convert  # noqa: F401
from .dataloader import DataLoader, get_worker_info  # noqa: F401
