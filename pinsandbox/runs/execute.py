"""Inside the isolation: execute one notebook with papermill and write the outcome to `result.json`.

Started by runner.py as `python -m pinsandbox.runs.execute RUN_DIR`; reads RUN_DIR/params.yaml and
RUN_DIR/input.ipynb, writes RUN_DIR/notebook.ipynb (the executed copy) and RUN_DIR/result.json.
"""

import json
import sys
from pathlib import Path

import papermill
import yaml


def main(run_dir: str) -> int:
    run = Path(run_dir)
    params = yaml.safe_load((run / "params.yaml").read_text()) or {}
    result = {"state": "ok"}
    try:
        papermill.execute_notebook(
            str(run / "input.ipynb"),
            str(run / "notebook.ipynb"),
            parameters=params,
            kernel_name="python3",  # the kernel of this very interpreter: same environment as the runner
            progress_bar=False,
            log_output=True,
            cwd=str(run),
        )
    except papermill.PapermillExecutionError as e:
        result = {"state": "failed", "cell": e.exec_count, "error": f"{e.ename}: {e.evalue}".strip()}
    except Exception as e:  # the kernel died, the notebook is unreadable, …
        result = {"state": "failed", "cell": None, "error": f"{type(e).__name__}: {e}"}
    (run / "result.json").write_text(json.dumps(result))
    return 0 if result["state"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
