"""AWS I/O: sessions and assumed roles, the retry policy, and the error translation boundary."""
