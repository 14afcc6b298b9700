"""The on-storage contract, backup format version 1 (docs/format.md): where objects live
(layout), the manifest and its version gate (manifest), data lines and compression (codec), what
a data line must be (dataline), and the schema saved from DescribeTable (schema). Beside it, the
change log format 1.0 (change_log/: a stream's records in the vault) and change records (changes).

Pure: bytes and dicts in, bytes and dicts out. No I/O, no boto3 (tests/unit/test_import_graph.py).
"""
