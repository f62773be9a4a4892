"""Norwegian analysis shared by documents and queries (see README, "Analysis")."""

# Bump when the terms produced for the same text change: documents ingested
# with another version are analysed again on the next ingest.
ANALYSIS_VERSION = "9"  # 8: Apertium nn/nb lexicon; 9: the most used bokmål translation
