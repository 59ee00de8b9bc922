"""The gRPC layer: servicers that translate wire messages to the core and back."""
