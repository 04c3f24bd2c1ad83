"""The payment product: knob table, constructs, the stage stack and the Service Catalog product."""
