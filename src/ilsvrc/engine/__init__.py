"""The training engine as plain functions: `train` (train.py), checkpoints, schedules and the data pipeline."""
