"""The deployer: specs (desired state as data) -> plan (reads only) -> apply (writes)."""
