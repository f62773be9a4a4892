"""Theory and theme tags: the codebook, its rules, the classifier, batch reports."""
