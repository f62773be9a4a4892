"""The researcher's workflow: collections with codes and memos, and exports
(REFI-QDA .qdpx, CSV, XLSX, BibTeX, RIS)."""
