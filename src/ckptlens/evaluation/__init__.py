"""How an evaluation runs: ``EvalRequest`` -> ``Plan`` -> ``units.run_unit`` on an executor (local, Ray, watch).
Owns the request, the plan, the scoring and generation engine, the executors and the runs' provenance.
May import averaging, store, world, tasks, checkpoints, files, errors (not importers, beside it).
"""
