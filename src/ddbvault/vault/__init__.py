"""Reading the vault: opening a backup by URL and streaming its data lines with their checksums
proven (reader), DynamoDB's native exports read as backups (native_export), and listing the
backups under a destination (listing). Nothing here writes.
"""
