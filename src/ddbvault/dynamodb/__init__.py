"""TODO dynamodb"""
