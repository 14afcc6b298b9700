"""For development, not library code: the demo (`ddbvault demo`), the local servers that the
demo, tests and benchmarks start on free loopback ports (moto_server, dynalite), and sample data.
"""
