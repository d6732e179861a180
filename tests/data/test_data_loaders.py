"""TensorBatches and DDP sharding on plain tensors."""

from __future__ import annotations

import pytest
import torch

from crescendo.data import TensorBatches
from crescendo.data.array import shard_rows


def rows(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    ids = torch.arange(n, dtype=torch.float32).unsqueeze(1)
    return ids, ids * 10


@pytest.mark.parametrize(("n", "batch_size", "sizes"), [
    (13, 6, [6, 6]),        # a lone final row is dropped in training
    (12, 6, [6, 6]),
    (14, 6, [6, 6, 2]),
    (7, 6, [6]),
    (13, 1, [1] * 13),      # batch_size 1 chose single rows: nothing dropped
    (1, 1, [1]),            # the only batch is kept
    (1, 4, [1]),
])
def test_training_batch_sizes(n, batch_size, sizes):
    loader = TensorBatches(*rows(n), batch_size, shuffle=True, drop_single_last=True)
    assert [len(x) for x, _ in loader] == sizes and len(loader) == len(sizes)


def test_shuffled_batches_pair_x_with_y_and_dropped_row_varies():
    loader = TensorBatches(*rows(13), 6, shuffle=True, drop_single_last=True)
    torch.manual_seed(0)
    seen = set()
    for _ in range(10):
        xs = torch.cat([x for x, y in loader if torch.equal(y, x * 10) or pytest.fail("x/y mismatch")])
        assert len(xs) == 12 and len(torch.unique(xs)) == 12
        seen |= set(range(13)) - set(xs.squeeze(1).long().tolist())
    assert len(seen) > 1  # a different row sits out in different epochs


def test_ordered_batches_are_views_in_order():
    x, y = rows(10)
    loader = TensorBatches(x, y, 4, shuffle=False)
    batches = list(loader)
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    assert torch.equal(torch.cat([b[0] for b in batches]), x)
    assert batches[0][0].data_ptr() == x.data_ptr()  # no copy


def test_mismatched_or_bad_arguments():
    with pytest.raises(ValueError):
        TensorBatches(torch.zeros(3, 1), torch.zeros(2, 1), 2, shuffle=False)
    with pytest.raises(ValueError):
        TensorBatches(torch.zeros(3, 1), torch.zeros(3, 1), 0, shuffle=False)


@pytest.mark.parametrize(("n", "world_size"), [(20, 3), (20, 4), (2, 4), (7, 2)])
def test_shard_rows_cover_everything_with_equal_counts(n, world_size):
    shards = [shard_rows(n, rank, world_size) for rank in range(world_size)]
    assert len({len(s) for s in shards}) == 1
    assert set(torch.cat(shards).tolist()) == set(range(n))
    if n % world_size == 0:
        assert len(torch.cat(shards)) == n and len(torch.unique(torch.cat(shards))) == n
