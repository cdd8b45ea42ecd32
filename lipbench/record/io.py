"""Reading and writing the record's files: atomic replacement, JSON that stays valid with
non-finite floats, and metrics.jsonl rows.

Every file that is replaced is written atomically (a temporary file in the same
directory, fsync, then ``os.replace``), so that a crash or a full disk never leaves a
half-written summary or checkpoint behind: the previous version stays intact. Nothing
here imports torch; tensors are recognised by their ``tolist``/``detach`` methods.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional


def now() -> str:
    """The current UTC time, ISO 8601 to the second (``started_at``, ``finished_at``)."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def atomic_write(path: Path, write: Callable[[Any], None], mode: str = "w") -> None:
    """Write ``path`` through ``write(fileobj)`` into a temp file, then rename it over ``path``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _is_tensor(value) -> bool:
    return hasattr(value, "detach") and hasattr(value, "tolist")


def jsonable(value):
    """Floats that are not finite become strings ("nan", "inf") so the JSON stays valid;
    tensors and numpy scalars become Python numbers (lists)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if _is_tensor(value):
        return jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            return jsonable(value.item())
        except (ValueError, TypeError):
            pass
    return value


def write_json(path: Path, data: Dict) -> None:
    atomic_write(path, lambda f: json.dump(jsonable(data), f, indent=2, sort_keys=False))


def read_json(path: Path) -> Dict:
    with open(path) as f:
        return json.load(f)


def write_text(path: Path, text: str) -> None:
    """Replace ``path`` by ``text`` atomically (config.yaml)."""
    atomic_write(path, lambda f: f.write(text))


def append_jsonl(path: Path, row: Dict) -> None:
    """Append one evaluation to metrics.jsonl (flushed; a crash can tear only this line)."""
    with open(path, "a") as f:
        f.write(json.dumps(jsonable(row)) + "\n")
        f.flush()


def write_jsonl(path: Path, rows: Iterable[Dict]) -> None:
    """Replace metrics.jsonl by ``rows`` atomically (a resumed run drops the rows after its checkpoint)."""
    atomic_write(path, lambda f: f.writelines(json.dumps(jsonable(r)) + "\n" for r in rows))


def read_jsonl(path: Path, max_step: Optional[int] = None) -> List[Dict]:
    """The rows of a metrics.jsonl, oldest first, up to ``max_step`` when given.

    A line that is not a JSON object with a ``step`` (a torn last line of a killed run, bytes
    that are not text) is skipped; a missing file has no rows. Other ``OSError`` s propagate:
    a resumed run must not rewrite its history from a file it could not read."""
    rows = []
    if not Path(path).exists():
        return rows
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict) and "step" in row and (max_step is None or row["step"] <= max_step):
                rows.append(row)
    return rows
