"""One results file: the schemas, the atomic writer, and the validating reader every read goes through.

A runs file counts only if all of it is sound: it decodes whole (every column,
so damage inside one column is caught, not only in the columns a caller
wants), carries regsuite metadata of a version this code reads, has every
column with the schema's type (text in a float column is refused, not
coerced), names a known status for every row, and holds parseable JSON in its
JSON columns. Anything else is a problem naming the file; none of its rows
count, so ``bench`` runs them again and ``results`` reports the file.
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .errors import StoreError

SCHEMA_VERSION = "2"  # 2: metrics typed (MAP<string, double>); 1: metrics as a JSON string
READABLE_VERSIONS = ("1", "2")
META_VERSION = b"regsuite.schema_version"
META_TABLE = b"regsuite.table"
METRICS_TYPE = pa.map_(pa.string(), pa.float64())

_JSON_COLUMNS = ("components", "method_versions", "hparams", "notes", "libraries", "plugins")
RUNS_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("suite", pa.string()),
        ("suite_version", pa.string()),
        ("task", pa.string()),
        ("tier", pa.string()),
        ("method", pa.string()),
        ("components", pa.string()),  # JSON list
        ("method_versions", pa.string()),  # JSON {component: version}
        ("hparams", pa.string()),  # canonical JSON {component: {key: value}}
        ("seed", pa.int64()),
        ("protocol", pa.string()),
        ("status", pa.string()),  # ok | diverged | error | timeout
        ("error", pa.string()),
        ("primary_metric", pa.string()),
        ("primary_direction", pa.string()),
        ("primary_value", pa.float64()),
        ("metrics", METRICS_TYPE),  # {name: value}, typed (version 2)
        ("notes", pa.string()),  # JSON {name: string}: non-numeric facts a task records (corpus fingerprint, ...)
        ("wall_s", pa.float64()),
        ("step_time_ms", pa.float64()),
        ("steps", pa.int64()),
        ("samples", pa.int64()),
        ("tokens", pa.int64()),
        ("peak_mem_mb", pa.float64()),
        ("state_mem_mb", pa.float64()),
        ("device", pa.string()),
        ("cpu", pa.string()),
        ("host", pa.string()),
        ("python_version", pa.string()),
        ("torch_version", pa.string()),
        ("regsuite_version", pa.string()),
        ("libraries", pa.string()),  # JSON {package: version}
        ("plugins", pa.string()),  # JSON [{name, distribution, version}]
        ("git_sha", pa.string()),
        ("started_at", pa.string()),  # ISO 8601, UTC
        ("finished_at", pa.string()),
    ]
)

CURVES_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("step", pa.int64()),
        ("wall_s", pa.float64()),
        ("split", pa.string()),
        ("metric", pa.string()),
        ("value", pa.float64()),
    ]
)

FINISHED = ("ok", "diverged")  # statuses a re-run of the plan skips
STATUSES = ("ok", "diverged", "error", "timeout")
HOST = socket.gethostname().replace(".", "_")[:40] or "host"


# ------------------------------------------------------------------ write


def tmp_name(final: Path) -> Path:
    """Hidden, and naming its writer (host, pid), so a leftover can be told from a write in progress."""
    return final.with_name(f".{final.name}.{HOST}.{os.getpid()}.tmp")


def atomic_write(table: pa.Table, directory: Path, prefix: str, name: bytes, final_name: str | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    meta = dict(table.schema.metadata or {})
    meta.update({META_VERSION: SCHEMA_VERSION.encode(), META_TABLE: name})
    table = table.replace_schema_metadata(meta)
    ns = time.time_ns()  # names sort in writing order (curves: the later file wins), to the nanosecond
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(ns // 10**9)) + f".{ns % 10**9:09d}"
    final = directory / (final_name or f"{prefix}-{stamp}-{uuid.uuid4().hex[:12]}.parquet")
    tmp = tmp_name(final)
    try:
        with open(tmp, "wb") as fh:
            pq.write_table(table, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise StoreError(f"could not write results to {directory}: {exc.strerror or exc}") from None
        raise
    return final


def _metrics_entries(value) -> list | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = json.loads(value) if value else {}
    return sorted((str(k), float(v)) for k, v in dict(value).items())


def runs_table(rows) -> pa.Table:
    """Run rows (dicts with ``metrics`` as JSON text or a dict; or a DataFrame of them) as a version-2 table."""
    if hasattr(rows, "to_dict") and hasattr(rows, "columns"):  # a DataFrame (site downloads)
        cols = {f.name: rows[f.name].tolist() if f.name in rows.columns else [None] * len(rows) for f in RUNS_SCHEMA}
        cols = {k: [None if (isinstance(v, float) and math.isnan(v) and RUNS_SCHEMA.field(k).type != pa.float64())
                    else v for v in vals] for k, vals in cols.items()}
    else:
        cols = {f.name: [r.get(f.name) for r in rows] for f in RUNS_SCHEMA}
    cols["metrics"] = [_metrics_entries(m) for m in cols["metrics"]]
    return pa.Table.from_pydict(cols, schema=RUNS_SCHEMA)


def curves_table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pydict({f.name: [r.get(f.name) for r in rows] for f in CURVES_SCHEMA}, schema=CURVES_SCHEMA)


def metrics_json(column) -> list:
    """The typed metrics column as JSON text per row (what in-process readers parse), keys sorted.

    Built with Arrow's vectorized string kernels (a Python loop over 100,000 rows costs seconds); numbers are
    Arrow's shortest round-trip form (integral values keep a ``.0``), non-finite ones ``NaN``/``Infinity``.
    """
    import pyarrow.compute as pc

    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if len(arr) == 0:
        return []
    keys, items = arr.keys, arr.items
    encoded = keys.dictionary_encode()
    names = pa.array([json.dumps(k) for k in encoded.dictionary.to_pylist()], pa.string())
    key_text = names.take(encoded.indices)
    num = pc.cast(items, pa.string())
    num = pc.if_else(pc.match_substring_regex(num, r"^-?[0-9]+$"), pc.binary_join_element_wise(num, ".0", ""), num)
    num = pc.if_else(pc.is_nan(items), "NaN", num)
    num = pc.if_else(pc.equal(items, math.inf), "Infinity", num)
    num = pc.if_else(pc.equal(items, -math.inf), "-Infinity", num)
    entries = pc.binary_join_element_wise(key_text, num, ": ")
    lists = pa.ListArray.from_arrays(arr.offsets, entries)
    body = pc.binary_join(lists, ", ")
    text = pc.binary_join_element_wise("{", body, "}", "")
    return pc.if_else(arr.is_null(), pa.scalar(None, pa.string()), text).to_pylist()


# ------------------------------------------------------------------ read


def string_array(values) -> pa.Array:
    """``pa.array(values, pa.string())`` for Python strings, built from buffers.

    Converting Python objects makes pyarrow try to import pandas (its pandas shim inspects every
    input): 0.3 s CPU that a fully cached bench, which never builds a DataFrame, would otherwise pay.
    """
    import numpy as np

    encoded = [v.encode() for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    return pa.StringArray.from_buffers(len(encoded), pa.py_buffer(offsets.tobytes()), pa.py_buffer(b"".join(encoded)))


def read_parquet(path: Path) -> pa.Table:
    """A whole file, without pyarrow's dataset layer (whose first use costs a second of imports) or threads
    (3x faster on the small files a store mostly holds)."""
    with pq.ParquetFile(path, pre_buffer=False) as pf:
        return pf.read(use_threads=False)


def list_files(directory: Path, report=None) -> list[Path]:
    if not directory.is_dir():
        return []
    try:
        return sorted(p for p in directory.iterdir() if not p.name.startswith(".") and p.is_file())
    except OSError as exc:
        if report:
            report(f"{directory} cannot be listed ({exc.strerror or exc})")
        return []


def _unreadable(exc: Exception) -> str:
    return f"is corrupt or unreadable ({type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''})"


def _meta_problem(meta, table_name: bytes) -> str | None:
    meta = meta or {}
    if meta.get(META_TABLE) != table_name:
        return f"is not a regsuite {table_name.decode()} file (no regsuite metadata)"
    if meta.get(META_VERSION, b"").decode(errors="replace") not in READABLE_VERSIONS:
        version = meta.get(META_VERSION, b"?").decode(errors="replace")
        return f"has schema version {version}; this regsuite reads versions {', '.join(READABLE_VERSIONS)}"
    return None


def _compatible(have: pa.DataType, want: pa.DataType) -> bool:
    if have == want or pa.types.is_null(have):
        return True
    if pa.types.is_floating(want):
        return pa.types.is_floating(have) or pa.types.is_integer(have)
    if pa.types.is_integer(want):
        return pa.types.is_integer(have)
    if pa.types.is_string(want):
        return pa.types.is_large_string(have)
    return False


def _conform(table: pa.Table, schema: pa.Schema) -> tuple[pa.Table | None, str | None]:
    """``table`` with exactly ``schema``'s columns and types, or why not (never coercing text to numbers)."""
    columns = []
    for f in schema:
        if f.name not in table.column_names:
            return None, f"lacks the column {f.name!r}"
        col = table.column(f.name)
        if not _compatible(col.type, f.type):
            return None, f"has {col.type} values in the column {f.name!r}, which holds {f.type}"
        columns.append(col.cast(f.type) if col.type != f.type else col)
    return pa.Table.from_arrays(columns, schema=schema), None


def _old_metrics(column) -> tuple[pa.Array | None, str | None]:
    """A version-1 JSON metrics column as the typed one."""
    out = []
    for i, text in enumerate(column.to_pylist()):
        try:
            out.append(_metrics_entries(text))
        except (ValueError, TypeError, AttributeError):
            return None, f"has a metrics value that is not a JSON object of numbers (row {i})"
    return pa.array(out, METRICS_TYPE), None


def _json_problem(table: pa.Table) -> str | None:
    import pyarrow.compute as pc

    for name in _JSON_COLUMNS:
        for text in pc.unique(table.column(name)).to_pylist():
            if text is None:
                continue
            try:
                json.loads(text)
            except ValueError:
                return f"has text that is not JSON in the column {name!r}: {text[:40]!r}"
    return None


def read_runs_file(path: Path) -> tuple[pa.Table | None, str | None]:
    """``(table, None)`` for a sound runs file, ``(None, problem)`` otherwise; problem ``"vanished"`` if removed."""
    import pyarrow.compute as pc

    if path.suffix != ".parquet":
        return None, "is not a Parquet file"
    try:
        raw = read_parquet(path)
    except FileNotFoundError:
        return None, "vanished"
    except (pa.ArrowException, OSError, KeyError, ValueError) as exc:
        return None, _unreadable(exc)
    problem = _meta_problem(raw.schema.metadata, b"runs")
    if problem:
        return None, problem
    if "metrics" in raw.column_names and not pa.types.is_map(raw.column("metrics").type):
        typed, problem = _old_metrics(raw.column("metrics"))
        if problem:
            return None, problem
        raw = raw.set_column(raw.column_names.index("metrics"), "metrics", typed)
    table, problem = _conform(raw, RUNS_SCHEMA)
    if problem:
        return None, problem
    ids = table.column("run_id")
    if ids.null_count or (len(ids) and pc.min(pc.utf8_length(ids)).as_py() == 0):
        return None, "has a row without a run_id"
    statuses = set(pc.unique(table.column("status")).to_pylist())
    if not statuses <= set(STATUSES):
        return None, f"has an unknown status {sorted(map(str, statuses - set(STATUSES)))[0]!r}"
    problem = _json_problem(table)
    return (None, problem) if problem else (table, None)


def read_runs_columns(path: Path, columns) -> tuple[pa.Table | None, str | None]:
    """Only ``columns`` of a runs file that was validated whole before and has not changed since (its
    index entry matches its size and mtime), conformed to the schema's types; results only need a third of
    the columns, and the validation's outcome for an unchanged file is already known."""
    try:
        with pq.ParquetFile(path, pre_buffer=False) as pf:
            raw = pf.read(columns=list(columns), use_threads=False)
    except FileNotFoundError:
        return None, "vanished"
    except (pa.ArrowException, OSError, KeyError, ValueError) as exc:
        return None, _unreadable(exc)
    if "metrics" in raw.column_names and not pa.types.is_map(raw.column("metrics").type):
        typed, problem = _old_metrics(raw.column("metrics"))  # a version-1 file
        if problem:
            return None, problem
        raw = raw.set_column(raw.column_names.index("metrics"), "metrics", typed)
    return _conform(raw, pa.schema([RUNS_SCHEMA.field(c) for c in columns]))


def read_curves_file(path: Path) -> tuple[pa.Table | None, str | None]:
    if path.suffix != ".parquet":
        return None, "is not a Parquet file"
    try:
        raw = read_parquet(path)
    except FileNotFoundError:
        return None, "vanished"
    except (pa.ArrowException, OSError, KeyError, ValueError) as exc:
        return None, _unreadable(exc)
    problem = _meta_problem(raw.schema.metadata, b"curves")
    if problem:
        return None, problem
    return _conform(raw, CURVES_SCHEMA)
