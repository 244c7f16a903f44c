"""DataLoader, samplers, datasets and collate: semantics against torch.utils.data."""
import numpy as np
import pytest

import ember
from conftest import requires_torch, torch
from ember.utils.data import (BatchSampler, ConcatDataset, DataLoader, Dataset, IterableDataset,
                              RandomSampler, SequentialSampler, Subset, SubsetRandomSampler, TensorDataset,
                              WeightedRandomSampler, default_collate, get_worker_info, random_split)


def labels(loader):
    return [b[1].tolist() for b in loader]


class Squares(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i >= self.n:
            raise IndexError(i)
        return {"x": np.full(2, i, dtype=np.float32), "y": i, "name": f"s{i}"}


class Stream(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


@requires_torch
@pytest.mark.parametrize("bs,drop", [(1, False), (3, False), (3, True), (10, False), (11, True)])
def test_batch_composition_matches_torch(bs, drop):
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10)
    e = DataLoader(TensorDataset(ember.from_numpy(x), ember.from_numpy(y)), batch_size=bs, drop_last=drop)
    t = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
                                    batch_size=bs, drop_last=drop)
    assert len(e) == len(t)
    eb, tb = list(e), list(t)
    assert len(eb) == len(tb)
    for (ex, ey), (tx, ty) in zip(eb, tb):
        np.testing.assert_array_equal(ex.numpy(), tx.numpy())
        np.testing.assert_array_equal(ey.numpy(), ty.numpy())
        assert ey.dtype == ember.int64 and ex.dtype == ember.float32


def test_shuffle_is_reproducible_with_a_seeded_generator_and_covers_everything():
    ds = TensorDataset(ember.arange(50), ember.arange(50))
    a = labels(DataLoader(ds, batch_size=7, shuffle=True, generator=ember.Generator().manual_seed(3)))
    b = labels(DataLoader(ds, batch_size=7, shuffle=True, generator=ember.Generator().manual_seed(3)))
    c = labels(DataLoader(ds, batch_size=7, shuffle=True, generator=ember.Generator().manual_seed(4)))
    assert a == b and a != c
    assert sorted(sum(a, [])) == list(range(50))
    ember.manual_seed(0)
    d1 = labels(DataLoader(ds, batch_size=50, shuffle=True))
    ember.manual_seed(0)
    d2 = labels(DataLoader(ds, batch_size=50, shuffle=True))
    assert d1 == d2


def test_epochs_differ_when_shuffling():
    ds = TensorDataset(ember.arange(30), ember.arange(30))
    dl = DataLoader(ds, batch_size=30, shuffle=True, generator=ember.Generator().manual_seed(0))
    assert labels(dl) != labels(dl)


@requires_torch
def test_default_collate_matches_torch_on_structures():
    e = default_collate([Squares(5)[i] for i in range(3)])
    t = torch.utils.data.default_collate([Squares(5)[i] for i in range(3)])
    np.testing.assert_array_equal(e["x"].numpy(), t["x"].numpy())
    assert e["y"].tolist() == t["y"].tolist() and e["y"].dtype == ember.int64
    assert e["name"] == t["name"]
    f = default_collate([(1.5, True), (2.5, False)])
    assert f[0].dtype == ember.float64 and f[1].dtype == ember.bool
    s = default_collate([ember.ones(2), ember.zeros(2)])
    assert tuple(s.shape) == (2, 2)


def test_map_dataset_with_custom_collate_and_no_batching():
    dl = DataLoader(Squares(4), batch_size=None)
    items = list(dl)
    assert len(items) == 4 and items[2]["y"] == 2
    dl = DataLoader(Squares(5), batch_size=2, collate_fn=lambda b: [s["y"] for s in b])
    assert list(dl) == [[0, 1], [2, 3], [4]]


def test_iterable_dataset_batches():
    dl = DataLoader(Stream(7), batch_size=3)
    assert [b.tolist() for b in dl] == [[0, 1, 2], [3, 4, 5], [6]]
    assert len(dl) == 3
    with pytest.raises(ValueError, match="shuffle"):
        DataLoader(Stream(3), shuffle=True)


def _worker_ids(worker_id):
    info = get_worker_info()
    assert info.id == worker_id and info.num_workers == 2


@pytest.mark.parametrize("persistent", [False, True])
def test_workers_give_the_same_batches_in_order(persistent):
    ds = Squares(23)
    single = list(DataLoader(ds, batch_size=4))
    dl = DataLoader(ds, batch_size=4, num_workers=2, worker_init_fn=_worker_ids, persistent_workers=persistent)
    for _ in range(2):  # two epochs (persistent workers are reused)
        multi = list(dl)
        assert len(multi) == len(single)
        for a, b in zip(single, multi):
            np.testing.assert_array_equal(a["x"].numpy(), b["x"].numpy())
            assert a["y"].tolist() == b["y"].tolist() and a["name"] == b["name"]
    assert get_worker_info() is None


def test_worker_errors_propagate():
    class Bad(Squares):
        def __getitem__(self, i):
            if i == 5:
                raise KeyError("boom")
            return super().__getitem__(i)

    with pytest.raises(KeyError, match="boom"):
        list(DataLoader(Bad(10), batch_size=2, num_workers=2))


def test_tensor_dataset_workers():
    ds = TensorDataset(ember.arange(40).reshape(20, 2), ember.arange(20))
    a = labels(DataLoader(ds, batch_size=6, num_workers=2))
    assert a == labels(DataLoader(ds, batch_size=6))


def test_samplers():
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3]
    g = ember.Generator().manual_seed(0)
    r = list(RandomSampler(range(10), generator=g))
    assert sorted(r) == list(range(10))
    rr = list(RandomSampler(range(3), replacement=True, num_samples=20, generator=g))
    assert len(rr) == 20 and set(rr) <= {0, 1, 2}
    s = list(SubsetRandomSampler([5, 7, 9], generator=g))
    assert sorted(s) == [5, 7, 9]
    w = list(WeightedRandomSampler([0.0, 0.0, 1.0], 10, generator=g))
    assert w == [2] * 10
    assert list(BatchSampler(SequentialSampler(range(5)), 2, False)) == [[0, 1], [2, 3], [4]]
    assert list(BatchSampler(SequentialSampler(range(5)), 2, True)) == [[0, 1], [2, 3]]
    with pytest.raises(ValueError, match="batch_size"):
        BatchSampler(SequentialSampler(range(5)), 0, False)
    with pytest.raises(ValueError, match="num_samples"):
        RandomSampler(range(3), num_samples=0)


def test_loader_argument_errors():
    ds = Squares(4)
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(ds, sampler=SequentialSampler(ds), shuffle=True)
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(ds, batch_sampler=BatchSampler(SequentialSampler(ds), 2, False), batch_size=3)
    with pytest.raises(ValueError, match="num_workers"):
        DataLoader(ds, num_workers=-1)


def test_subset_concat_random_split():
    ds = TensorDataset(ember.arange(10))
    sub = Subset(ds, [1, 3, 5])
    assert len(sub) == 3 and sub[1][0].item() == 3
    cat = ConcatDataset([Squares(3), Squares(2)])
    assert len(cat) == 5 and cat[3]["y"] == 0 and cat[-1]["y"] == 1
    with pytest.raises(IndexError):
        cat[5]
    a, b = random_split(ds, [0.7, 0.3], generator=ember.Generator().manual_seed(0))
    assert len(a) == 7 and len(b) == 3
    assert sorted(a.indices + b.indices) == list(range(10))
    a2, _ = random_split(ds, [7, 3], generator=ember.Generator().manual_seed(0))
    assert a2.indices == a.indices
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(ds, [3, 3])


def test_tensor_dataset_validates():
    with pytest.raises(ValueError, match="Size mismatch"):
        TensorDataset(ember.zeros(3), ember.zeros(4))
