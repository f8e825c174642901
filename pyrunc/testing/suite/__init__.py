"""The packaged conformance suite: one case per spec requirement (see pyrunc/testing/requirement.py)."""
