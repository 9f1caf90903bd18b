"""A schemathesis check loaded with SCHEMATHESIS_HOOKS: keeps `positive_data_acceptance` strict.

The OpenAPI document lets 422 answer a schema-valid request for one reason only: a row the
model cannot score (finite values near float32's maximum make the classifier return NaN; the
reply names the row and feature). `schemathesis.toml` therefore expects 2xx or 422 for
schema-valid data, and this check fails any schema-valid request refused for another reason.
"""

from __future__ import annotations

import json
from typing import Any

import schemathesis


@schemathesis.check
def schema_valid_refused_only_as_unscorable(ctx: Any, response: Any, case: Any) -> bool | None:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
        return None
    error = json.loads(response.content).get("error")
    if error != "unscorable_row":
        raise AssertionError(f"schema-valid request refused with 422 {error!r}; only 'unscorable_row' may refuse valid data")
    return None
