"""Composition roots: build_worker per task queue, the `houtai` CLI, the embedded stack."""
