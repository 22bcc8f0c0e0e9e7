"""The names of the files a run folder (and a sweep folder) holds, in one place."""

RUN_JSON = "run.json"  # how the run started and ended (`rnncli.schemas` "run")
CONFIG_YAML = "config.yaml"  # the resolved config
OVERRIDES_YAML = "overrides.yaml"  # what the user typed
METRICS_JSONL = "metrics.jsonl"  # one line per evaluation
TASK_JSON = "task.json"  # a train run's task: sizes, vocabulary, data file
CHECKPOINT = "checkpoint.npz"  # a train run's last state, to resume from
BEST = "best.npz"  # the parameters of the best evaluation
SAMPLES_TXT = "samples.txt"  # what a finished generative run sampled
LOSS_PNG = "loss.png"
ARRAYS_NPZ = "arrays.npz"  # forward / backward: every array
GRADCHECK_JSON = "gradcheck.json"
CHECK_JSON = "check.json"
COMPARE_JSON = "compare.json"
COMPARE_PNG = "compare.png"
REPORT_HTML = "report.html"
INSPECT_JSON = "inspect.json"
SWEEP_JSON = "sweep.json"  # a sweep folder's record
SUMMARY_CSV = "summary.csv"  # a sweep's summary over seeds
LOCK_FILE = ".lock"  # held by the process writing into the folder
LATEST = "latest"  # <root>/latest names the newest run
