"""The catalog as SQL tables: sys_tables, sys_columns, sys_procedures.

Built from the catalog objects alone (no HTTP request), as Arrow tables that the engine
registers in DuckDB, so metadata queries get the whole of DuckDB's SQL (filters, joins with
each other, list functions on `aliases` and `operations`).
"""

from __future__ import annotations

from functools import cache

import pyarrow as pa

from csql.catalog import Catalog, Column, Table

SYS_TABLES = ("sys_tables", "sys_columns", "sys_procedures")

#: the DuckDB type each catalog type becomes
SQL_TYPES = {
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "double": "DOUBLE",
    "decimal": "DECIMAL(18,6)",
    "varchar": "VARCHAR",
    "boolean": "BOOLEAN",
    "timestamp": "TIMESTAMP WITH TIME ZONE",
    "json": "JSON",
}


def _endpoint_text(table: Table) -> str:
    ep = table.list_endpoint
    return f"{ep.method} {ep.path}"


def _is_key(table: Table, col: Column) -> bool:
    return col.primary_key or col.path_key


def sys_tables(catalog: Catalog) -> pa.Table:
    ts = catalog.tables
    return pa.table(
        {
            "table_name": [t.name for t in ts],
            "aliases": pa.array([list(t.aliases) for t in ts], pa.list_(pa.string())),
            "operations": pa.array([list(t.operations) for t in ts], pa.list_(pa.string())),
            "endpoint": [_endpoint_text(t) for t in ts],
            "paging": [t.list_endpoint.paging for t in ts],
            "primary_key": pa.array([list(t.primary_key) for t in ts], pa.list_(pa.string())),
            "required_keys": pa.array(
                [[c.name for c in t.required_keys] for t in ts], pa.list_(pa.string())
            ),
            "resource_group": [t.group for t in ts],
            "description": [t.description for t in ts],
            "operations_note": pa.array([t.operations_note for t in ts], pa.string()),
        }
    )


def sys_columns(catalog: Catalog) -> pa.Table:
    rows: dict[str, list] = {
        k: []
        for k in (
            "table_name", "column_name", "ordinal_position", "data_type", "nullable", "is_key",
            "primary_key", "path_key", "searchable", "sortable", "filterable", "range_filter",
            "required_on_insert", "read_only", "description",
        )
    }  # fmt: skip
    for t in catalog.tables:
        required = t.required_on_insert_columns()
        for i, c in enumerate(t.columns, start=1):
            rng = [p for p in (c.range_lower, c.range_upper, c.range_after) if p]
            rows["table_name"].append(t.name)
            rows["column_name"].append(c.name)
            rows["ordinal_position"].append(i)
            rows["data_type"].append(SQL_TYPES[c.type])
            rows["nullable"].append(c.nullable)
            rows["is_key"].append(_is_key(t, c))
            rows["primary_key"].append(c.primary_key)
            rows["path_key"].append(c.path_key)
            rows["searchable"].append(c.searchable)
            rows["sortable"].append(c.sortable)
            rows["filterable"].append(
                c.searchable or c.path_key or c.range_filterable or bool(c.filter_param)
            )
            rows["range_filter"].append(",".join(rng) or None)
            rows["required_on_insert"].append(c.name in required)
            rows["read_only"].append(c.read_only)
            rows["description"].append(c.description)
    schema = _SYS_COLUMNS_SCHEMA
    own = {"sys_tables": sys_tables(catalog).schema, "sys_procedures": sys_procedures(catalog).schema,
           "sys_columns": schema}  # fmt: skip
    for name in sorted(own):  # the metadata tables describe themselves too
        for i, (col, sql_type) in enumerate(_duckdb_types(own[name]), start=1):
            for key, value in (("table_name", name), ("column_name", col),
                               ("ordinal_position", i), ("data_type", sql_type),
                               ("nullable", True), ("range_filter", None),
                               ("read_only", True), ("description", f"metadata: {name}.{col}")):  # fmt: skip
                rows[key].append(value)
            for key in ("is_key", "primary_key", "path_key", "searchable", "sortable",
                        "filterable", "required_on_insert"):  # fmt: skip
                rows[key].append(False)
    return pa.table(rows, schema=schema)


def _duckdb_types(schema: pa.Schema) -> list[tuple[str, str]]:
    """(column, type) as DuckDB's own DESCRIBE of that Arrow schema names the type."""
    return [(f.name, _duckdb_type(f.type)) for f in schema]


@cache
def _duckdb_keywords() -> frozenset[str]:
    import duckdb

    with duckdb.connect() as duck:  # a private connection: the process-wide default is the user's
        rows = duck.execute("SELECT keyword_name FROM duckdb_keywords()").fetchall()
    return frozenset(r[0].lower() for r in rows)


def _duckdb_name(name: str) -> str:
    """A struct field's name as DuckDB prints it: quoted when it is a keyword."""
    plain = name.isidentifier() and name.islower() and name not in _duckdb_keywords()
    return name if plain else f'"{name}"'


def _duckdb_type(t: pa.DataType) -> str:
    """An Arrow type's DuckDB name, without asking DuckDB (that would import pandas)."""
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return _duckdb_type(t.value_type) + "[]"
    if pa.types.is_struct(t):
        fields = ", ".join(f"{_duckdb_name(f.name)} {_duckdb_type(f.type)}" for f in t)
        return f"STRUCT({fields})"
    simple = {
        pa.string(): "VARCHAR", pa.large_string(): "VARCHAR", pa.bool_(): "BOOLEAN",
        pa.int8(): "TINYINT", pa.int16(): "SMALLINT", pa.int32(): "INTEGER",
        pa.int64(): "BIGINT", pa.float32(): "FLOAT", pa.float64(): "DOUBLE",
    }  # fmt: skip
    return simple.get(t, str(t).upper())


_SYS_COLUMNS_SCHEMA = pa.schema(
    [
        ("table_name", pa.string()),
        ("column_name", pa.string()),
        ("ordinal_position", pa.int32()),
        ("data_type", pa.string()),
        ("nullable", pa.bool_()),
        ("is_key", pa.bool_()),
        ("primary_key", pa.bool_()),
        ("path_key", pa.bool_()),
        ("searchable", pa.bool_()),
        ("sortable", pa.bool_()),
        ("filterable", pa.bool_()),
        ("range_filter", pa.string()),
        ("required_on_insert", pa.bool_()),
        ("read_only", pa.bool_()),
        ("description", pa.string()),
    ]
)


def sys_procedures(catalog: Catalog) -> pa.Table:
    ps = catalog.procedures
    param_type = pa.struct(
        [("name", pa.string()), ("type", pa.string()), ("required", pa.bool_()),
         ("location", pa.string())]
    )  # fmt: skip
    return pa.table(
        {
            "procedure_name": [p.name for p in ps],
            "parameters": pa.array(
                [
                    [
                        {
                            "name": a.name,
                            "type": SQL_TYPES[a.type],
                            "required": a.required,
                            "location": a.location,
                        }
                        for a in p.parameters
                    ]
                    for p in ps
                ],
                pa.list_(param_type),
            ),
            "signature": [f"{p.name}({', '.join(':' + a.name for a in p.parameters)})" for p in ps],
            "method": [p.method for p in ps],
            "endpoint": [p.path for p in ps],
            "costs_money": [p.costs_money for p in ps],
            "destructive": [p.destructive for p in ps],
            "price_procedure": pa.array([p.price for p in ps], pa.string()),
            "resource_group": [p.group for p in ps],
            "description": [p.description for p in ps],
        }
    )


def all_sys_tables(catalog: Catalog) -> dict[str, pa.Table]:
    return {
        "sys_tables": sys_tables(catalog),
        "sys_columns": sys_columns(catalog),
        "sys_procedures": sys_procedures(catalog),
    }


def describe(table: Table) -> pa.Table:
    """DESCRIBE <table>: one row per column, in the shape of DuckDB's own DESCRIBE plus csql's flags."""
    cols = table.columns
    required: dict[str, str] = {}  # "required", or "one of a, b, c" for an any-of group
    for group in table.required_on_insert:
        for name in group:
            required.setdefault(
                name, "required" if len(group) == 1 else f"one of {', '.join(group)}"
            )
    return pa.table(
        {
            "column_name": [c.name for c in cols],
            "column_type": [SQL_TYPES[c.type] for c in cols],
            "null": ["YES" if c.nullable else "NO" for c in cols],
            "key": ["PRI" if c.primary_key else ("PATH" if c.path_key else None) for c in cols],
            "searchable": [c.searchable for c in cols],
            "sortable": [c.sortable for c in cols],
            "range_filter": [
                ",".join(p for p in (c.range_lower, c.range_upper, c.range_after) if p) or None
                for c in cols
            ],
            "required_on_insert": pa.array([required.get(c.name) for c in cols], pa.string()),
            "read_only": [c.read_only for c in cols],
            "description": [c.description for c in cols],
        }
    )


def show_tables(catalog: Catalog) -> pa.Table:
    """SHOW TABLES: every ClickSend table and the metadata tables."""
    rows = [(t.name, "clicksend", ", ".join(t.operations)) for t in catalog.tables]
    rows += [(name, "metadata", "SELECT") for name in SYS_TABLES]
    rows.sort()  # alphabetical, as DuckDB's and psql's listings are
    names, kinds, ops = (list(c) for c in zip(*rows, strict=True))
    return pa.table({"name": names, "kind": kinds, "operations": ops})
