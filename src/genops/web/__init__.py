"""Web framework middleware: attribute every request (baggage, customer header, config defaults)."""
