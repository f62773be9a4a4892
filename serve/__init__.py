"""A local web view over the Python API (`plansok serve`)."""
