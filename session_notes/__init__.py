"""The session record: shared notes, feedback instruments, marks, progress (DESIGN.md §1).

Not built yet.
"""
