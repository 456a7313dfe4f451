"""The contracts (Layer, Cell), cell tags and the shape checks everything else builds on."""

from ._gates import gate_columns as gate_columns
from ._gates import project_gates as project_gates
from ._shapes import along_last_axis as along_last_axis
from ._shapes import as_tuple as as_tuple
from ._shapes import cell_output_size as cell_output_size
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

__all__ = [
    "Cell",
    "CellTag",
    "Layer",
    "along_last_axis",
    "as_tuple",
    "cell_output_size",
    "cell_tag",
    "check_input_shape",
    "check_lengths",
    "check_shape",
    "float_dtype",
    "gate_columns",
    "output_shape",
    "project_gates",
    "projected_cell",
    "tag_cell",
]
