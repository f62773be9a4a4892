"""Analysis views over an index: concordance (KWIC), frequencies, keyness,
collocations and the other views a researcher reads beside the hits.

Views read the index through the query layer (the same term resolution and
stored word forms search uses) and return plain dataclasses with ``to_dict()``.
"""
