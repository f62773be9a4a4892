"""Evaluation: page-level relevance judgments, metrics, reference systems and the runner."""
