"""Keeping a local copy of ClickSend and reacting to changes (issue 13).

replicate: tables into a DuckDB file, a hive-partitioned Parquet lake or Delta tables, a full
load first and incremental runs after, rows and cursor state committed together.
watch: the rows that appeared, changed or disappeared since the last poll, as events.
cache: pages already fetched answer repeated reads within a TTL.
"""
