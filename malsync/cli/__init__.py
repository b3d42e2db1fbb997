"""The command line: the grammar, the terminal, the progress bar, and main (parse, load settings,
call a command, turn failures into exit codes).
"""
