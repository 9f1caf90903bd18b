WITH predicted AS (
  SELECT
    request_id,
    row_index,
    model_version,
    prediction,
    timestamp_ms,
    ROW_NUMBER() OVER (PARTITION BY request_id, row_index ORDER BY timestamp_ms, model_version) AS copy_index
  FROM __predictions__
  WHERE
    message = 'prediction'
    AND model = ?
    AND dt BETWEEN ? AND ?
    AND timestamp_ms >= ?
    AND timestamp_ms < ?
    AND NOT endpoint IN ('/predict/test', '/predict/test/label')
), labelled AS (
  SELECT
    request_id,
    row_index,
    model_version,
    label,
    timestamp_ms,
    ROW_NUMBER() OVER (PARTITION BY request_id, row_index ORDER BY timestamp_ms DESC, label DESC) AS recency
  FROM __feedback__
  WHERE
    message = 'feedback'
    AND model = ?
    AND dt BETWEEN ? AND ?
    AND timestamp_ms >= ?
    AND timestamp_ms < ?
), joined AS (
  SELECT
    COALESCE(p.model_version, f.model_version) AS model_version,
    CASE
      WHEN p.request_id IS NULL
      THEN 'unmatched'
      WHEN f.request_id IS NULL
      THEN 'unlabelled'
      ELSE 'labelled'
    END AS kind,
    TRY_CAST(f.label AS DOUBLE) - TRY_CAST(p.prediction AS DOUBLE) AS error,
    TRY_CAST(f.label AS DOUBLE) AS actual,
    f.timestamp_ms - p.timestamp_ms AS delay_ms
  FROM (
    SELECT
      *
    FROM predicted
    WHERE
      copy_index = 1
  ) AS p
  FULL OUTER JOIN (
    SELECT
      *
    FROM labelled
    WHERE
      recency = 1
  ) AS f
    ON p.request_id = f.request_id AND p.row_index = f.row_index
), scored AS (
  SELECT
    model_version,
    kind,
    delay_ms,
    error,
    CASE WHEN error IS NULL THEN NULL ELSE actual END AS actual
  FROM joined
)
SELECT
  model_version,
  kind,
  COUNT(*) AS row_count,
  COUNT(error) AS scored_count,
  SUM(ABS(error)) AS sum_abs_error,
  SUM(error * error) AS sum_squared_error,
  SUM(error * error * error * error) AS sum_fourth_power_error,
  SUM(actual) AS sum_actual,
  SUM(actual * actual) AS sum_actual_squared,
  APPROX_PERCENTILE(delay_ms, 0.5) AS median_delay_ms
FROM scored
GROUP BY
  model_version,
  kind
ORDER BY
  model_version,
  kind
