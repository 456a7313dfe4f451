"""The contracts (Layer, Cell, TreeCell), cell tags, the precision policy and the shape checks
everything else builds on."""

from ._gates import gate_columns as gate_columns
from ._gates import project_gates as project_gates
from ._norm import normalize as normalize
from ._precision import FLOAT_DTYPES as FLOAT_DTYPES
from ._precision import Precision as Precision
from ._precision import cast_floats as cast_floats
from ._precision import check_float_dtype as check_float_dtype
from ._precision import policy_cell as policy_cell
from ._precision import policy_layer as policy_layer
from ._precision import precision_policy as precision_policy
from ._reparam import weight_norm as weight_norm
from ._shapes import along_last_axis as along_last_axis
from ._shapes import as_tuple as as_tuple
from ._shapes import cell_output_size as cell_output_size
from ._shapes import check_ids as check_ids
from ._shapes import check_input_shape as check_input_shape
from ._shapes import check_lengths as check_lengths
from ._shapes import check_shape as check_shape
from ._shapes import float_dtype as float_dtype
from ._shapes import output_shape as output_shape
from ._tags import CellTag as CellTag
from ._tags import cell_tag as cell_tag
from ._tags import projected_cell as projected_cell
from ._tags import tag_cell as tag_cell
from ._types import Cell as Cell
from ._types import Layer as Layer
from ._types import TreeCell as TreeCell

__all__ = [
    "FLOAT_DTYPES",
    "Cell",
    "CellTag",
    "Layer",
    "Precision",
    "TreeCell",
    "along_last_axis",
    "as_tuple",
    "cast_floats",
    "cell_output_size",
    "cell_tag",
    "check_float_dtype",
    "check_ids",
    "check_input_shape",
    "check_lengths",
    "check_shape",
    "float_dtype",
    "gate_columns",
    "normalize",
    "output_shape",
    "policy_cell",
    "policy_layer",
    "precision_policy",
    "project_gates",
    "projected_cell",
    "tag_cell",
    "weight_norm",
]
