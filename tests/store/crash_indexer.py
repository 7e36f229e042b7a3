"""Subprocess for test_crash: index a dataset in small batches, printing each committed batch's ids."""
import sys

from _hash_embedder import HashEmbedder
from mmgan.data import load_dataset
from mmgan.store import Store, index_dataset

path, n = sys.argv[1], int(sys.argv[2])
ds = load_dataset("shapes", split="test", n=n, seed=2)
store = Store.open(path)


def committed(rep):
    print("COMMITTED " + " ".join(rep.added), flush=True)


index_dataset(store, HashEmbedder(), ds, batch_size=8, progress=False, on_batch=committed)
print("DONE", flush=True)
store.close()
