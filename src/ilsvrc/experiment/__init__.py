"""`ilsvrc experiment`: the paper's claims run for real (see command.py; the catalogue is catalogue.py)."""
