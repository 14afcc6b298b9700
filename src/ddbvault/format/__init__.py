"""TODO format"""
