"""Stand-ins for the outside world (payment provider, carrier, supplier/bank), run as real HTTP
services on loopback with fault injection. They arrive with the processes that need them."""
