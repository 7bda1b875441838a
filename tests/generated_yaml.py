"""Reading generated YAML back for its structure, with libyaml's parser where PyYAML was built with it.

The pure-Python reader costs about ten times libyaml's (the fast tier spent ~2 s of CPU in it on a few large
rule and config files). Both build the data with the same SafeConstructor and resolver, so a test that reads what
promspec wrote for its groups, rules and labels sees the same values. Tests whose oracle is the pure-Python
reader itself (tests/test_fuzz.py reads hostile strings back with it) keep calling yaml.safe_load.
"""

from __future__ import annotations

from typing import Any

import yaml

_LOADER: type[yaml.CSafeLoader] | type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(data: str | bytes) -> Any:
    """The document in data, as yaml.safe_load reads it."""
    return yaml.load(data, Loader=_LOADER)
