"""TODO devtools"""
