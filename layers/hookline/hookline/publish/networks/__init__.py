"""Corporate networks behind one publishing port (port.py); one adapter module per network."""
