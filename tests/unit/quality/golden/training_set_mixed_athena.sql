WITH predicted AS (
  SELECT
    request_id,
    row_index,
    features,
    ROW_NUMBER() OVER (PARTITION BY request_id, row_index ORDER BY timestamp_ms) AS copy_index
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
    label,
    ROW_NUMBER() OVER (PARTITION BY request_id, row_index ORDER BY timestamp_ms DESC, label DESC) AS recency
  FROM __feedback__
  WHERE
    message = 'feedback'
    AND model = ?
    AND dt BETWEEN ? AND ?
    AND timestamp_ms >= ?
    AND timestamp_ms < ?
)
SELECT
  p.features."sepal_length" AS "sepal_length",
  p.features."sepal_width" AS "sepal_width",
  p.features."plan" AS "plan",
  p.features."petal_length" AS "petal_length",
  p.features."petal_width" AS "petal_width",
  p.features."channel" AS "channel",
  f.label AS label
FROM (
  SELECT
    *
  FROM predicted
  WHERE
    copy_index = 1
) AS p
JOIN (
  SELECT
    *
  FROM labelled
  WHERE
    recency = 1
) AS f
  ON p.request_id = f.request_id AND p.row_index = f.row_index
ORDER BY
  p.request_id,
  p.row_index
