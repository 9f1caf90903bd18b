"""`make acceptance`: deploy a throw-away stack in a real AWS account, check every AWS assumption, tear it down.

Nothing here runs in `make test` against AWS: the suite's own logic (result table, comparisons, probes,
teardown, plumbing) is tested offline with moto's server and botocore's Stubber. See docs/acceptance.md.
"""
