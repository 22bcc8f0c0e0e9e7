"""Run folders: a small local experiment store.

`files` writes files that survive crashes (atomic replacement, appends that never tear,
strict JSON); `folder` makes, locks and closes run folders (`Run`); `store` finds runs
(``latest``, unique prefixes), lists them and cleans them up; `compare` sets runs side by
side.
"""

from rnncli.runs.environment import environment_info, git_info
from rnncli.runs.files import (
    WriteError,
    append_jsonl,
    jsonable,
    read_json,
    read_jsonl,
    save_npz_atomic,
    to_json,
    write_bytes_atomic,
    write_file_atomic,
    write_json_atomic,
    write_text_atomic,
)
from rnncli.runs.folder import (
    Lock,
    Run,
    Sink,
    check_out,
    is_locked,
    new_run_dir,
    now_iso,
    point_latest,
    read_latest,
)

__all__ = [
    "Lock",
    "Run",
    "Sink",
    "WriteError",
    "append_jsonl",
    "check_out",
    "environment_info",
    "git_info",
    "is_locked",
    "jsonable",
    "new_run_dir",
    "now_iso",
    "point_latest",
    "read_json",
    "read_jsonl",
    "read_latest",
    "save_npz_atomic",
    "to_json",
    "write_bytes_atomic",
    "write_file_atomic",
    "write_json_atomic",
    "write_text_atomic",
]

from rnncli.callable import api_function, make_callable  # noqa: E402

make_callable(__name__, api_function("runs"))  # rnncli.runs(...) is rnncli.api.runs(...)
