"""Training: the run record, checkpoints, optimizers and the training loop."""
