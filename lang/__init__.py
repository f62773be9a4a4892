"""Language data, apart from the algorithms that use it (spaCy's ``lang/`` style).

``lang/no/`` holds Norwegian data for both written standards, one file per
concern, each with its provenance in its header.
"""
