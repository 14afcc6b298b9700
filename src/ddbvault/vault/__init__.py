"""TODO vault"""
