"""Batch generation and sweeps: plans expanded to jobs, run resumably (optionally across processes with
accelerate), QC-gated, mastered, tagged and listed in one manifest. See docs/batch.md.

    plan = load_plan("sweep.yaml")            # raises PlanError listing every bad row, before anything runs
    result = run_batch(plan, "out/sweep")     # resumable: a re-run skips what the manifest lists as finished
"""

from workbench.batch.manifest import batch_status, read_records, write_manifest
from workbench.batch.plan import Job, Plan, PlanError, PlanProblem, load_plan
from workbench.batch.run import BatchResult, run_batch

__all__ = [
    "BatchResult",
    "Job",
    "Plan",
    "PlanError",
    "PlanProblem",
    "batch_status",
    "load_plan",
    "read_records",
    "run_batch",
    "write_manifest",
]
