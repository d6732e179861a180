"""Batches straight from in-memory tensors: no Dataset, no per-sample collation, no workers.

A regression set fits in memory, so a batch is one `index_select` per tensor (training, shuffled) or
one slice view (validation/test, in order). This is what keeps `cr`'s training loop close to a plain
PyTorch loop.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import torch

from crescendo.batch_blocks import StepBlock


class TensorBatches:
    """A re-iterable, sized loader yielding `(x[idx], y[idx])` batches.

    shuffle: a new order every pass (every epoch), drawn with `torch.randperm` from torch's global RNG,
        so `lightning.seed_everything` / `torch.manual_seed` make runs repeat exactly.
    drop_single_last: drop a final batch of exactly one row (BatchNorm cannot train on one row) unless
        `batch_size` is 1 or it would be the only batch. With shuffling, a different row sits out each
        epoch. Used for training only; validation and test keep every row.
    drop_last: drop the final partial batch whatever its size (`data.drop_last`, torch DataLoader's
        meaning), unless it would be the only batch; for training only.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, *, shuffle: bool,
                 drop_single_last: bool = False, drop_last: bool = False) -> None:
        if len(x) != len(y):
            raise ValueError(f"x has {len(x)} rows but y has {len(y)}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.x, self.y = x, y
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.n_rows_per_pass = rows_per_pass(len(x), self.batch_size, drop_single_last, drop_last)

    def __len__(self) -> int:
        return -(-self.n_rows_per_pass // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        x, y, size, used = self.x, self.y, self.batch_size, self.n_rows_per_pass
        if self.shuffle:
            # Drawn on the CPU generator whatever the data's device, so the order depends on the seed only.
            order = torch.randperm(len(x))[:used].to(x.device)
            for idx in order.split(size):
                yield x.index_select(0, idx), y.index_select(0, idx)
        else:
            for start in range(0, used, size):
                yield x[start:start + size], y[start:start + size]


class MemberBatches:
    """Training batches for K ensemble members trained together, each from its OWN rows.

    `member_rows` holds one index tensor per member (e.g. its KFold split of the training rows). A
    batch is `(x[idx], y[idx])` with `idx` of shape (K, b): x is (K, b, features), y (K, b, targets),
    member k's rows in `[k]`. Every pass shuffles each member's rows independently (torch's global RNG,
    like `TensorBatches`; in order with `shuffle=False`) and takes the same number of rows from each — the smallest member's count,
    so a member with one more row (KFold folds differ by at most one) leaves a different random row
    out each epoch. `drop_single_last` and `drop_last` as in `TensorBatches`.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, member_rows: list[torch.Tensor], batch_size: int, *,
                 shuffle: bool = True, drop_single_last: bool = False, drop_last: bool = False) -> None:
        if len(x) != len(y):
            raise ValueError(f"x has {len(x)} rows but y has {len(y)}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if not member_rows or any(len(rows) == 0 for rows in member_rows):
            raise ValueError("every member needs at least one row")
        self.x, self.y = x, y
        self.member_rows = [torch.as_tensor(rows, dtype=torch.long) for rows in member_rows]
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        n = min(len(rows) for rows in self.member_rows)
        self.n_rows_per_pass = rows_per_pass(n, self.batch_size, drop_single_last, drop_last)

    @property
    def n_members(self) -> int:
        return len(self.member_rows)

    def __len__(self) -> int:
        return -(-self.n_rows_per_pass // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        used, size, k = self.n_rows_per_pass, self.batch_size, self.n_members
        # (K, used) row indices, each member's own rows in a fresh order (drawn on the CPU generator)
        if self.shuffle:
            order = torch.stack([rows[torch.randperm(len(rows))[:used]] for rows in self.member_rows])
        else:
            order = torch.stack([rows[:used] for rows in self.member_rows])
        order = order.to(self.x.device)
        for idx in order.split(size, dim=1):
            flat = idx.reshape(-1)
            b = idx.shape[1]
            yield (self.x.index_select(0, flat).view(k, b, *self.x.shape[1:]),
                   self.y.index_select(0, flat).view(k, b, *self.y.shape[1:]))


def rows_per_pass(n: int, batch_size: int, drop_single_last: bool, drop_last: bool) -> int:
    """Rows one pass uses of `n`: a final partial batch dropped (`drop_last`), or a final batch of one
    row (`drop_single_last`) — never the only batch."""
    partial = n % batch_size
    if n <= batch_size or not partial:
        return n
    if drop_last or (drop_single_last and batch_size > 1 and partial == 1):
        return n - partial
    return n


class BlockedBatches:
    """Groups another loader's batches into `StepBlock`s of up to `batches_per_call` batches.

    The batches, their order and the RNG draws are exactly the inner loader's, so training is the same
    math; Lightning just runs its per-step machinery (hooks, progress, fetching) once per block
    instead of once per batch, which is most of its overhead on small models (see
    `crescendo.batch_blocks`).
    """

    def __init__(self, inner: Iterable[Any], batches_per_call: int) -> None:
        if batches_per_call < 1:
            raise ValueError(f"batches_per_call must be >= 1, got {batches_per_call}")
        self.inner = inner
        self.batches_per_call = int(batches_per_call)

    def __len__(self) -> int:
        return -(-len(self.inner) // self.batches_per_call)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[StepBlock]:
        block = StepBlock()
        for batch in self.inner:
            block.append(batch)
            if len(block) == self.batches_per_call:
                yield block
                block = StepBlock()
        if block:
            yield block
