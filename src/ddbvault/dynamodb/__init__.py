"""DynamoDB I/O for one table: the client wrapper that names the table in every error
(table_client), metered Scan pages (scan), BatchWriteItem and table calls (sink), request
cutting within BatchWriteItem's limits (write_batch), CreateTable from a saved schema
(table_create), the settings CreateTable cannot set (table_settings), and the raw-JSON hooks
that keep item values out of botocore's per-attribute parsing (raw_json).
"""
