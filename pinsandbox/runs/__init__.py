"""Runs: notebooks executed with papermill under the sandbox's isolation, each leaving a run record."""
