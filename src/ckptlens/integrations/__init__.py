"""Evaluate ckptlens tasks from inside a training loop (Hugging Face Trainer, PyTorch Lightning).

``training`` holds the loop-agnostic part; ``hf_trainer`` and ``lightning`` are
thin callbacks over it. Import the callback you need from its module: each
imports only its own framework.
"""
