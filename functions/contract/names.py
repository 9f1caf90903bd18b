"""Names shared by the functions, the infrastructure and the tests.

One place, so a renamed environment variable or metric cannot leave the
dashboard, the IAM policy or a test looking at a name nobody writes any more.
"""

from __future__ import annotations

# --- environment variables -------------------------------------------------
# Both functions
ENV_MODEL_DIR = "MODEL_DIR"  # folder holding classifier.onnx, outlier_detector.onnx, baseline.json
ENV_METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"
ENV_SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"
ENV_LOG_LEVEL = "POWERTOOLS_LOG_LEVEL"

# Inference function
ENV_TRACING_ENABLED = "TRACING_ENABLED"  # "true" imports the X-Ray tracer (costs ~600 ms of cold start)
ENV_PREDICTION_LOG_FILE = "PREDICTION_LOG_FILE"  # local only: also append prediction records here
ENV_MAX_ROWS = "MAX_ROWS_PER_REQUEST"
ENV_MAX_BODY_BYTES = "MAX_BODY_BYTES"
ENV_LOG_CALLER = "LOG_CALLER"  # "true" behind a Function URL (no access log): the caller's IAM ARN on each prediction line
ENV_UNSEEN_CATEGORIES = "UNSEEN_CATEGORIES"  # "accept" (default: logged as unseen_categories) or "refuse" (422)
UNSEEN_ACCEPT = "accept"  # an unlisted category is served and its line names the feature (unseen_categories)
UNSEEN_REFUSE = "refuse"  # an unlisted category is a 422 naming the feature and its known categories
UNSEEN_POLICIES = (UNSEEN_ACCEPT, UNSEEN_REFUSE)

# Monitor function
ENV_INFERENCE_LOG_GROUP = "INFERENCE_LOG_GROUP"
ENV_ALERT_TOPIC_ARN = "ALERT_TOPIC_ARN"
ENV_ALERT_STATE_TABLE = "ALERT_STATE_TABLE"
ENV_WINDOW_MINUTES = "WINDOW_MINUTES"
ENV_QUERY_TIMEOUT_SECONDS = "QUERY_TIMEOUT_SECONDS"
ENV_MINUTE_TABLE = "MINUTE_TABLE"  # minute aggregates (functions/monitor/minute_store.py); set: minute mode
ENV_MONITOR_HORIZONS = "MONITOR_HORIZONS"  # window lengths judged every run, minutes: "2,15,60,1440"
ENV_SETTLE_MINUTES = "SETTLE_MINUTES"  # a minute is first read this long after it ends
ENV_NO_TRAFFIC_MINUTES = "NO_TRAFFIC_MINUTES"  # quiet minutes after steady traffic that notify
MINUTE_TABLE_PARTITION_KEY = "series"  # string: "<model>#<layout>#m" or "#h"
MINUTE_TABLE_SORT_KEY = "t"  # number: start of the minute or hour, epoch ms
MINUTE_TABLE_TTL_ATTRIBUTE = "expires_at"  # epoch seconds: minutes ~26 h, hours ~8 days

# --- model artifact folder ---------------------------------------------------
CLASSIFIER_FILE = "classifier.onnx"
OUTLIER_DETECTOR_FILE = "outlier_detector.onnx"
BASELINE_FILE = "baseline.json"
JOINT_DRIFT_FILE = "joint_drift.onnx"  # optional: PCA reconstruction model (models/joint_drift.py)
JOINT_DRIFT_OUTPUT = "reconstruction_error"  # its output, (rows, 1) float32
# A model with categorical features: every ONNX graph of its folder (classifier, outlier detector, joint drift)
# takes two inputs, the numeric features in input order as float32 (rows, numeric) under NUMERIC_INPUT and the
# categorical features in input order as strings (rows, categorical) under CATEGORICAL_INPUT; the graph one-hot
# encodes the strings itself (an unlisted value encodes as all zeros). A model with numbers only has one input.
NUMERIC_INPUT = "input"
CATEGORICAL_INPUT = "categories"
DEFAULT_MODEL = "iris"

# --- service names (the `service` metric dimension and log key) --------------
INFERENCE_SERVICE = "inference"
MONITOR_SERVICE = "monitor"
METRICS_NAMESPACE = "ServerlessInference"
MODEL_DIMENSION = "model"

# --- inference metrics (EMF) -------------------------------------------------
METRIC_REQUESTS = "Requests"
METRIC_PREDICTIONS = "Predictions"
METRIC_OUTLIERS = "Outliers"
METRIC_REJECTED = "RejectedRequests"
METRIC_LATENCY = "LatencyMs"
METRIC_FAILED = "FailedRequests"  # accepted requests answered with a JSON 500 ("failed" lines)
METRIC_FEEDBACK_LABELS = "FeedbackLabels"  # ground-truth labels received by POST /feedback
METRIC_CLASS_PREFIX = "PredictedClass_"  # + label, one count per predicted class

# --- monitor metrics (EMF) ---------------------------------------------------
METRIC_WINDOW_ROWS = "WindowRows"
METRIC_OUTLIER_RATIO = "OutlierRatio"
METRIC_REJECTED_RATIO = "RejectedRatio"
METRIC_PREDICTION_DRIFT = "PredictionDrift"  # class shares' distance; a regressor's: KS distance of predictions
METRIC_PREDICTION_MEAN_SHIFT = "PredictionMeanShift"  # regression: mean prediction minus training's, in training sd
METRIC_DRIFT_PREFIX = "FeatureDrift_"  # + feature name: distribution distance to the baseline
METRIC_MEAN_SHIFT_PREFIX = "MeanShift_"  # + feature name: window mean minus training mean, in training sd
METRIC_CATEGORY_DRIFT_PREFIX = "CategoryDrift_"  # + categorical feature name: PSI of its shares against training
METRIC_UNSEEN_CATEGORY_PREFIX = "UnseenShare_"  # + categorical feature name: share of values training did not list
METRIC_CHECKS_IN_ALARM = "ChecksInAlarm"


def class_metric(label: str) -> str:
    return f"{METRIC_CLASS_PREFIX}{label}"


def drift_metric(feature: str) -> str:
    return f"{METRIC_DRIFT_PREFIX}{feature}"


def mean_shift_metric(feature: str) -> str:
    return f"{METRIC_MEAN_SHIFT_PREFIX}{feature}"


def category_drift_metric(feature: str) -> str:
    return f"{METRIC_CATEGORY_DRIFT_PREFIX}{feature}"


def unseen_category_metric(feature: str) -> str:
    return f"{METRIC_UNSEEN_CATEGORY_PREFIX}{feature}"


# --- quality function (realized model quality from ground truth) ----------------
QUALITY_SERVICE = "quality"
ENV_ATHENA_WORKGROUP = "ATHENA_WORKGROUP"
ENV_ATHENA_DATABASE = "ATHENA_DATABASE"
ENV_PREDICTIONS_TABLE = "PREDICTIONS_TABLE"
ENV_FEEDBACK_TABLE = "FEEDBACK_TABLE"
ENV_QUALITY_LOOKBACK_DAYS = "QUALITY_LOOKBACK_DAYS"
METRIC_LABELLED_ROWS = "LabelledRows"
METRIC_REALIZED_ACCURACY = "RealizedAccuracy"
METRIC_ESTIMATED_ACCURACY = "EstimatedAccuracy"  # per-minute monitor: mean confidence less the hold-out's over-confidence

# --- alert state table (DynamoDB) --------------------------------------------
ALERT_STATE_PARTITION_KEY = "check_id"  # string: "<model>#<check name>"

# --- log archive ---------------------------------------------------------------
# Subscription filter pattern selecting the contract's prediction lines.
PREDICTION_FILTER_PATTERN = '{ $.message = "prediction" }'
FEEDBACK_FILTER_PATTERN = '{ $.message = "feedback" }'
