"""Inside the isolation: execute one notebook with papermill and write the outcome to `result.json`.

Started by runner.py as `python -m pinsandbox.runs.execute RUN_DIR`; reads RUN_DIR/params.yaml and
RUN_DIR/input.ipynb, writes RUN_DIR/notebook.ipynb (the executed copy) and RUN_DIR/result.json.
"""

import json
import sys
from pathlib import Path

import nbformat
import papermill
import yaml


def failed_cell(executed: Path) -> dict:
    """Where it failed, numbered as in the user's notebook (1-based, the injected-parameters cell not counted)."""
    nb = nbformat.read(executed, as_version=4)
    added = {"injected-parameters", "papermill-error-cell-tag"}  # cells papermill put there
    cells = [c for c in nb.cells if not added & set(c.metadata.get("tags", []))]
    for number, cell in enumerate(cells, start=1):
        if cell.metadata.get("papermill", {}).get("exception"):
            first_line = next((line for line in cell.source.splitlines() if line.strip()), "")
            return {"cell": number, "source": first_line[:120]}
    return {"cell": None}


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
        result = {"state": "failed", **failed_cell(run / "notebook.ipynb"), "error": f"{e.ename}: {e.evalue}".strip()}
    except Exception as e:  # the kernel died, the notebook is unreadable, …
        result = {"state": "failed", "cell": None, "error": f"{type(e).__name__}: {e}"}
    (run / "result.json").write_text(json.dumps(result))
    return 0 if result["state"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
