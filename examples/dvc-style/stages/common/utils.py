"""What the stages share: their params (params_file writes them into the
working directory), where their inputs are, and reading and writing the
JSON files they pass along. Python's standard library only."""

import json
import os


def params():
    with open("params.json") as f:
        return json.load(f)


def input_path(name, *parts):
    """A path inside input NAME (TRAINRUN_INPUT_NAME)."""
    return os.path.join(os.environ["TRAINRUN_INPUT_" + name.upper()], *parts)


def save(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)


def load(path):
    with open(path) as f:
        return json.load(f)
