"""Running cells over sequences (unroll, recurrent and bidirectional layers, deep stacks)
and tree cells over trees (recursive)."""

from ._attention import SCORES as SCORES
from ._attention import attend as attend
from ._attention import attention as attention
from ._attention import attention_params as attention_params
from ._attention import check_score as check_score
from ._check import check_kernel as check_kernel
from ._layers import bidirectional as bidirectional
from ._layers import recurrent as recurrent
from ._lengths import reverse_valid as reverse_valid
from ._lengths import step_mask as step_mask
from ._readout import READOUTS as READOUTS
from ._readout import readout as readout
from ._stacked import stacked_cell as stacked_cell
from ._stacked import stacked_rnn as stacked_rnn
from ._tree import check_children as check_children
from ._tree import recursive as recursive
from ._tree import tree_heights as tree_heights
from ._unroll import unroll as unroll

__all__ = [
    "READOUTS",
    "SCORES",
    "attend",
    "attention",
    "attention_params",
    "bidirectional",
    "check_children",
    "check_kernel",
    "check_score",
    "readout",
    "recurrent",
    "recursive",
    "reverse_valid",
    "stacked_cell",
    "stacked_rnn",
    "step_mask",
    "tree_heights",
    "unroll",
]
