"""What a run tells afterwards: the report (JSON, HTML, unmatched.csv), its links, grouped
warnings, where it may be written.
"""
