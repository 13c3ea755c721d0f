"""Stability metrics, ensembles from stored records, and the stability table."""
