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
    p.prediction AS predicted,
    f.label AS actual,
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
)
SELECT
  model_version,
  kind,
  predicted,
  actual,
  COUNT(*) AS row_count,
  APPROX_PERCENTILE(delay_ms, 0.5) AS median_delay_ms,
  GROUPING(kind, predicted, actual) AS grouping_level
FROM joined
GROUP BY
  GROUPING SETS (
    (model_version, kind, predicted, actual),
    (
      model_version
    )
  )
ORDER BY
  model_version,
  grouping_level,
  kind,
  predicted,
  actual
