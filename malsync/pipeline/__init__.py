"""The pure pipeline: typed records, the field mapper (record -> request body), the planner
(decisions) and the uploader (the sending policy).
"""
