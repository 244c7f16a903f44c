"""DataLoader: batches from a dataset, in the main process or in worker processes.

Workers are forked processes that run with one OpenMP thread (OpenMP after fork can hang
otherwise); they receive batch indices and send collated batches back as numpy arrays, which the
main process wraps as tensors without copying. Batches come out in sampler order.
"""
import itertools
import multiprocessing as mp
import os
import queue

import numpy as np

from ... import _C
from ._collate import default_collate, default_convert
from .dataset import IterableDataset, TensorDataset
from .sampler import BatchSampler, RandomSampler, SequentialSampler


class _WorkerInfo:
    def __init__(self, id, num_workers, seed, dataset):
        self.id, self.num_workers, self.seed, self.dataset = id, num_workers, seed, dataset

    def __repr__(self):
        return f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, seed={self.seed})"


_worker_info = None


def get_worker_info():
    """Inside a worker process: its id, num_workers, seed and dataset copy; None in the main process."""
    return _worker_info


# --- moving batches between processes ---------------------------------------------------------------
def _pack(obj):
    if isinstance(obj, _C.Tensor):
        return ("__ember_tensor__", np.array(obj.detach().numpy(), order="C"))
    if isinstance(obj, dict):
        return {k: _pack(v) for k, v in obj.items()}
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(_pack(v) for v in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(_pack(v) for v in obj)
    return obj


def _unpack(obj):
    if isinstance(obj, tuple) and len(obj) == 2 and isinstance(obj[0], str) and obj[0] == "__ember_tensor__":
        return _C.from_numpy(obj[1])
    if isinstance(obj, dict):
        return {k: _unpack(v) for k, v in obj.items()}
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(_unpack(v) for v in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(_unpack(v) for v in obj)
    return obj


def _fetch(dataset, indices, auto_collation, collate_fn):
    if auto_collation:
        if isinstance(dataset, TensorDataset) and collate_fn is default_collate:
            return dataset._get_batch(indices)  # one index_select per tensor
        return collate_fn([dataset[i] for i in indices])
    return collate_fn(dataset[indices])


class _ExceptionWrapper:
    def __init__(self, exc, where):
        import traceback
        self.exc_type = type(exc)
        self.msg = f"Caught {type(exc).__name__} {where}.\nOriginal {traceback.format_exc()}"

    def reraise(self):
        try:
            raise self.exc_type(self.msg)
        except TypeError:  # exception types whose constructor wants other arguments
            raise RuntimeError(self.msg) from None


def _worker_loop(dataset, index_queue, result_queue, auto_collation, collate_fn, worker_id, num_workers,
                 seed, init_fn):
    global _worker_info
    _C.set_num_threads(1)
    _C.manual_seed(seed)
    np.random.seed(seed % 2 ** 32)
    import random
    random.seed(seed)
    _worker_info = _WorkerInfo(worker_id, num_workers, seed, dataset)
    try:
        if init_fn is not None:
            init_fn(worker_id)
    except Exception as e:  # noqa: BLE001
        result_queue.put((-1, _ExceptionWrapper(e, f"in worker_init_fn of worker {worker_id}")))
        return
    while True:
        task = index_queue.get()
        if task is None:
            return
        idx, indices = task
        try:
            data = _pack(_fetch(dataset, indices, auto_collation, collate_fn))
        except Exception as e:  # noqa: BLE001
            data = _ExceptionWrapper(e, f"in DataLoader worker process {worker_id}")
        result_queue.put((idx, data))


class DataLoader:
    """Iterate over ``dataset`` in batches (torch.utils.data.DataLoader's arguments).

    Args:
        dataset: a map-style Dataset (``__getitem__``/``__len__``) or an IterableDataset.
        batch_size: samples per batch (None disables batching).
        shuffle: reshuffle every epoch (RandomSampler with ``generator``).
        sampler / batch_sampler: custom index orders (mutually exclusive with shuffle).
        num_workers: worker processes (0: load in the main process).
        collate_fn: merges a list of samples into a batch (default_collate).
        drop_last: drop the last incomplete batch.
        generator: the random generator for shuffling (reproducible epochs).
        worker_init_fn: called as fn(worker_id) in each worker.
        persistent_workers: keep workers alive between epochs.
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None,
                 persistent_workers=False, pin_memory_device=""):
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable "
                             "multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing. Let "
                             "num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor to None.")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        self.dataset, self.num_workers, self.timeout = dataset, num_workers, timeout
        self.prefetch_factor = 2 if prefetch_factor is None and num_workers > 0 else prefetch_factor
        self.worker_init_fn, self.generator = worker_init_fn, generator
        self.persistent_workers, self.pin_memory = persistent_workers, pin_memory
        self.multiprocessing_context = multiprocessing_context
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            if shuffle not in (None, False):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle option, but got "
                                 f"shuffle={shuffle}")
            if sampler is not None or batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified sampler/batch_sampler")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, "
                                 "and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with "
                             "drop_last")
        if sampler is None and not self._iterable:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size, self.drop_last = batch_size, drop_last
        self.sampler, self.batch_sampler = sampler, batch_sampler
        if collate_fn is None:
            collate_fn = default_collate if (batch_size is not None or batch_sampler is not None) else default_convert
        self.collate_fn = collate_fn
        self._workers = None

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None

    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __len__(self):
        if self._iterable:
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self._index_sampler())

    def __iter__(self):
        if self._iterable:
            return self._iter_iterable()
        if self.num_workers == 0:
            return self._iter_single()
        return self._iter_workers()

    # --- single process ---------------------------------------------------------------------------
    def _iter_single(self):
        for indices in self._index_sampler():
            yield _fetch(self.dataset, indices, self._auto_collation, self.collate_fn)

    def _iter_iterable(self):
        it = iter(self.dataset)
        if self.batch_size is None:
            for sample in it:
                yield self.collate_fn(sample)
            return
        while True:
            batch = list(itertools.islice(it, self.batch_size))
            if not batch or (self.drop_last and len(batch) < self.batch_size):
                return
            yield self.collate_fn(batch)

    # --- worker processes -------------------------------------------------------------------------
    def _start_workers(self):
        ctx = self.multiprocessing_context
        if ctx is None:
            ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        elif isinstance(ctx, str):
            ctx = mp.get_context(ctx)
        base_seed = int(_C.randint(0, 2 ** 62, (1,), generator=self.generator).item()) if self.generator \
            else int(_C.randint(0, 2 ** 62, (1,)).item())
        result_queue = ctx.Queue()
        index_queues, procs = [], []
        for wid in range(self.num_workers):
            iq = ctx.Queue()
            p = ctx.Process(target=_worker_loop,
                            args=(self.dataset, iq, result_queue, self._auto_collation, self.collate_fn, wid,
                                  self.num_workers, base_seed + wid, self.worker_init_fn), daemon=True)
            p.start()
            index_queues.append(iq)
            procs.append(p)
        return {"procs": procs, "index_queues": index_queues, "result_queue": result_queue}

    def _shutdown_workers(self, w):
        for iq in w["index_queues"]:
            try:
                iq.put(None)
            except (OSError, ValueError):
                pass
        for p in w["procs"]:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()

    def _iter_workers(self):
        w = self._workers if self.persistent_workers and self._workers is not None else self._start_workers()
        if self.persistent_workers:
            self._workers = w
        tasks = enumerate(self._index_sampler())
        outstanding, done, buffer, next_idx = 0, False, {}, 0
        limit = self.prefetch_factor * self.num_workers
        try:
            while True:
                while not done and outstanding < limit:
                    try:
                        idx, indices = next(tasks)
                    except StopIteration:
                        done = True
                        break
                    w["index_queues"][idx % self.num_workers].put((idx, indices))
                    outstanding += 1
                if outstanding == 0 and next_idx not in buffer:
                    return
                while next_idx not in buffer:
                    try:
                        got_idx, data = w["result_queue"].get(timeout=self.timeout if self.timeout > 0 else 5.0)
                    except queue.Empty:
                        if self.timeout > 0:
                            raise RuntimeError(f"DataLoader timed out after {self.timeout} seconds") from None
                        dead = [p.pid for p in w["procs"] if not p.is_alive()]
                        if dead:
                            raise RuntimeError(f"DataLoader worker (pid(s) {dead}) exited unexpectedly") from None
                        continue
                    if isinstance(data, _ExceptionWrapper):
                        data.reraise()
                    buffer[got_idx] = data
                outstanding -= 1
                yield _unpack(buffer.pop(next_idx))
                next_idx += 1
        finally:
            if not self.persistent_workers:
                self._shutdown_workers(w)

    def __del__(self):
        if getattr(self, "_workers", None) is not None:
            self._shutdown_workers(self._workers)
            self._workers = None


del os
