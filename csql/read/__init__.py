"""The read path: SQL -> Plan (pure) -> pages fetched -> Arrow -> DuckDB.

plan (the plan's data), planner (passes that decide what is pushed to ClickSend), fetch
(paging), arrow (JSON -> Arrow), executor (runs a Plan), explain (a Plan as rows).
"""
