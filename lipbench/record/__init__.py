"""The run record: the files of a run directory, the statuses of a run, the typed summary,
what it says about its metrics, and the readers and writers of all of them.

Train, evaluate, report, the API and ``lipbench-sample`` read and write run directories
only through this package. Importing it loads neither torch nor torch-fidelity: the two
parts that need torch are separate modules, :mod:`lipbench.record.checkpoint`
(checkpoint.pt) and :mod:`lipbench.record.provenance` (package versions, git commit).
"""

from lipbench.record.files import (
                                   CHECKPOINT,
                                   COMPACT,
                                   CONFIG,
                                   GRID,
                                   LOCK,
                                   LOG,
                                   METRICS,
                                   PICTURES,
                                   RECORD_FILES,
                                   RUN_MARKERS,
                                   SAMPLES,
                                   SUMMARY,
                                   SURFACE,
                                   TENSORBOARD,
                                   grid_picture,
                                   samples_picture,
)
from lipbench.record.io import (
                                   append_jsonl,
                                   atomic_write,
                                   jsonable,
                                   now,
                                   read_json,
                                   read_jsonl,
                                   write_json,
                                   write_jsonl,
                                   write_text,
)
from lipbench.record.legacy import LEGACY_METRIC_INFO, metric_info_of
from lipbench.record.metric_info import HIGHER, LOWER, METRIC_INFO, MetricInfo, lookup, merge, recorded, to_record
from lipbench.record.summary import (
                                   COMPLETED,
                                   DIVERGED,
                                   DONE,
                                   FAILED,
                                   FINISHED,
                                   RUNNING,
                                   STATUSES,
                                   RecordError,
                                   Summary,
                                   read_summary,
                                   read_summary_dict,
                                   read_summary_field,
)

__all__ = [
    "CHECKPOINT", "COMPACT", "CONFIG", "GRID", "LOCK", "LOG", "METRICS", "PICTURES", "RECORD_FILES", "RUN_MARKERS",
    "SAMPLES", "SUMMARY", "SURFACE", "TENSORBOARD", "grid_picture", "samples_picture",
    "append_jsonl", "atomic_write", "jsonable", "now", "read_json", "read_jsonl", "write_json", "write_jsonl",
    "write_text",
    "HIGHER", "LOWER", "METRIC_INFO", "MetricInfo", "lookup", "merge", "recorded", "to_record",
    "LEGACY_METRIC_INFO", "metric_info_of",
    "COMPLETED", "DIVERGED", "DONE", "FAILED", "FINISHED", "RUNNING", "STATUSES", "RecordError", "Summary",
    "read_summary", "read_summary_dict", "read_summary_field",
]
