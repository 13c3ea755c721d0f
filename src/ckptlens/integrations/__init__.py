"""Evaluate ckptlens tasks from inside a training loop (Hugging Face Trainer, PyTorch Lightning).
Owns the callbacks and the loop-agnostic ``training`` part; each callback imports only its framework.
May import report and everything below it (not pretrain, beside it).
"""
