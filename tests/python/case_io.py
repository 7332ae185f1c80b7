"""The case folder the C++ tests hand to tests/python's scripts: case.json (settings), inputs.pt
(tensors from torch::pickle_save) in; outputs.pt (tensors from torch.save) out."""
import json
import os

import torch
import torch.jit._pickle


def read_case(case):
    """(settings, input tensors) of the case folder."""
    with open(os.path.join(case, "case.json")) as f:
        settings = json.load(f)
    # A typed Dict[str, Tensor] from torch::pickle_save carries this type tag.
    with torch.serialization.safe_globals([torch.jit._pickle.restore_type_tag]):
        inputs = torch.load(os.path.join(case, "inputs.pt"), weights_only=True)
    return settings, inputs


def write_outputs(case, tensors):
    torch.save(tensors, os.path.join(case, "outputs.pt"))
