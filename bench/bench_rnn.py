"""LSTM and GRU training steps (seq 32, batch 64, input 32, hidden 128, batch_first, a Linear head,
cross-entropy, Adam): ember against torch, medians of 15 steps (milliseconds).

    PYTHONPATH=build/dev/stage python3 bench/bench_rnn.py [threads]
"""
import statistics
import sys
import time

import ember
import numpy as np
import torch


def main():
    nt = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    torch.set_num_threads(nt)
    ember.set_num_threads(nt)
    x = np.random.default_rng(0).standard_normal((64, 32, 32)).astype(np.float32)
    for kind in ("LSTM", "GRU"):
        res = {}
        for L in (ember, torch):
            L.manual_seed(0)
            m = getattr(L.nn, kind)(32, 128, batch_first=True)
            head = L.nn.Linear(128, 10)
            opt = L.optim.Adam(list(m.parameters()) + list(head.parameters()))
            X, Y = L.from_numpy(x.copy()), L.from_numpy(np.zeros(64, np.int64))

            def step(L=L, m=m, head=head, opt=opt, X=X, Y=Y):
                opt.zero_grad()
                out, _ = m(X)
                L.nn.functional.cross_entropy(head(out[:, -1]), Y).backward()
                opt.step()

            for _ in range(3):
                step()
            s = []
            for _ in range(15):
                t0 = time.perf_counter()
                step()
                s.append(time.perf_counter() - t0)
            res[L.__name__] = statistics.median(s) * 1e3
        print(f"{kind} seq 32, batch 64, in 32, hidden 128, {nt}T: ember {res['ember']:.2f} ms, "
              f"torch {res['torch']:.2f} ms, torch/ember {res['torch'] / res['ember']:.2f}")


if __name__ == "__main__":
    main()
