"""One score matrix per (run, task, metric) and everything computed from it: stability, ensembles,
selection, compare, capabilities, dynamics and forecast; pure functions over stored records.
May import importers, evaluation, averaging, store, world, tasks, checkpoints, files, errors.
"""
