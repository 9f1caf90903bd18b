"""The acceptance checks, one module per row group of the result table (numbered as in issue 13)."""
