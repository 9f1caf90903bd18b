"""The extreme-value sweep: every feature of iris and wine, finite values from 1e30 to float32's maximum.

Such values pass the float32 check, and some make the classifier return NaN. Whatever the
model does, the reply is never a 5xx, each request leaves exactly one record, and a refusal
names the feature.
"""

from __future__ import annotations

import json

import pytest

from functions.contract.model_artifact import load_model_artifact
from tests.integration.inference.conftest import MODELS, LambdaUnderTest, build

MAGNITUDES = [1e30, 1e33, 1e35, 1e36, 1e37, 4e37, 8.8e37, 1e38, 2.5e38, 3.4e38, 3.4028234e38]
VALUES = MAGNITUDES + [-v for v in MAGNITUDES]


@pytest.mark.parametrize("model", ["iris", "wine"])
def test_extreme_values_never_crash_and_always_leave_one_record(model: str) -> None:
    lambda_: LambdaUnderTest = build(model)
    baseline = load_model_artifact(MODELS / model).baseline
    medians, names = baseline.medians, baseline.feature_names
    outcomes = {"accepted": 0, "unscorable": 0}
    for position, name in enumerate(names):
        for value in VALUES:
            lambda_.clear()
            row = list(medians)
            row[position] = value
            status, body, _ = lambda_.call("POST", "/predict", json.dumps({"data": [medians, row]}))
            assert status < 500, (name, value, body)
            predictions, rejected = lambda_.records("prediction"), lambda_.records("rejected")
            if status == 200:
                assert len(predictions) == 2 and rejected == []
                assert all(json.dumps(p, allow_nan=False) for p in predictions)  # nothing non-finite in a line
                outcomes["accepted"] += 1
            else:
                assert (status, body["error"]) == (422, "unscorable_row"), body
                assert predictions == [] and len(rejected) == 1
                assert body["message"].startswith("row 1 cannot be scored")
                assert f"{name} = " in body["message"], body["message"]
                outcomes["unscorable"] += 1
    assert outcomes["unscorable"] > 0  # the sweep reaches the values that break the classifier
    assert outcomes["accepted"] > 0
